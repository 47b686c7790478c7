package clusterdns

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ResolvConf
		err  string
	}{
		{name: "typical", in: "# generated\nnameserver 10.0.0.2\nnameserver fe80::1%eth0 ; link\nsearch corp.example. lab.example\noptions ndots:2 edns0\noptions rotate\n",
			want: ResolvConf{Nameservers: []string{"10.0.0.2", "fe80::1%eth0"}, Searches: []string{"corp.example", "lab.example"}, Options: []string{"ndots:2", "edns0", "rotate"}}},
		{name: "last search or domain wins", in: "search a.example b.example\ndomain c.example\n",
			want: ResolvConf{Searches: []string{"c.example"}}},
		{name: "unknown keywords ignored", in: "sortlist 10.0.0.0\nlookup file bind\n", want: ResolvConf{}},
		{name: "empty", in: "", want: ResolvConf{}},
		{name: "bad nameserver", in: "nameserver 10.0.0.2\nnameserver dns.example\n", err: "node.conf:2: nameserver \"dns.example\" is not an IP address"},
		{name: "nameserver alone", in: "nameserver\n", err: "node.conf:1: nameserver without an address"},
		{name: "line too long", in: "search " + strings.Repeat("a", 70000) + "\n", err: "node.conf: bufio.Scanner: token too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResolvConf(strings.NewReader(tt.in), "node.conf")
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestResolvConf_formatRoundTrip(t *testing.T) {
	rc := ResolvConf{Nameservers: []string{"169.254.20.10"}, Searches: []string{"ns.svc.cluster.local", "svc.cluster.local"}, Options: []string{"ndots:5"}}
	want := "nameserver 169.254.20.10\nsearch ns.svc.cluster.local svc.cluster.local\noptions ndots:5\n"
	if got := string(rc.Format()); got != want {
		t.Fatalf("Format = %q; want %q", got, want)
	}
	back, err := ParseResolvConf(strings.NewReader(want), "x")
	if err != nil || !reflect.DeepEqual(back, rc) {
		t.Fatalf("parsed back %+v, %v", back, err)
	}
	if got := rc.Upstreams(); !reflect.DeepEqual(got, []string{"169.254.20.10:53"}) {
		t.Fatalf("Upstreams = %v", got)
	}
}

func TestReadNodeResolvConf_file(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "resolv.conf")
	os.WriteFile(p, []byte("nameserver 192.0.2.53\n"), 0o644)
	rc, used, err := ReadNodeResolvConf(p)
	if err != nil || used != p || !reflect.DeepEqual(rc.Nameservers, []string{"192.0.2.53"}) {
		t.Fatalf("got %+v from %s, %v", rc, used, err)
	}
	if _, _, err := ReadNodeResolvConf(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing file: %v", err)
	}
}

// FuzzParseResolvConf: any bytes parse or fail with an error; what
// parses formats to a file that parses to the same value.
func FuzzParseResolvConf(f *testing.F) {
	f.Add("nameserver 10.0.0.2\nsearch a.example\noptions ndots:5\n")
	f.Add("domain x\n# c\n; d\nnameserver ::1\n")
	f.Add("nameserver\n")
	f.Fuzz(func(t *testing.T, in string) {
		rc, err := ParseResolvConf(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		back, err := ParseResolvConf(strings.NewReader(string(rc.Format())), "formatted")
		if err != nil {
			t.Fatalf("formatted %q does not parse: %v", rc.Format(), err)
		}
		if len(back.Nameservers) != len(rc.Nameservers) {
			t.Fatalf("nameservers %v became %v", rc.Nameservers, back.Nameservers)
		}
	})
}
