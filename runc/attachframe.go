package runc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The attach endpoint speaks frames over one unix stream connection: a
// 1-byte type, a 4-byte big-endian payload length, then the payload.
// Each side opens with a hello; after it the shim sends output and the
// attacher sends input.
const (
	// frameHello opens each direction. From the shim its payload is one
	// byte of helloStdin, helloTTY and helloStdinOnce (what the container
	// has); from the attacher, helloStdin when it will send input.
	frameHello byte = 'h'
	// frameStdout and frameStderr carry output, shim to attacher.
	frameStdout byte = '1'
	frameStderr byte = '2'
	// frameDropped is the shim's last frame to an attacher that fell too
	// far behind the container's output; the connection closes after it.
	frameDropped byte = 'x'
	// frameStdin carries input, attacher to shim.
	frameStdin byte = 's'
	// frameStdinEnd says the attacher's input ended.
	frameStdinEnd byte = 'e'
	// frameResize carries a terminal size: width and height, 2 bytes each.
	frameResize byte = 'r'
)

// Hello flags.
const (
	helloStdin byte = 1 << iota
	helloTTY
	helloStdinOnce
)

// maxFramePayload bounds a frame's payload; longer data is split.
const maxFramePayload = 32 << 10

const frameHeader = 5

// writeFrame writes one frame in a single Write, so frames written under
// a lock never interleave.
func writeFrame(w io.Writer, typ byte, payload []byte) error {
	if len(payload) > maxFramePayload {
		return fmt.Errorf("attach frame of %d bytes: at most %d", len(payload), maxFramePayload)
	}
	buf := make([]byte, frameHeader+len(payload))
	buf[0] = typ
	binary.BigEndian.PutUint32(buf[1:frameHeader], uint32(len(payload)))
	copy(buf[frameHeader:], payload)
	_, err := w.Write(buf)
	return err
}

// readFrame reads one frame. A clean end between frames is io.EOF; a
// frame cut short is io.ErrUnexpectedEOF.
func readFrame(r io.Reader) (byte, []byte, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxFramePayload {
		return 0, nil, fmt.Errorf("attach frame %q of %d bytes: at most %d", h[0], n, maxFramePayload)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return h[0], p, nil
}

// readHello reads the first frame, which must be a hello, and returns
// its flags.
func readHello(r io.Reader) (byte, error) {
	typ, p, err := readFrame(r)
	if err != nil {
		return 0, fmt.Errorf("attach hello: %w", err)
	}
	if typ != frameHello || len(p) != 1 {
		return 0, fmt.Errorf("attach hello: got frame %q of %d bytes", typ, len(p))
	}
	return p[0], nil
}

func encodeSize(s TermSize) []byte {
	var b [4]byte
	binary.BigEndian.PutUint16(b[:2], s.Width)
	binary.BigEndian.PutUint16(b[2:], s.Height)
	return b[:]
}

func decodeSize(p []byte) (TermSize, error) {
	if len(p) != 4 {
		return TermSize{}, fmt.Errorf("attach resize of %d bytes: want 4", len(p))
	}
	return TermSize{Width: binary.BigEndian.Uint16(p[:2]), Height: binary.BigEndian.Uint16(p[2:])}, nil
}

// afterStdinEnd decides what an attacher's end of input means, as
// Kubernetes runtimes do: without a terminal, a stdinOnce container's
// stdin is closed and the attacher keeps receiving output until the
// container exits; otherwise (a terminal, or stdin kept open) the
// attacher detaches and the container's stdin stays open.
func afterStdinEnd(tty, stdinOnce bool) (closeStdin, detach bool) {
	if stdinOnce && !tty {
		return true, false
	}
	return false, true
}
