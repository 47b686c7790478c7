package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// fakeAPI is a small stand-in for the agent's API on a unix socket:
// legacy discovery, namespaces, nodes and configmaps, /version and the
// /keel/v1 endpoints. It is enough for kubectl's commands to run.
type fakeAPI struct {
	mu         sync.Mutex
	configMaps map[string]*corev1.ConfigMap
	requests   []string
	// apiAddress is what /keel/v1/status reports; empty means a made-up one.
	apiAddress string
}

var fakeCreated = metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	writeJSON := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	notFound := func() {
		writeJSON(404, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: "Failure", Reason: metav1.StatusReasonNotFound, Code: 404, Message: r.URL.Path + " not found"})
	}
	const cmPrefix = "/api/v1/namespaces/default/configmaps"
	switch p := r.URL.Path; {
	case p == "/api":
		writeJSON(200, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
	case p == "/apis":
		writeJSON(200, &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}})
	case p == "/api/v1":
		writeJSON(200, &metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: "v1",
			APIResources: []metav1.APIResource{
				{Name: "namespaces", Kind: "Namespace", ShortNames: []string{"ns"}, Verbs: []string{"get", "list"}},
				{Name: "nodes", Kind: "Node", ShortNames: []string{"no"}, Verbs: []string{"get", "list"}},
				{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, ShortNames: []string{"cm"},
					Verbs: []string{"create", "delete", "get", "list", "patch", "update"}},
			},
		})
	case p == "/version":
		writeJSON(200, &version.Info{GitVersion: "v1.33.0-keel"})
	case p == statusPath:
		addr := f.apiAddress
		if addr == "" {
			addr = "https://10.0.0.1:6443"
		}
		writeJSON(200, clusterStatus{Coordinator: "node1", APIAddress: addr, Version: "v0.1.0", Revision: 42})
	case p == kubeconfigPath:
		w.Header().Set("Content-Type", "application/yaml")
		io.WriteString(w, testKubeconfig)
	case p == "/api/v1/namespaces":
		list := &corev1.NamespaceList{TypeMeta: metav1.TypeMeta{Kind: "NamespaceList", APIVersion: "v1"}}
		for _, n := range []string{"default", "kube-system"} {
			list.Items = append(list.Items, corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n, CreationTimestamp: fakeCreated},
				Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}})
		}
		writeJSON(200, list)
	case p == "/api/v1/namespaces/default/events":
		writeJSON(200, &corev1.EventList{TypeMeta: metav1.TypeMeta{Kind: "EventList", APIVersion: "v1"}})
	case p == "/api/v1/nodes":
		writeJSON(200, &corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}, Items: []corev1.Node{fakeNode()}})
	case p == "/api/v1/nodes/node1":
		n := fakeNode()
		n.TypeMeta = metav1.TypeMeta{Kind: "Node", APIVersion: "v1"}
		writeJSON(200, &n)
	case p == cmPrefix && r.Method == http.MethodPost:
		var cm corev1.ConfigMap
		if err := json.NewDecoder(r.Body).Decode(&cm); err != nil {
			writeJSON(400, &metav1.Status{Status: "Failure", Code: 400, Message: err.Error()})
			return
		}
		cm.TypeMeta = metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}
		cm.Namespace = "default"
		cm.ResourceVersion = "1"
		cm.CreationTimestamp = fakeCreated
		f.configMaps[cm.Name] = &cm
		writeJSON(201, &cm)
	case strings.HasPrefix(p, cmPrefix+"/"):
		name := strings.TrimPrefix(p, cmPrefix+"/")
		cm, ok := f.configMaps[name]
		if !ok {
			notFound()
			return
		}
		cm.TypeMeta = metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}
		switch r.Method {
		case http.MethodGet:
			writeJSON(200, cm)
		case http.MethodDelete:
			delete(f.configMaps, name)
			writeJSON(200, cm)
		default:
			writeJSON(405, &metav1.Status{Status: "Failure", Code: 405, Message: "not in the fake"})
		}
	default:
		notFound()
	}
}

// fakeNode is the one node of the fake cluster.
func fakeNode() corev1.Node {
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node1", CreationTimestamp: fakeCreated,
			Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v0.1.0"},
		},
	}
}

// startFakeAPI serves a fakeAPI on a unix socket; it returns the API and
// the socket path.
func startFakeAPI(t *testing.T) (*fakeAPI, string) {
	t.Helper()
	f := &fakeAPI{configMaps: map[string]*corev1.ConfigMap{}}
	return f, serveUnix(t, f)
}

// testKubeconfig is an admin kubeconfig as the agent hands it out.
const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: keel
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: Y2E=
users:
- name: admin
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
contexts:
- name: keel-admin
  context:
    cluster: keel
    user: admin
current-context: keel-admin
`

// testStreams bundles streams for a command under test.
func testStreams(in io.Reader, out, errOut io.Writer) genericiooptions.IOStreams {
	return genericiooptions.IOStreams{In: in, Out: out, ErrOut: errOut}
}

// mapEnv is a lookupEnv over a map.
func mapEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// runAgentctl runs agentctl in-process with args and returns stdout and
// stderr. kubectl's fatal-error path fails the test instead of exiting.
func runAgentctl(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmdutil.BehaviorOnFatal(func(msg string, code int) {
		panic(fatalError{msg: msg, code: code})
	})
	t.Cleanup(cmdutil.DefaultBehaviorOnFatal)
	var out, errOut strings.Builder
	cmd := newRootCmd(testStreams(strings.NewReader(stdin), &out, &errOut), mapEnv(env))
	cmd.SetArgs(args)
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				fe, ok := r.(fatalError)
				if !ok {
					panic(r)
				}
				err = fe
			}
		}()
		return cmd.Execute()
	}()
	return out.String(), errOut.String(), err
}

// fatalError is kubectl's CheckErr failure, caught.
type fatalError struct {
	msg  string
	code int
}

func (e fatalError) Error() string { return strings.TrimSpace(e.msg) }
