package openapi

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kube-openapi/pkg/handler3"

	"github.com/keel-edge/keel/coordinator/kinds"
)

// Media types of the documents. Each protobuf form has an older spelling
// with "@" that clients still ask for; the answer is always labelled with
// the newer one, which (unlike "@") parses as a media type.
const (
	mimeJSON      = "application/json"
	mimeV2Proto   = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mimeV2ProtoAt = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mimeV3Proto   = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
	mimeV3ProtoAt = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
)

// Paths the handler answers.
const (
	pathV2 = "/openapi/v2"
	pathV3 = "/openapi/v3"
)

var _ http.Handler = (*Handler)(nil)

// Handler answers /openapi/v2, /openapi/v3 and /openapi/v3/<group version>
// from documents built once by New. It does not authenticate.
type Handler struct {
	v2      representations
	v3Index representation
	// v3 is keyed by the group version's path: "api/v1", "apis/apps/v1".
	v3 map[string]groupVersionDoc
}

// representation is one encoded document with its validator.
type representation struct {
	body []byte
	etag string
}

// representations are a document's encodings by the media type answered.
type representations map[string]representation

// groupVersionDoc is a group version's v3 document and the hash that names
// its current content in the index.
type groupVersionDoc struct {
	forms representations
	hash  string
}

// New builds the OpenAPI documents of every kind in reg and the handler
// that serves them.
func New(reg *kinds.Registry) (*Handler, error) {
	docs, err := buildDocuments(reg)
	if err != nil {
		return nil, fmt.Errorf("build openapi documents: %w", err)
	}
	v2JSON, err := json.Marshal(docs.v2)
	if err != nil {
		return nil, fmt.Errorf("encode openapi v2: %w", err)
	}
	v2Doc, err := openapi_v2.ParseDocument(v2JSON)
	if err != nil {
		return nil, fmt.Errorf("parse openapi v2: %w", err)
	}
	v2Proto, err := proto.MarshalOptions{Deterministic: true}.Marshal(v2Doc)
	if err != nil {
		return nil, fmt.Errorf("encode openapi v2 protobuf: %w", err)
	}
	h := &Handler{
		v2: representations{
			mimeJSON:    newRepresentation(v2JSON),
			mimeV2Proto: newRepresentation(v2Proto),
		},
		v3: map[string]groupVersionDoc{},
	}
	index := handler3.OpenAPIV3Discovery{Paths: map[string]handler3.OpenAPIV3DiscoveryGroupVersion{}}
	for _, gv := range docs.gvs {
		key := apiPath(gv)
		j, err := json.Marshal(docs.v3[gv])
		if err != nil {
			return nil, fmt.Errorf("encode openapi v3 %s: %w", key, err)
		}
		d, err := openapi_v3.ParseDocument(j)
		if err != nil {
			return nil, fmt.Errorf("parse openapi v3 %s: %w", key, err)
		}
		pb, err := proto.MarshalOptions{Deterministic: true}.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("encode openapi v3 %s protobuf: %w", key, err)
		}
		doc := groupVersionDoc{hash: hash(j), forms: representations{
			mimeJSON:    newRepresentation(j),
			mimeV3Proto: newRepresentation(pb),
		}}
		h.v3[key] = doc
		index.Paths[key] = handler3.OpenAPIV3DiscoveryGroupVersion{
			ServerRelativeURL: pathV3 + "/" + key + "?hash=" + doc.hash,
		}
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return nil, fmt.Errorf("encode openapi v3 index: %w", err)
	}
	h.v3Index = newRepresentation(indexJSON)
	return h, nil
}

func newRepresentation(body []byte) representation {
	return representation{body: body, etag: strconv.Quote(hash(body))}
}

// hash names content: the upper-case hex SHA-512, as Kubernetes writes it.
func hash(b []byte) string {
	sum := sha512.Sum512(b)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// ServeHTTP answers GET and HEAD for the OpenAPI documents; every other
// path under /openapi is not found.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", fmt.Sprintf("%s is not supported on %s", r.Method, r.URL.Path))
		return
	}
	p := r.URL.Path
	switch {
	case p == pathV2:
		h.serveNegotiated(w, r, h.v2, []string{mimeJSON, mimeV2Proto, mimeV2ProtoAt})
	case p == pathV3 || p == pathV3+"/":
		w.Header().Set("Cache-Control", "no-cache, private")
		serve(w, r, mimeJSON, h.v3Index)
	case strings.HasPrefix(p, pathV3+"/"):
		doc, ok := h.v3[strings.TrimPrefix(p, pathV3+"/")]
		if !ok {
			writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("no OpenAPI v3 document at %s", p))
			return
		}
		if want := r.URL.Query().Get("hash"); want != "" {
			if want != doc.hash {
				// The caller holds an old index: send it to the current content.
				u := url.URL{Path: p, RawQuery: url.Values{"hash": {doc.hash}}.Encode()}
				w.Header().Set("Cache-Control", "no-cache, private")
				http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
				return
			}
			// The URL names this content, which therefore never changes.
			w.Header().Set("Cache-Control", "public, immutable, max-age=31536000")
		} else {
			w.Header().Set("Cache-Control", "no-cache, private")
		}
		h.serveNegotiated(w, r, doc.forms, []string{mimeJSON, mimeV3Proto, mimeV3ProtoAt})
	default:
		writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("no OpenAPI document at %s", p))
	}
}

// serveNegotiated answers with the representation the Accept header
// prefers among offers, or 406.
func (h *Handler) serveNegotiated(w http.ResponseWriter, r *http.Request, forms representations, offers []string) {
	w.Header().Add("Vary", "Accept")
	mt, ok := negotiate(r.Header.Get("Accept"), offers)
	if !ok {
		writeStatus(w, http.StatusNotAcceptable, "NotAcceptable",
			fmt.Sprintf("only %s can be served at %s", strings.Join(offers, ", "), r.URL.Path))
		return
	}
	if canonical, ok := canonicalType[mt]; ok {
		mt = canonical
	}
	serve(w, r, mt, forms[mt])
}

// canonicalType maps the older protobuf media types to the ones answered.
var canonicalType = map[string]string{mimeV2ProtoAt: mimeV2Proto, mimeV3ProtoAt: mimeV3Proto}

// serve writes rep, or 304 when the caller's copy is current.
func serve(w http.ResponseWriter, r *http.Request, contentType string, rep representation) {
	w.Header().Set("ETag", rep.etag)
	if etagMatches(r.Header.Get("If-None-Match"), rep.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(rep.body) // A write error means the client went away.
	}
}

// etagMatches reports whether an If-None-Match header names etag (weakly
// compared, as RFC 9110 asks for If-None-Match).
func etagMatches(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}

// writeStatus answers with a Kubernetes Status object.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	body, err := json.Marshal(&metav1.Status{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: reason, Message: message,
	})
	if err != nil {
		http.Error(w, message, code)
		return
	}
	w.Header().Set("Content-Type", mimeJSON)
	w.WriteHeader(code)
	_, _ = w.Write(body) // A write error means the client went away.
}
