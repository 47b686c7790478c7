package runc

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestConfig_validate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"default is valid", func(*Config) {}, ""},
		{"relative state dir", func(c *Config) { c.StateDir = "run/keel" }, "StateDir"},
		{"tiny logs", func(c *Config) { c.LogMaxBytes = 10 }, "LogMaxBytes"},
		{"no log files", func(c *Config) { c.LogMaxFiles = 0 }, "LogMaxFiles"},
		{"cgroup parent escapes", func(c *Config) { c.CgroupParent = "../x" }, "CgroupParent"},
		{"no start timeout", func(c *Config) { c.StartTimeout = 0 }, "StartTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if err := TestConfig("/tmp/x").Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCapSet_adjustsDefaults(t *testing.T) {
	held, err := heldCaps()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		sec     Security
		want    []string
		wantErr string
	}{
		{"defaults", Security{}, defaultCaps, ""},
		{"drop all", Security{CapDrop: []string{"ALL"}}, nil, ""},
		{"add without prefix", Security{CapDrop: []string{"all"}, CapAdd: []string{"net_admin", "CAP_SYS_TIME"}}, []string{"CAP_NET_ADMIN", "CAP_SYS_TIME"}, ""},
		{"add twice", Security{CapDrop: []string{"ALL"}, CapAdd: []string{"KILL", "CAP_KILL"}}, []string{"CAP_KILL"}, ""},
		{"privileged", Security{Privileged: true}, held, ""},
		{"add all", Security{CapAdd: []string{"ALL"}}, held, ""},
		{"unknown", Security{CapDrop: []string{"FLY"}}, nil, "unknown capability"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := capSet(tt.sec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			want := slices.Sorted(slices.Values(tt.want))
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("capSet = %v, %v; want %v", got, err, want)
			}
		})
	}
}

func TestResolveInRoot_refusesEscapes(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a/b", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{"up": "../../..", "abs": "/etc", "rel": "a/b", "loop": "loop", "inside": "a/../etc", "file": "etc/f"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want, wantErr string
	}{
		{"/", root, ""},
		{"/a/b", root + "/a/b", ""},
		{"/a/./b/", root + "/a/b", ""},
		{"/a/b/../..", root, ""},
		{"/new/dir", root + "/new/dir", ""},
		{"/abs", root + "/etc", ""},
		{"/rel/c", root + "/a/b/c", ""},
		{"/inside", root + "/etc", ""},
		{"/..", "", "outside"},
		{"/a/../../etc", "", "outside"},
		{"/up", "", "outside"},
		{"/up/x", "", "outside"},
		{"/loop", "", "too many"},
		{"/file/x", "", "not a directory"},
		{"relative", "", "absolute"},
		{"/a\x00b", "", "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := resolveInRoot(root, tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("resolve = %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("resolve = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzResolveInRoot(f *testing.F) {
	root := f.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "a/b"), 0o755); err != nil {
		f.Fatal(err)
	}
	_ = os.Symlink("../..", filepath.Join(root, "a/up"))
	_ = os.Symlink("/a", filepath.Join(root, "abs"))
	for _, s := range []string{"/", "/a/b", "/../x", "/a/up/x", "/abs/b/../..", "x", "//a//b/./"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := resolveInRoot(root, p)
		if err != nil {
			return
		}
		if got != root && !strings.HasPrefix(got, root+"/") {
			t.Fatalf("resolve(%q) = %q: outside %q", p, got, root)
		}
	})
}

