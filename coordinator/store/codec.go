package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// headerSize is the length of the revision header in front of every stored
// value: modification revision, then creation revision, both big-endian.
const headerSize = 16

// recordVersion is the first byte of every changelog record.
const recordVersion = 1

// Flags of one change inside a changelog record.
const (
	flagValue = 1 << iota // the change carries a new stored value
	flagPrev              // the change carries the previous stored value
)

var errCorrupt = errors.New("corrupt data")

// revKey is the changelog key of rev.
func revKey(rev int64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, uint64(rev))
	return k
}

// keyRev decodes a changelog key.
func keyRev(k []byte) (int64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("changelog key of %d bytes: %w", len(k), errCorrupt)
	}
	return int64(binary.BigEndian.Uint64(k)), nil
}

// stamp returns a new stored value: header followed by payload.
func stamp(modRev, createRev int64, payload []byte) []byte {
	v := make([]byte, headerSize+len(payload))
	binary.BigEndian.PutUint64(v[0:8], uint64(modRev))
	binary.BigEndian.PutUint64(v[8:16], uint64(createRev))
	copy(v[headerSize:], payload)
	return v
}

// header splits a stored value into its revisions and its (still sealed)
// payload. The payload aliases v.
func header(v []byte) (modRev, createRev int64, payload []byte, err error) {
	if len(v) < headerSize {
		return 0, 0, nil, fmt.Errorf("stored value of %d bytes, shorter than its header: %w", len(v), errCorrupt)
	}
	modRev = int64(binary.BigEndian.Uint64(v[0:8]))
	createRev = int64(binary.BigEndian.Uint64(v[8:16]))
	return modRev, createRev, v[headerSize:], nil
}

// change is one entry of a changelog record. Value and Prev are stored
// values (header and sealed payload); Value is nil for Removed, Prev is nil
// for a create.
type change struct {
	Rev    int64
	Type   EventType
	Bucket string
	Key    string
	Value  []byte
	Prev   []byte
}

// encodeRecord serialises the changes of one commit:
//
//	version byte, uvarint count, then per change:
//	type byte, uvarint len + bucket, uvarint len + key, flags byte,
//	[uvarint len + value], [uvarint len + prev]
//
// The revision is the record's key, not part of the record.
func encodeRecord(changes []change) []byte {
	size := 1 + binary.MaxVarintLen64
	for _, c := range changes {
		size += 2 + 4*binary.MaxVarintLen64 + len(c.Bucket) + len(c.Key) + len(c.Value) + len(c.Prev)
	}
	b := make([]byte, 0, size)
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, uint64(len(changes)))
	for _, c := range changes {
		b = append(b, byte(c.Type))
		b = appendBytes(b, []byte(c.Bucket))
		b = appendBytes(b, []byte(c.Key))
		var flags byte
		if c.Value != nil {
			flags |= flagValue
		}
		if c.Prev != nil {
			flags |= flagPrev
		}
		b = append(b, flags)
		if c.Value != nil {
			b = appendBytes(b, c.Value)
		}
		if c.Prev != nil {
			b = appendBytes(b, c.Prev)
		}
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decodeRecord parses a changelog record written at rev. Value and Prev of
// the result alias rec. Records come from disk and, for standbys, from the
// network, so every length is checked.
func decodeRecord(rev int64, rec []byte) ([]change, error) {
	d := decoder{b: rec}
	if v := d.byte(); v != recordVersion {
		return nil, fmt.Errorf("changelog record %d: version %d: %w", rev, v, errCorrupt)
	}
	n := d.uvarint()
	// Each change takes at least 4 bytes, so a larger count is a lie.
	if d.err != nil || n == 0 || n > uint64(len(rec))/4 {
		return nil, fmt.Errorf("changelog record %d: bad change count: %w", rev, errCorrupt)
	}
	changes := make([]change, 0, n)
	for i := uint64(0); i < n; i++ {
		c := change{Rev: rev, Type: EventType(d.byte())}
		c.Bucket = string(d.bytes())
		c.Key = string(d.bytes())
		flags := d.byte()
		if flags&flagValue != 0 {
			c.Value = d.bytes()
		}
		if flags&flagPrev != 0 {
			c.Prev = d.bytes()
		}
		if d.err != nil {
			return nil, fmt.Errorf("changelog record %d change %d: %w", rev, i, d.err)
		}
		if err := c.check(flags); err != nil {
			return nil, fmt.Errorf("changelog record %d change %d: %w", rev, i, err)
		}
		changes = append(changes, c)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("changelog record %d: %d trailing bytes: %w", rev, len(d.b), errCorrupt)
	}
	return changes, nil
}

// check refuses a decoded change that encodeRecord could not have written.
func (c change) check(flags byte) error {
	if flags&^(flagValue|flagPrev) != 0 {
		return fmt.Errorf("unknown flags %#x: %w", flags, errCorrupt)
	}
	if c.Bucket == "" || c.Key == "" {
		return fmt.Errorf("empty bucket or key: %w", errCorrupt)
	}
	switch c.Type {
	case Put:
		if c.Value == nil {
			return fmt.Errorf("put without value: %w", errCorrupt)
		}
	case Removed:
		if c.Value != nil || c.Prev == nil {
			return fmt.Errorf("removal must carry only the previous value: %w", errCorrupt)
		}
	default:
		return fmt.Errorf("event type %d: %w", c.Type, errCorrupt)
	}
	for _, v := range [][]byte{c.Value, c.Prev} {
		if v != nil && len(v) < headerSize {
			return fmt.Errorf("stored value of %d bytes, shorter than its header: %w", len(v), errCorrupt)
		}
	}
	return nil
}

// decoder reads a record front to back; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.err = fmt.Errorf("truncated: %w", errCorrupt)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("bad length: %w", errCorrupt)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a length-prefixed field, never nil when it succeeds.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("field of %d bytes with %d left: %w", n, len(d.b), errCorrupt)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
