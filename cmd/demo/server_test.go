package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServer_endpoints(t *testing.T) {
	var log syncBuffer
	var exits []int
	var waits []time.Duration
	srv := newServer("pod-a", &log, func(c int) { exits = append(exits, c) })
	srv.wait = func(_ context.Context, d time.Duration) { waits = append(waits, d) }
	steps := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/", 200, "pod-a\n"},
		{"/healthz", 200, "ok\n"},
		{"/fail", 200, "healthz will fail\n"},
		{"/healthz", 500, "failing\n"},
		{"/recover", 200, "healthz will pass\n"},
		{"/healthz", 200, "ok\n"},
		{"/sleep?seconds=5", 200, "replies delayed by 5s\n"},
		{"/healthz", 200, "ok\n"},
		{"/sleep?seconds=0", 200, "replies delayed by 0s\n"},
		{"/sleep?seconds=-1", 400, "seconds must be a non-negative integer\n"},
		{"/exit?code=300", 400, "code must be 0..255\n"},
		{"/exit?code=3", 200, "exiting with code 3\n"},
		{"/nope", 404, "404 page not found\n"},
		{"/whoami", 200, "192.0.2.1:1234\n"},
		{"/bytes?n=5", 200, "01234"},
		{"/bytes?n=-1", 400, "n must be 0..67108864\n"},
		{"/bytes?n=67108865", 400, "n must be 0..67108864\n"},
	}
	for _, st := range steps {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, st.path, nil))
		if rec.Code != st.wantStatus || rec.Body.String() != st.wantBody {
			t.Errorf("GET %s = %d %q, want %d %q", st.path, rec.Code, rec.Body, st.wantStatus, st.wantBody)
		}
	}
	if len(exits) != 1 || exits[0] != 3 {
		t.Errorf("exits = %v, want [3]", exits)
	}
	if len(waits) != 1 || waits[0] != 5*time.Second {
		t.Errorf("delays = %v, want one of 5s", waits)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != len(steps) || lines[0] != "GET / 200 from 192.0.2.1:1234" || lines[3] != "GET /healthz 500 from 192.0.2.1:1234" ||
		lines[11] != "GET /exit?code=3 200 from 192.0.2.1:1234" {
		t.Errorf("log lines = %q", lines)
	}
}

func TestServer_bytesOverMoreThanOneChunk(t *testing.T) {
	srv := newServer("pod-a", io.Discard, func(int) {})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/bytes?n=200000", nil))
	body := rec.Body.Bytes()
	if rec.Code != 200 || len(body) != 200000 || rec.Header().Get("Content-Length") != "200000" || !bytes.HasPrefix(body[65536:], []byte("0123")) {
		t.Fatalf("/bytes?n=200000: %d, %d bytes, Content-Length %q", rec.Code, len(body), rec.Header().Get("Content-Length"))
	}
}

func TestSleepCtx_endsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() { sleepCtx(ctx, time.Hour); close(done) }()
	<-done
}

func TestRun_servesAndExitsZeroOnSignal(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- run(ctx, l, "pod-b", &log, func(int) {}) }()
	resp, err := http.Get("http://" + l.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "pod-b\n" {
		t.Errorf("GET / = %q", body)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("run returned %d, want 0", c)
	}
	out := log.String()
	for _, want := range []string{"demo serving on 127.0.0.1:", "GET / 200", "received SIGTERM, exiting"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
}
