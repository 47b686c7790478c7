package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// server is the demo's HTTP handler and the state its control endpoints
// change.
type server struct {
	hostname string
	// out receives one line per request.
	out io.Writer
	// exit ends the process with a code, after the response is sent.
	exit func(code int)
	// wait pauses a response for d or until ctx is done.
	wait func(ctx context.Context, d time.Duration)

	mu      sync.Mutex
	healthy bool
	delay   time.Duration
}

// newServer is a healthy server without delay.
func newServer(hostname string, out io.Writer, exit func(int)) *server {
	return &server{hostname: hostname, out: out, exit: exit, wait: sleepCtx, healthy: true}
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ServeHTTP answers:
//
//	/             the hostname
//	/healthz      200 "ok", or 500 after /fail (until /recover)
//	/fail         make /healthz fail
//	/recover      make /healthz pass again
//	/exit?code=N  exit with code N (0 when absent) once the reply is sent
//	/sleep?seconds=N  delay later replies to / and /healthz by N seconds
//	/whoami       the client's address as the server sees it (host:port)
//	/bytes?n=N    N bytes (at most 64 MiB), for moving big payloads
//
// and prints "METHOD PATH STATUS from CLIENT" per request.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.route(rec, r)
	fmt.Fprintf(s.out, "%s %s %d from %s\n", r.Method, r.URL.RequestURI(), rec.status, r.RemoteAddr)
	if rec.exitCode >= 0 {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		s.exit(rec.exitCode)
	}
}

func (s *server) route(w *statusRecorder, r *http.Request) {
	w.exitCode = -1
	switch r.URL.Path {
	case "/":
		s.delayed(r)
		fmt.Fprintln(w, s.hostname)
	case "/healthz":
		s.delayed(r)
		s.mu.Lock()
		ok := s.healthy
		s.mu.Unlock()
		if !ok {
			http.Error(w, "failing", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	case "/fail", "/recover":
		s.mu.Lock()
		s.healthy = r.URL.Path == "/recover"
		s.mu.Unlock()
		fmt.Fprintln(w, "healthz will", map[bool]string{true: "pass", false: "fail"}[r.URL.Path == "/recover"])
	case "/exit":
		code, err := intParam(r, "code")
		if err != nil || code < 0 || code > 255 {
			http.Error(w, "code must be 0..255", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "exiting with code %d\n", code)
		w.exitCode = code
	case "/sleep":
		secs, err := intParam(r, "seconds")
		if err != nil || secs < 0 {
			http.Error(w, "seconds must be a non-negative integer", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.delay = time.Duration(secs) * time.Second
		s.mu.Unlock()
		fmt.Fprintf(w, "replies delayed by %ds\n", secs)
	case "/whoami":
		fmt.Fprintln(w, r.RemoteAddr)
	case "/bytes":
		n, err := intParam(r, "n")
		if err != nil || n < 0 || n > maxBytes {
			http.Error(w, fmt.Sprintf("n must be 0..%d", maxBytes), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for n > 0 {
			k, err := w.Write(chunk[:min(n, len(chunk))])
			if err != nil {
				return
			}
			n -= k
		}
	default:
		http.NotFound(w, r)
	}
}

// maxBytes bounds /bytes.
const maxBytes = 64 << 20

// delayed applies the delay /sleep set.
func (s *server) delayed(r *http.Request) {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	if d > 0 {
		s.wait(r.Context(), d)
	}
}

// intParam reads an integer query parameter; absent is 0.
func intParam(r *http.Request, key string) (int, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return 0, nil
	}
	return strconv.Atoi(v)
}

// statusRecorder keeps the status a handler wrote, for the log line.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	exitCode int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
