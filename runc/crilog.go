package runc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// maxLogLine is the longest piece of a line written as one log entry;
// longer lines are split into partial ("P") entries.
const maxLogLine = 16 << 10

// logFile writes CRI-format entries ("<RFC3339Nano> <stream> <F|P>
// <text>\n") to path, rotating by size: path is the live file and
// path.1 ... path.<files-1> the older ones, newest first. It is safe for
// concurrent use by the stdout and stderr copiers.
type logFile struct {
	path     string
	maxBytes int64
	files    int
	now      func() time.Time

	mu   sync.Mutex
	f    *os.File
	size int64
}

// openLogFile opens (appending to) the live log file.
func openLogFile(path string, maxBytes int64, files int, now func() time.Time) (*logFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	l := &logFile{path: path, maxBytes: maxBytes, files: files, now: now}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat log: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// rotate shifts path.i to path.i+1, dropping the oldest, and starts a new
// live file.
func (l *logFile) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("close log: %w", err)
	}
	if l.files <= 1 {
		if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate log: %w", err)
		}
		return l.open()
	}
	for i := l.files - 1; i >= 1; i-- {
		from := l.path
		if i > 1 {
			from = l.path + "." + strconv.Itoa(i-1)
		}
		if err := os.Rename(from, l.path+"."+strconv.Itoa(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	return l.open()
}

// entry writes one log entry; partial marks a piece of a longer line.
func (l *logFile) entry(stream string, text []byte, partial bool) error {
	tag := "F"
	if partial {
		tag = "P"
	}
	buf := make([]byte, 0, len(text)+64)
	buf = l.now().UTC().AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, ' ')
	buf = append(buf, stream...)
	buf = append(buf, ' ')
	buf = append(buf, tag...)
	buf = append(buf, ' ')
	buf = append(buf, text...)
	buf = append(buf, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size > 0 && l.size+int64(len(buf)) > l.maxBytes {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(buf)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	return nil
}

// Close closes the live file.
func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// copyLines copies r to the log as stream until EOF, one entry per line
// (without its newline); pieces of lines longer than maxLogLine become
// partial entries and a last unterminated line is written as full.
func (l *logFile) copyLines(stream string, r io.Reader) error {
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			if werr := l.entry(stream, line[:len(line)-1], false); werr != nil {
				return werr
			}
		case errors.Is(err, bufio.ErrBufferFull):
			if werr := l.entry(stream, line, true); werr != nil {
				return werr
			}
		case errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed):
			if len(line) > 0 {
				return l.entry(stream, line, false)
			}
			return nil
		default:
			if len(line) > 0 {
				if werr := l.entry(stream, line, false); werr != nil {
					return werr
				}
			}
			return fmt.Errorf("read %s: %w", stream, err)
		}
	}
}
