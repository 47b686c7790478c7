package apiserver_test

import (
	"net/http"
	"testing"
)

// FuzzRequestBody sends arbitrary bodies to create, update and patch
// endpoints: the server answers with a client error or success, never a
// server error, and never loses what was stored.
func FuzzRequestBody(f *testing.F) {
	seeds := []string{
		`{"metadata":{"name":"a"},"data":{"k":"v"}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":70000}]}]}}`,
		`{"metadata":{"name":"s"},"spec":{"ports":[{"port":80}],"clusterIP":"10.96.0.9"}}`,
		`{"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
		`[{"op":"add","path":"/metadata/labels","value":{"a":"b"}}]`,
		`{"spec":{"replicas":"x"}}`, `null`, `[]`, `{`, "", "\x00\xff",
		`{"metadata":{"name":"a","namespace":"other"}}`,
		`{"metadata":{"generateName":"g-"}}`,
	}
	for _, s := range seeds {
		f.Add(s, 0)
	}
	srv := newTestServer(f)
	if c, b, _ := srv.do("POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":{"name":"keep"},"data":{"k":"v"}}`); c != http.StatusCreated {
		f.Fatalf("seed object: %d %s", c, b)
	}
	f.Fuzz(func(t *testing.T, body string, target int) {
		srv.t = t
		requests := []struct{ method, path, ctype string }{
			{"POST", "/api/v1/namespaces/default/configmaps", "application/json"},
			{"POST", "/api/v1/namespaces/default/pods", "application/json"},
			{"POST", "/api/v1/namespaces/default/services", "application/json"},
			{"POST", "/apis/apps/v1/namespaces/default/deployments", "application/yaml"},
			{"PUT", "/api/v1/namespaces/default/configmaps/keep", "application/json"},
			{"PATCH", "/api/v1/namespaces/default/configmaps/keep", "application/json-patch+json"},
			{"PATCH", "/api/v1/namespaces/default/configmaps/keep", "application/merge-patch+json"},
			{"PATCH", "/api/v1/namespaces/default/configmaps/keep", "application/strategic-merge-patch+json"},
			{"POST", "/api/v1/namespaces/default/configmaps", "application/vnd.kubernetes.protobuf"},
		}
		if target < 0 {
			target = -target
		}
		rq := requests[target%len(requests)]
		code, resp, _ := srv.do(rq.method, rq.path, rq.ctype, body)
		if code >= 500 {
			t.Fatalf("%s %s %q: %d %s", rq.method, rq.path, body, code, resp)
		}
		if code, resp, _ := srv.do("GET", "/api/v1/namespaces/default/configmaps/keep", "", ""); code != http.StatusOK {
			t.Fatalf("stored object lost: %d %s", code, resp)
		}
	})
}
