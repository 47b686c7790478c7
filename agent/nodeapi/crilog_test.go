package nodeapi

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

const sample = `2026-01-02T03:04:05.000000001Z stdout F one
2026-01-02T03:04:06Z stderr F two
2026-01-02T03:04:07Z stdout P thr
2026-01-02T03:04:07.5Z stdout F ee
garbage line
2026-01-02T03:04:08Z stdout F
2026-01-02T03:04:09Z stdout F five
`

func render(t *testing.T, data string, opts LogOptions) string {
	t.Helper()
	var b bytes.Buffer
	err := copyLog(strings.NewReader(data[tailOffset([]byte(data), opts.TailLines):]), &lineWriter{w: &b, opts: opts})
	if err != nil && err != errLimit {
		t.Fatal(err)
	}
	return b.String()
}

func TestCopyLog_options(t *testing.T) {
	tests := []struct {
		name string
		opts LogOptions
		want string
	}{
		{"all", LogOptions{TailLines: -1}, "one\ntwo\nthree\n\nfive\n"},
		{"tail 2", LogOptions{TailLines: 2}, "\nfive\n"},
		{"tail joins partials", LogOptions{TailLines: 3}, "three\n\nfive\n"},
		{"tail 0", LogOptions{TailLines: 0}, ""},
		{"tail more than there is", LogOptions{TailLines: 50}, "one\ntwo\nthree\n\nfive\n"},
		{"stderr", LogOptions{TailLines: -1, Stream: "stderr"}, "two\n"},
		{"since", LogOptions{TailLines: -1, Since: time.Date(2026, 1, 2, 3, 4, 8, 0, time.UTC)}, "\nfive\n"},
		{"limit", LogOptions{TailLines: -1, LimitBytes: 6}, "one\ntw"},
		{"timestamps", LogOptions{TailLines: 2, Timestamps: true}, "2026-01-02T03:04:08Z \n2026-01-02T03:04:09Z five\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(t, sample, tt.opts); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	got := render(t, sample, LogOptions{TailLines: 3, Timestamps: true})
	if want := "2026-01-02T03:04:07Z three\n2026-01-02T03:04:08Z \n2026-01-02T03:04:09Z five\n"; got != want {
		t.Fatalf("timestamps with partials: got %q, want %q", got, want)
	}
}

func FuzzParseLogLine(f *testing.F) {
	for _, l := range strings.Split(sample, "\n") {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		l, err := parseLogLine(line)
		if err != nil {
			return
		}
		if l.Stream != "stdout" && l.Stream != "stderr" {
			t.Fatalf("stream %q accepted", l.Stream)
		}
		var b bytes.Buffer
		lw := &lineWriter{w: &b, opts: LogOptions{TailLines: -1}}
		lw.write(l)
		tailOffset(line, 1)
	})
}