func TestBuildSpec_secureDefaults(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name                string
		sec                 Security
		wantMasks, wantSecc bool
		wantNNP             bool
	}{
		{"default", Security{NoNewPrivileges: true}, true, true, true},
		{"unconfined", Security{SeccompUnconfined: true}, true, false, false},
		{"privileged", Security{Privileged: true}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := ContainerSpec{RootFS: root, Args: []string{"/bin/true"}, Security: tt.sec}
			s, err := buildSpec("id", cs, nsPaths{Net: "/n", IPC: "/i", UTS: "/u"}, "/keel/id")
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") && slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys"); got != tt.wantMasks {
				t.Errorf("masks = %v", got)
			}
			if (s.Linux.Seccomp != nil) != tt.wantSecc {
				t.Errorf("seccomp = %v", s.Linux.Seccomp != nil)
			}
			if s.Process.NoNewPrivileges != tt.wantNNP {
				t.Errorf("no_new_privs = %v", s.Process.NoNewPrivileges)
			}
			joined := map[specs.LinuxNamespaceType]string{}
			for _, n := range s.Linux.Namespaces {
				joined[n.Type] = n.Path
			}
			if joined[specs.NetworkNamespace] != "/n" || joined[specs.UTSNamespace] != "/u" || joined[specs.IPCNamespace] != "/i" {
				t.Errorf("namespaces = %v", joined)
			}
			if !slices.Contains(s.Process.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") {
				t.Errorf("env = %v", s.Process.Env)
			}
		})
	}
}

func TestDefaultSeccomp_gatesByCapability(t *testing.T) {
	allowed := func(p *specs.LinuxSeccomp, name string) bool {
		for _, sc := range p.Syscalls {
			if sc.Action == specs.ActAllow && len(sc.Args) == 0 && slices.Contains(sc.Names, name) {
				return true
			}
		}
		return false
	}
	def := defaultSeccomp(defaultCaps)
	for _, n := range []string{"clone3", "mount", "unshare", "keyctl", "reboot", "setns", "bpf"} {
		if allowed(def, n) {
			t.Errorf("default profile allows %s", n)
		}
	}
	for _, n := range []string{"read", "write", "execve", "futex", "chroot"} {
		if !allowed(def, n) {
			t.Errorf("default profile denies %s", n)
		}
	}
	admin := defaultSeccomp(append(slices.Clone(defaultCaps), "CAP_SYS_ADMIN"))
	for _, n := range []string{"mount", "unshare", "setns", "clone"} {
		if !allowed(admin, n) {
			t.Errorf("CAP_SYS_ADMIN profile denies %s", n)
		}
	}
	if allowed(admin, "keyctl") {
		t.Error("keyrings are never allowed")
	}
}

func TestLogFile_formatsAndRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	l, err := openLogFile(path, 200, 3, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", maxLogLine+10)
	in := "one\ntwo\n" + long + "\nlast-no-newline"
	if err := l.copyLines("stdout", strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if err := l.copyLines("stderr", strings.NewReader("err\n")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, name := range []string{"c.log.2", "c.log.1", "c.log"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all = append(all, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Fatalf("kept more than 3 files: %v", err)
	}
	ts := "2026-01-02T03:04:05.000000006Z"
	want := []string{
		ts + " stdout F one",
		ts + " stdout F two",
		ts + " stdout P " + long[:maxLogLine],
		ts + " stdout F " + long[maxLogLine:],
		ts + " stdout F last-no-newline",
		ts + " stderr F err",
	}
	if !slices.Equal(all, want) {
		t.Fatalf("kept entries:\n%.300q\nwant\n%.300q", all, want)
	}
	// Two more oversized entries push the oldest file out.
	l, err = openLogFile(path, 200, 3, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if err := l.copyLines("stdout", strings.NewReader(strings.Repeat("y", 300)+"\n"+strings.Repeat("z", 300)+"\n")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	oldest, err := os.ReadFile(path + ".2")
	if err != nil || !strings.Contains(string(oldest), "last-no-newline") {
		t.Fatalf("oldest kept file %.100q, %v", oldest, err)
	}
}

func FuzzLogFile_roundTrip(f *testing.F) {
	for _, s := range []string{"", "a\n", "a\nb", "\n\n", strings.Repeat("y", maxLogLine*2+3) + "\nz"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		path := filepath.Join(t.TempDir(), "log")
		l, err := openLogFile(path, 1<<30, 1, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.copyLines("stdout", strings.NewReader(string(in))); err != nil {
			t.Fatal(err)
		}
		l.Close()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got := logTextOf(string(b))
		want := string(in)
		if want != "" && !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if got != want {
			t.Fatalf("round trip of %q gave %q", in, got)
		}
	})
}
