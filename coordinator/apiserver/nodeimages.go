package apiserver

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/keel-edge/keel/coordinator/keelapi"
)

// serveNodeImages proxies /keel/v1/nodes/NODE/images (list, import,
// remove) to that node's API, so images can be managed on any node
// through the API.
func (s *Server) serveNodeImages(w http.ResponseWriter, r *http.Request) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, keelapi.NodesPath)
	if !ok {
		return false
	}
	node, sub, _ := strings.Cut(rest, "/")
	if node == "" || sub != "images" {
		return false
	}
	if s.cfg.NodeConnection == nil {
		s.writeError(w, r, statusError(http.StatusServiceUnavailable, "ServiceUnavailable", "this API server does not reach node APIs"))
		return true
	}
	conn, err := s.cfg.NodeConnection(node)
	if err != nil {
		s.writeError(w, r, statusError(http.StatusNotFound, "NotFound", fmt.Sprintf("node %s: %v", node, err)))
		return true
	}
	target := *conn.URL
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
			pr.Out.URL.Path = "/images"
			pr.Out.URL.RawQuery = r.URL.RawQuery
			pr.Out.Header.Del("Authorization")
		},
		Transport: conn.Transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, statusError(http.StatusServiceUnavailable, "ServiceUnavailable", fmt.Sprintf("reach node %s: %v", node, err)))
		},
	}
	p.ServeHTTP(w, r)
	return true
}
