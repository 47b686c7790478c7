package main

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCommandConn_closeKillsChildThatIgnoresEOF(t *testing.T) {
	conn, err := startCommandConn("sh", []string{"-c", "exec sleep 600"}, nil, sshAddr("x"))
	if err != nil {
		t.Fatal(err)
	}
	conn.grace = 50 * time.Millisecond
	if err := conn.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case <-conn.done:
	default:
		t.Fatal("child still running after Close")
	}
	if err := conn.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := conn.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("write after close: %v, want os.ErrClosed", err)
	}
}

func TestCommandConn_cleanExitIsEOF(t *testing.T) {
	conn, err := startCommandConn("sh", []string{"-c", "printf hello"}, nil, sshAddr("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out, err := io.ReadAll(conn)
	if err != nil || string(out) != "hello" {
		t.Fatalf("ReadAll = %q, %v; want hello, nil", out, err)
	}
}

func TestCommandConn_deadline(t *testing.T) {
	conn, err := startCommandConn("sh", []string{"-c", "exec cat"}, nil, sshAddr("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now()); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestCommandConn_startFailureNamesCommand(t *testing.T) {
	_, err := startCommandConn("/nonexistent/ssh", []string{"-T", "h"}, nil, sshAddr("h"))
	if err == nil || !strings.Contains(err.Error(), "start /nonexistent/ssh -T h") {
		t.Fatalf("err = %v", err)
	}
}

func TestTailWriter_keepsLastLine(t *testing.T) {
	w := &tailWriter{max: 16}
	io.WriteString(w, "first line that is long\nsecond\n\n")
	if got := w.lastLine(); got != "second" {
		t.Fatalf("lastLine = %q, want second", got)
	}
}
