package coordinator

import (
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNodeAPIAddress(t *testing.T) {
	node := func(port int32, addrs ...corev1.NodeAddress) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = port
		n.Status.Addresses = addrs
		return n
	}
	ip := corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.0.2.5"}
	host := corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n"}
	tests := []struct {
		name string
		node *corev1.Node
		want string
		err  bool
	}{
		{"internal IP first", node(10250, host, ip), "192.0.2.5:10250", false},
		{"hostname fallback", node(10250, host), "n:10250", false},
		{"no port", node(0, ip), "", true},
		{"no address", node(10250), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, p, err := nodeAPIAddress(tt.node)
			if (err != nil) != tt.err {
				t.Fatalf("err %v", err)
			}
			if err == nil {
				if got := h + ":" + strconv.Itoa(int(p)); got != tt.want {
					t.Fatalf("got %s, want %s", got, tt.want)
				}
			}
		})
	}
}
