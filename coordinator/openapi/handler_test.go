package openapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	"k8s.io/kube-openapi/pkg/handler3"
)

// do sends one request straight to h.
func do(h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandler_responses(t *testing.T) {
	h, err := New(testRegistry(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	appsURL := h.v3["apis/apps/v1"]
	tests := []struct {
		name, method, target string
		header               map[string]string
		code                 int
		contentType          string
		// check, when set, inspects the body.
		check func(t *testing.T, body []byte)
	}{
		{name: "v2 json by default", method: "GET", target: "/openapi/v2", code: 200, contentType: mimeJSON,
			check: func(t *testing.T, b []byte) {
				var doc map[string]any
				if err := json.Unmarshal(b, &doc); err != nil || doc["swagger"] != "2.0" {
					t.Errorf("body is not a swagger 2.0 document: %v", err)
				}
			}},
		{name: "v2 protobuf", method: "GET", target: "/openapi/v2", header: map[string]string{"Accept": mimeV2Proto},
			code: 200, contentType: mimeV2Proto, check: checkV2Proto},
		{name: "v2 protobuf, older spelling", method: "GET", target: "/openapi/v2",
			header: map[string]string{"Accept": mimeV2ProtoAt + ", application/json;q=0.5"}, code: 200, contentType: mimeV2Proto, check: checkV2Proto},
		{name: "v2 json preferred by q", method: "GET", target: "/openapi/v2",
			header: map[string]string{"Accept": mimeV2Proto + ";q=0.1, application/json"}, code: 200, contentType: mimeJSON},
		{name: "v2 unacceptable", method: "GET", target: "/openapi/v2", header: map[string]string{"Accept": "text/html"}, code: 406, contentType: mimeJSON},
		{name: "v2 not modified", method: "GET", target: "/openapi/v2",
			header: map[string]string{"If-None-Match": h.v2[mimeJSON].etag}, code: 304},
		{name: "v2 protobuf etag differs from json", method: "GET", target: "/openapi/v2",
			header: map[string]string{"Accept": mimeV2Proto, "If-None-Match": h.v2[mimeJSON].etag}, code: 200, contentType: mimeV2Proto},
		{name: "v2 head", method: "HEAD", target: "/openapi/v2", code: 200, contentType: mimeJSON,
			check: func(t *testing.T, b []byte) {
				if len(b) != 0 {
					t.Errorf("HEAD answered %d body bytes", len(b))
				}
			}},
		{name: "v3 index", method: "GET", target: "/openapi/v3", code: 200, contentType: mimeJSON,
			check: func(t *testing.T, b []byte) {
				var idx handler3.OpenAPIV3Discovery
				if err := json.Unmarshal(b, &idx); err != nil {
					t.Fatalf("index: %v", err)
				}
				if got := idx.Paths["apis/apps/v1"].ServerRelativeURL; got != "/openapi/v3/apis/apps/v1?hash="+appsURL.hash {
					t.Errorf("apps/v1 URL = %q", got)
				}
				if len(idx.Paths) != 2 || idx.Paths["api/v1"].ServerRelativeURL == "" {
					t.Errorf("index paths = %v, want api/v1 and apis/apps/v1", idx.Paths)
				}
			}},
		{name: "v3 group version with current hash", method: "GET", target: "/openapi/v3/apis/apps/v1?hash=" + appsURL.hash,
			code: 200, contentType: mimeJSON, check: func(t *testing.T, b []byte) {
				if !bytes.Equal(b, appsURL.forms[mimeJSON].body) {
					t.Errorf("body is not the apps/v1 document")
				}
			}},
		{name: "v3 group version with old hash", method: "GET", target: "/openapi/v3/apis/apps/v1?hash=OLD", code: 301},
		{name: "v3 protobuf", method: "GET", target: "/openapi/v3/api/v1", header: map[string]string{"Accept": mimeV3ProtoAt},
			code: 200, contentType: mimeV3Proto, check: func(t *testing.T, b []byte) {
				var doc openapi_v3.Document
				if err := proto.Unmarshal(b, &doc); err != nil || !strings.HasPrefix(doc.GetOpenapi(), "3.") {
					t.Errorf("body is not an OpenAPI 3 protobuf document: %v", err)
				}
			}},
		{name: "v3 not modified", method: "GET", target: "/openapi/v3/apis/apps/v1",
			header: map[string]string{"If-None-Match": `W/"x", ` + appsURL.forms[mimeJSON].etag}, code: 304},
		{name: "v3 unserved group version", method: "GET", target: "/openapi/v3/apis/batch/v1", code: 404, contentType: mimeJSON},
		{name: "v3 partial path", method: "GET", target: "/openapi/v3/apis/apps", code: 404, contentType: mimeJSON},
		{name: "unknown version", method: "GET", target: "/openapi/v1", code: 404, contentType: mimeJSON},
		{name: "below v2", method: "GET", target: "/openapi/v2/extra", code: 404, contentType: mimeJSON},
		{name: "write", method: "POST", target: "/openapi/v2", code: 405, contentType: mimeJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.method, tt.target, tt.header)
			if w.Code != tt.code {
				t.Fatalf("%s %s = %d, want %d: %s", tt.method, tt.target, w.Code, tt.code, w.Body)
			}
			if got := w.Header().Get("Content-Type"); tt.contentType != "" && got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if tt.code == 200 && w.Header().Get("ETag") == "" {
				t.Errorf("no ETag")
			}
			if tt.check != nil {
				tt.check(t, w.Body.Bytes())
			}
		})
	}
}

func checkV2Proto(t *testing.T, b []byte) {
	t.Helper()
	var doc openapi_v2.Document
	if err := proto.Unmarshal(b, &doc); err != nil || doc.GetSwagger() != "2.0" {
		t.Errorf("body is not a swagger 2.0 protobuf document: %v", err)
	}
	if len(doc.GetDefinitions().GetAdditionalProperties()) == 0 {
		t.Errorf("protobuf document has no definitions")
	}
}

func TestHandler_redirectsToCurrentHash(t *testing.T) {
	h, err := New(testRegistry(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	w := do(h, "GET", "/openapi/v3/api/v1?hash=STALE", nil)
	want := "/openapi/v3/api/v1?hash=" + h.v3["api/v1"].hash
	if got := w.Header().Get("Location"); w.Code != 301 || got != want {
		t.Fatalf("redirect = %d %q, want 301 %q", w.Code, got, want)
	}
	if w := do(h, "GET", want, nil); w.Code != 200 || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Fatalf("GET %s = %d, Cache-Control %q, want 200 immutable", want, w.Code, w.Header().Get("Cache-Control"))
	}
}

func TestNew_deterministic(t *testing.T) {
	a, err := New(testRegistry(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b, err := New(testRegistry(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if a.v2[mimeJSON].etag != b.v2[mimeJSON].etag || a.v2[mimeV2Proto].etag != b.v2[mimeV2Proto].etag {
		t.Errorf("v2 documents of the same kinds differ")
	}
	for key, doc := range a.v3 {
		if b.v3[key].hash != doc.hash {
			t.Errorf("v3 %s documents of the same kinds differ", key)
		}
	}
}

func FuzzHandler_request(f *testing.F) {
	h, err := New(testRegistry(f))
	if err != nil {
		f.Fatalf("New: %v", err)
	}
	f.Add("/openapi/v2", "application/json", "")
	f.Add("/openapi/v3/api/v1?hash=1", mimeV3ProtoAt, `"x"`)
	f.Add("/openapi/v3/apis/apps/v1", "*/*;q=0.3, text/*", "*")
	f.Add("/openapi/v3/../v2", "application/*;q=abc", "W/")
	f.Fuzz(func(t *testing.T, target, accept, ifNoneMatch string) {
		r, err := http.NewRequest("GET", "http://h"+target, nil)
		if err != nil || !strings.HasPrefix(r.URL.Path, "/openapi") {
			return
		}
		r.Header.Set("Accept", accept)
		r.Header.Set("If-None-Match", ifNoneMatch)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200, 301, 304, 404, 406:
		default:
			t.Fatalf("GET %q = %d", target, w.Code)
		}
	})
}
