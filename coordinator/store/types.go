package store

import (
	"errors"
	"fmt"
)

// Errors callers branch on. Commit wraps them in *OpError.
var (
	// ErrNotFound: the key does not exist (Get, update, delete).
	ErrNotFound = errors.New("not found")
	// ErrExists: a create found the key already present.
	ErrExists = errors.New("already exists")
	// ErrConflict: the key's modification revision is not the expected one.
	ErrConflict = errors.New("revision conflict")
	// ErrCompacted: a watch asked for revisions the changelog no longer holds.
	ErrCompacted = errors.New("revision compacted")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store closed")
	// ErrTooSlow: a watcher fell more than Config.WatchBuffer events behind
	// and was dropped; watch again from the last revision it delivered.
	ErrTooSlow = errors.New("watcher too slow")
)

// OpKind is what an Op does to its key.
type OpKind uint8

const (
	// Create writes a key that must not exist.
	Create OpKind = iota + 1
	// Update writes a key that must exist (at ExpectRev when that is not 0).
	Update
	// Delete removes a key that must exist (at ExpectRev when that is not 0).
	Delete
)

// String names the kind for errors and logs.
func (k OpKind) String() string {
	switch k {
	case Create:
		return "create"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Op is one write inside an atomic Commit.
type Op struct {
	Kind   OpKind
	Bucket string
	Key    string
	// ExpectRev, when not 0, is the modification revision the key must have
	// (Update, Delete).
	ExpectRev int64
	// Value encodes the value to store, given the revision the commit is
	// written at (so objects can carry their resourceVersion). Create, Update.
	Value func(rev int64) ([]byte, error)
}

// OpError says which op of a Commit failed and why; it unwraps to one of the
// sentinels above or to the error Value returned.
type OpError struct {
	Index       int
	Op          OpKind
	Bucket, Key string
	Err         error
}

// Error says which op failed and why.
func (e *OpError) Error() string {
	return fmt.Sprintf("%s %s/%s: %v", e.Op, e.Bucket, e.Key, e.Err)
}

// Unwrap returns the cause, for errors.Is and errors.As.
func (e *OpError) Unwrap() error { return e.Err }

// KV is a stored value with its revisions.
type KV struct {
	Key   string
	Value []byte
	// ModRevision is the revision of the last write to the key.
	ModRevision int64
	// CreateRevision is the revision at which the key was created.
	CreateRevision int64
}

// EventType is what happened to a key.
type EventType uint8

const (
	// Put is a create or an update (Prev is nil for a create).
	Put EventType = iota + 1
	// Removed is a delete; Prev holds the last value.
	Removed
)

// Event is one changelog entry as a watcher sees it.
type Event struct {
	Type   EventType
	Rev    int64
	Bucket string
	Key    string
	// Value is the new value (nil for Removed).
	Value []byte
	// Prev is the value before this change (nil for a create).
	Prev []byte
	// CreateRevision is the revision at which the key was created (for
	// Removed, of the key that was removed).
	CreateRevision int64
	// PrevRevision is the modification revision of Prev (0 for a create).
	PrevRevision int64
}

// Transformer seals values of one bucket before they reach disk (and the
// changelog) and opens them on the way back: encryption at rest.
type Transformer interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}
