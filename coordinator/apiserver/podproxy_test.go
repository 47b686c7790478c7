package apiserver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	kubeletrc "k8s.io/kubelet/pkg/cri/streaming/remotecommand"

	"github.com/keel-edge/keel/coordinator/apiserver"
)

// fakeNode answers the node API's log and exec paths and records what it
// was asked.
type fakeNode struct {
	mu   sync.Mutex
	seen []string
}

func (n *fakeNode) ExecInContainer(ctx context.Context, name string, uid types.UID, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, timeout time.Duration) error {
	fmt.Fprintf(out, "%s/%s: %s", name, container, strings.Join(cmd, " "))
	return nil
}

func (n *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	n.seen = append(n.seen, r.URL.Path+"?"+r.URL.RawQuery)
	n.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/containerLogs/"):
		io.WriteString(w, "line 1\nline 2\n")
	case strings.HasPrefix(r.URL.Path, "/exec/"):
		opts, err := kubeletrc.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		parts := strings.Split(r.URL.Path, "/")
		kubeletrc.ServeExec(w, r, n, parts[3], "uid", parts[4], r.URL.Query()["command"], opts, time.Minute, 10*time.Second, remotecommandconsts.SupportedStreamingProtocols)
	default:
		http.NotFound(w, r)
	}
}

func TestServer_podStreamsReachTheNode(t *testing.T) {
	node := &fakeNode{}
	nodeSrv := httptest.NewTLSServer(node)
	defer nodeSrv.Close()
	nodeURL, _ := url.Parse(nodeSrv.URL)
	s := newTestServerWith(t, func(c *apiserver.Config) {
		c.NodeConnection = func(name string) (apiserver.NodeConnection, error) {
			if name != "n1" {
				return apiserver.NodeConnection{}, fmt.Errorf("unknown node %s", name)
			}
			return apiserver.NodeConnection{URL: nodeURL, Transport: nodeSrv.Client().Transport.(*http.Transport)}, nil
		}
	})
	ctx := context.Background()
	pods := s.cs.CoreV1().Pods("default")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := s.do("GET", "/api/v1/namespaces/default/pods/web/log", "", ""); code != 400 || !strings.Contains(body, "does not have a host assigned") {
		t.Fatalf("logs of an unbound pod: %d %s", code, body)
	}
	pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Target: corev1.ObjectReference{Name: "n1"}}, metav1.CreateOptions{})

	tail := int64(5)
	logs, err := pods.GetLogs("web", &corev1.PodLogOptions{TailLines: &tail, Timestamps: true}).DoRaw(ctx)
	if err != nil || string(logs) != "line 1\nline 2\n" {
		t.Fatalf("logs %q: %v", logs, err)
	}
	if code, body, _ := s.do("GET", "/api/v1/namespaces/default/pods/web/log?container=nope", "", ""); code != 400 || !strings.Contains(body, "not valid for pod") {
		t.Fatalf("logs of a missing container: %d %s", code, body)
	}

	req := s.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("web").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: []string{"echo", "hi"}, Stdout: true}, clientParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(s.cfg, "POST", req.URL())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "web/c: echo hi" {
		t.Fatalf("exec output %q", out.String())
	}
	node.mu.Lock()
	defer node.mu.Unlock()
	want := []string{"/containerLogs/default/web/c?tailLines=5&timestamps=true", "/exec/default/web/c?command=echo&command=hi&output=1"}
	if fmt.Sprint(node.seen) != fmt.Sprint(want) {
		t.Fatalf("node saw %v, want %v", node.seen, want)
	}
}

var clientParameterCodec = scheme.ParameterCodec
