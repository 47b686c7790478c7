package nodeapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// A CRI log line: "<RFC3339Nano time> <stream> <P|F> <content>", where P
// marks a partial line continued by the next and F a full one.
type logLine struct {
	Time    time.Time
	Stream  string
	Partial bool
	Content []byte
}

var errBadLine = errors.New("not a CRI log line")

// parseLogLine parses one CRI log line (without its newline).
func parseLogLine(b []byte) (logLine, error) {
	var l logLine
	ts, rest, ok := bytes.Cut(b, []byte{' '})
	if !ok {
		return l, errBadLine
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return l, fmt.Errorf("%w: time %q: %v", errBadLine, ts, err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != "stdout" && string(stream) != "stderr") {
		return l, fmt.Errorf("%w: stream %q", errBadLine, stream)
	}
	tag, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		// An empty full line is "TIME stream F" with nothing after the tag.
		tag, content = rest, nil
	}
	switch string(tag) {
	case "P":
		l.Partial = true
	case "F":
	default:
		return l, fmt.Errorf("%w: tag %q", errBadLine, tag)
	}
	l.Time, l.Stream, l.Content = t, string(stream), content
	return l, nil
}

// LogOptions select what a log request returns, as kubectl logs asks.
type LogOptions struct {
	// Timestamps prefixes each line with its RFC3339Nano time.
	Timestamps bool
	// TailLines keeps only the last N lines; negative means all.
	TailLines int64
	// Since drops lines older than this time; zero keeps all.
	Since time.Time
	// LimitBytes stops after this many bytes; zero means no limit.
	LimitBytes int64
	// Stream selects "stdout", "stderr" or both ("").
	Stream string
}

// lineWriter turns CRI log lines into what a client sees: content joined
// across partial lines, optionally timestamped, within the byte limit.
type lineWriter struct {
	w       io.Writer
	opts    LogOptions
	written int64
	partial bool
}

var errLimit = errors.New("log byte limit reached")

// write emits one parsed line. It returns errLimit once LimitBytes is met.
func (lw *lineWriter) write(l logLine) error {
	if lw.opts.Stream != "" && l.Stream != lw.opts.Stream {
		return nil
	}
	if !lw.opts.Since.IsZero() && l.Time.Before(lw.opts.Since) {
		return nil
	}
	var out []byte
	if lw.opts.Timestamps && !lw.partial {
		out = append(out, l.Time.UTC().Format(time.RFC3339Nano)...)
		out = append(out, ' ')
	}
	out = append(out, l.Content...)
	if !l.Partial {
		out = append(out, '\n')
	}
	lw.partial = l.Partial
	if lw.opts.LimitBytes > 0 && lw.written+int64(len(out)) > lw.opts.LimitBytes {
		out = out[:lw.opts.LimitBytes-lw.written]
		lw.w.Write(out)
		lw.written = lw.opts.LimitBytes
		return errLimit
	}
	n, err := lw.w.Write(out)
	lw.written += int64(n)
	return err
}

// copyLog writes the lines of a CRI log read from r, skipping lines that
// do not parse (a torn last line after a crash, say).
func copyLog(r io.Reader, lw *lineWriter) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l, err := parseLogLine(sc.Bytes())
		if err != nil {
			continue
		}
		if err := lw.write(l); err != nil {
			return err
		}
	}
	return sc.Err()
}

// tailOffset returns the offset in data where its last n CRI log lines
// start, counting only full lines (a partial line belongs to the full line
// that ends it).
func tailOffset(data []byte, n int64) int {
	if n < 0 {
		return 0
	}
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	var full int64
	for i := end; i > 0; {
		j := bytes.LastIndexByte(data[:i], '\n')
		line := data[j+1 : i]
		if l, err := parseLogLine(line); err == nil && !l.Partial {
			full++
			if full > n {
				return i + 1
			}
		}
		if j < 0 {
			break
		}
		i = j
	}
	return 0
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
