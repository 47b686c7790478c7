package kubectl

import (
	"strings"
	"testing"
)

func TestRewriter_normalize(t *testing.T) {
	rw := &Rewriter{}
	rw.Literal("/tmp/TestX/002", "$WORK")
	rw.Literal("v0.1.0-dev", "<keel-version>")
	rw.Word("41853", "<api-port>")
	tests := []struct {
		name, in, want string
	}{
		{"uid", "uid: 9a36ffde-9fe1-46f1-b046-955c040b9ba0\n", "uid: <uid>"},
		{"rfc3339", `creationTimestamp: "2026-11-22T02:47:14Z"`, `creationTimestamp: "<time>"`},
		{"rfc3339 fraction and offset", "t=2026-11-22T02:47:14.123+01:00", "t=<time>"},
		{"describe date", "CreationTimestamp:  Sun, 22 Nov 2026 02:46:21 +0000", "CreationTimestamp:  <time>"},
		{"yaml resourceVersion", `  resourceVersion: "19"`, `  resourceVersion: "<rv>"`},
		{"json resourceVersion", `"resourceVersion": "22",`, `"resourceVersion": "<rv>",`},
		{"cluster ip", "clusterIP: 10.99.39.216", "clusterIP: <cluster-ip>"},
		{"the kubernetes service's ip stays", "IP: 10.96.0.1", "IP: 10.96.0.1"},
		{"outside the service range", "10.95.1.1 10.112.0.1", "<ip> <ip>"},
		{"node port in a port column", "8080:31234/TCP", "8080:<node-port>/TCP"},
		{"nodePort key", "nodePort: 30440", "nodePort: <node-port>"},
		{"describe NodePort", "NodePort:                 http  32000/TCP", "NodePort:                 http  <node-port>/TCP"},
		{"a port outside the range stays", "80:8080/TCP", "80:8080/TCP"},
		{"ip", "Endpoints: 192.0.2.2:41853", "Endpoints: <ip>:<api-port>"},
		{"loopback stays", "127.0.0.1", "127.0.0.1"},
		{"go version", `GoVersion:"go1.26.8"`, `GoVersion:"<go-version>"`},
		{"literals", "cat /tmp/TestX/002/a: v1.33.0+keel.v0.1.0-dev", "cat $WORK/a: v1.33.0+keel.<keel-version>"},
		{"word only whole", "418530 41853", "418530 <api-port>"},
		{"trailing blanks and lines", "a  \nb\t\n\n\n", "a\nb"},
		{
			"ages and realignment",
			"NAME              STATUS   AGE\n" +
				"default           Active   9s\n" +
				"kube-node-lease   Active   10m5s\n",
			"NAME              STATUS   AGE\n" +
				"default           Active   <age>\n" +
				"kube-node-lease   Active   <age>",
		},
		{
			"a cell rewritten inside a table",
			"NAME   TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)          AGE\n" +
				"api    NodePort    10.99.39.216   <none>        8080:31234/TCP   2s\n" +
				"k      ClusterIP   10.96.0.1      <none>        443/TCP          3d4h\n",
			"NAME   TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)                AGE\n" +
				"api    NodePort    <cluster-ip>   <none>        8080:<node-port>/TCP   <age>\n" +
				"k      ClusterIP   10.96.0.1      <none>        443/TCP                <age>",
		},
		{
			"empty cells and multi-word headers",
			"NAME      SHORTNAMES   NAMESPACED   NOMINATED NODE   AGE\n" +
				"secrets                true         <none>           1s\n",
			"NAME      SHORTNAMES   NAMESPACED   NOMINATED NODE   AGE\n" +
				"secrets                true         <none>           <age>",
		},
		{
			"a non-duration in an age column stays",
			"NAME   LAST SCHEDULE   AGE\ncj     <none>          5m\n",
			"NAME   LAST SCHEDULE   AGE\ncj     <none>          <age>",
		},
		{
			"an error line ends the table",
			"NAME   DATA   AGE\napp    1      5s\nError from server (NotFound): configmaps \"x\" not found\n",
			"NAME   DATA   AGE\napp    1      <age>\nError from server (NotFound): configmaps \"x\" not found",
		},
		{
			"two tables",
			"NAME    READY   AGE\nweb     0/2     1s\n\nNAME        TYPE   AGE\nservice/a   X      12s\n",
			"NAME   READY   AGE\nweb    0/2     <age>\n\nNAME        TYPE   AGE\nservice/a   X      <age>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rw.Normalize(tt.in); got != tt.want {
				t.Errorf("Normalize(%q) =\n%s\nwant\n%s", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	f.Add("NAME   DATA   AGE\napp    1      5s\n")
	f.Add("NAME  X\n\nNAME   Y   AGE\na\n")
	f.Add("uid: 9a36ffde-9fe1-46f1-b046-955c040b9ba0 10.99.0.3 8080:31234/TCP")
	f.Add("Server Version: version.Info{GoVersion:\"go1.26.8\"}\n")
	f.Fuzz(func(t *testing.T, in string) {
		rw := &Rewriter{}
		rw.Literal("/tmp/w", "$WORK")
		rw.Word("6443", "<api-port>")
		out := rw.Normalize(in)
		if out != rw.Normalize(in) {
			t.Fatal("Normalize is not deterministic")
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.TrimRight(l, " \t\r") != l {
				t.Fatalf("line %q keeps trailing blanks", l)
			}
		}
		if strings.HasSuffix(out, "\n") {
			t.Fatal("output ends in a newline")
		}
	})
}
