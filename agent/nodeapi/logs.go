package nodeapi

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"syscall"
	"time"
)

// serveLogs answers GET containerLogs/NS/POD/CONTAINER as the kubelet does.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request, namespace, pod, container string) {
	if _, ok := s.uid(w, namespace, pod); !ok {
		return
	}
	opts, follow, previous, err := logOptions(r, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	path, err := s.cfg.Pods.LogPath(namespace, pod, container, previous)
	if errors.Is(err, os.ErrNotExist) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, "open log: "+err.Error(), http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain")
	fw := &flushWriter{w: w}
	if f, ok := w.(http.Flusher); ok {
		fw.flush = f.Flush
	}
	lw := &lineWriter{w: fw, opts: opts}
	if err := s.writeExisting(f, lw, opts.TailLines); err != nil {
		return
	}
	fw.Flush()
	if follow {
		s.follow(r, path, f, lw, fw)
	}
}

// writeExisting writes what the file holds now, honouring tailLines.
func (s *Server) writeExisting(f *os.File, lw *lineWriter, tail int64) error {
	if tail >= 0 {
		data, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		return copyLog(bytesReader(data[tailOffset(data, tail):]), lw)
	}
	return copyLog(f, lw)
}

// follow keeps writing lines as the container writes them, reopening the
// file when the log writer rotates it, until the client goes away.
func (s *Server) follow(r *http.Request, path string, f *os.File, lw *lineWriter, fw *flushWriter) {
	br := bufio.NewReader(f)
	var pending []byte
	tick := time.NewTicker(s.cfg.FollowPoll)
	defer tick.Stop()
	for {
		line, err := br.ReadBytes('\n')
		pending = append(pending, line...)
		if err == nil {
			if l, perr := parseLogLine(pending[:len(pending)-1]); perr == nil {
				if lw.write(l) != nil {
					return
				}
			}
			pending = pending[:0]
			continue
		}
		if err != io.EOF {
			return
		}
		fw.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		if rotated(f, path) {
			nf, err := os.Open(path)
			if err != nil {
				continue
			}
			f.Close()
			f = nf
			br.Reset(f)
			pending = pending[:0]
		}
	}
}

// rotated reports whether path now names another file than f.
func rotated(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	if err1 != nil || err2 != nil {
		return false
	}
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && (sa.Ino != sb.Ino || sa.Dev != sb.Dev)
}

type flushWriter struct {
	w     io.Writer
	flush func()
}

func (f *flushWriter) Write(p []byte) (int, error) { return f.w.Write(p) }

// Flush sends what was written so far to the client.
func (f *flushWriter) Flush() {
	if f.flush != nil {
		f.flush()
	}
}
