package apiserver

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/proxy"
)

// NodeConnection is how the API server reaches a node's API: its base URL
// and a transport that authenticates the API server to it.
type NodeConnection struct {
	URL       *url.URL
	Transport *http.Transport
}

// podStreamSubresources are the pod subresources served by the pod's node.
var podStreamSubresources = map[string]bool{"log": true, "exec": true, "attach": true, "portforward": true}

// servePodStream proxies pods/NAME/{log,exec,attach,portforward} to the
// node the pod runs on, the way the Kubernetes API server proxies to the
// kubelet: logs as a plain stream, the rest as SPDY or WebSocket upgrades.
func (s *Server) servePodStream(w http.ResponseWriter, r *http.Request, rq *req) error {
	if s.cfg.NodeConnection == nil {
		return statusError(http.StatusServiceUnavailable, "ServiceUnavailable", "this API server does not reach node APIs")
	}
	obj, _, err := s.read(rq.kind, rq.Namespace, rq.Name)
	if err != nil {
		return err
	}
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" {
		return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	q := r.URL.Query()
	container := q.Get("container")
	if rq.Subresource != "portforward" {
		if container, err = pickContainer(pod, container, rq.Subresource); err != nil {
			return err
		}
	}
	conn, err := s.cfg.NodeConnection(pod.Spec.NodeName)
	if err != nil {
		return statusError(http.StatusServiceUnavailable, "ServiceUnavailable", fmt.Sprintf("node %s: %v", pod.Spec.NodeName, err))
	}
	loc := *conn.URL
	ns, name := url.PathEscape(pod.Namespace), url.PathEscape(pod.Name)
	switch rq.Subresource {
	case "log":
		loc.Path = fmt.Sprintf("/containerLogs/%s/%s/%s", ns, name, url.PathEscape(container))
		loc.RawQuery = logQuery(q).Encode()
		return s.proxyLogs(w, r, conn, &loc)
	case "exec", "attach":
		loc.Path = fmt.Sprintf("/%s/%s/%s/%s", rq.Subresource, ns, name, url.PathEscape(container))
		loc.RawQuery = streamQuery(q).Encode()
	case "portforward":
		loc.Path = fmt.Sprintf("/portForward/%s/%s", ns, name)
		loc.RawQuery = url.Values{"port": q["ports"]}.Encode()
	}
	h := proxy.NewUpgradeAwareHandler(&loc, conn.Transport, false, true, proxyResponder{s})
	h.ServeHTTP(w, r)
	return nil
}

// pickContainer resolves the container a log, exec or attach is for:
// the one named, or the pod's only container.
func pickContainer(pod *corev1.Pod, name, sub string) (string, error) {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	if name == "" {
		if len(pod.Spec.Containers) == 1 {
			return pod.Spec.Containers[0].Name, nil
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, pod.Spec.Containers))
	}
	for _, n := range names {
		if n == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

// logQuery passes the PodLogOptions the node understands.
func logQuery(q url.Values) url.Values {
	out := url.Values{}
	for _, k := range []string{"follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes"} {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}

// streamQuery turns PodExecOptions (stdin=true ...) into the node's
// parameters (input=1 ...), as the kubelet expects them.
func streamQuery(q url.Values) url.Values {
	out := url.Values{"command": q["command"]}
	for from, to := range map[string]string{
		"stdin": corev1.ExecStdinParam, "stdout": corev1.ExecStdoutParam,
		"stderr": corev1.ExecStderrParam, "tty": corev1.ExecTTYParam,
	} {
		if isTrue(q.Get(from)) {
			out.Set(to, "1")
		}
	}
	return out
}

func (s *Server) proxyLogs(w http.ResponseWriter, r *http.Request, conn NodeConnection, loc *url.URL) error {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, loc.String(), nil)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	resp, err := (&http.Client{Transport: conn.Transport}).Do(req)
	if err != nil {
		return statusError(http.StatusServiceUnavailable, "ServiceUnavailable", fmt.Sprintf("reach node: %v", err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return statusError(int32(resp.StatusCode), "", strings.TrimSpace(string(msg)))
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			return nil
		}
	}
}

type proxyResponder struct{ s *Server }

func (p proxyResponder) Error(w http.ResponseWriter, r *http.Request, err error) {
	p.s.writeError(w, r, statusError(http.StatusServiceUnavailable, "ServiceUnavailable", fmt.Sprintf("reach node: %v", err)))
}
