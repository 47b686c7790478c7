package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Record is one revision of the changelog as it is stored: what a standby
// copies to follow the store.
type Record struct {
	Rev  int64
	Data []byte
}

// Records returns up to max changelog records above afterRev, oldest
// first. A start below the compacted revision fails with ErrCompacted:
// the follower needs a snapshot.
func (s *Store) Records(afterRev int64, max int) ([]Record, error) {
	if afterRev < s.compacted.Load() {
		return nil, fmt.Errorf("records after %d: %w (compacted up to %d)", afterRev, ErrCompacted, s.compacted.Load())
	}
	var out []Record
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(changelogBucket)).Cursor()
		for k, v := c.Seek(revKey(afterRev + 1)); k != nil && len(out) < max; k, v = c.Next() {
			rev, err := keyRev(k)
			if err != nil {
				return err
			}
			out = append(out, Record{Rev: rev, Data: append([]byte(nil), v...)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("records after %d: %w", afterRev, err)
	}
	if afterRev < s.compacted.Load() {
		// Compaction ran while reading: the first records may be gone.
		return nil, fmt.Errorf("records after %d: %w", afterRev, ErrCompacted)
	}
	return out, nil
}

// Apply writes records copied from another store's changelog, which must
// continue this store's revisions exactly. The data buckets change as
// they changed there, the records join this changelog, and watchers see
// the changes. Apply is for a store nobody else commits to: a standby.
func (s *Store) Apply(ctx context.Context, recs []Record) (int64, error) {
	if len(recs) == 0 {
		return s.Revision(), nil
	}
	for _, r := range recs {
		if _, err := decodeRecord(r.Rev, r.Data); err != nil {
			return 0, fmt.Errorf("apply: %w", err)
		}
	}
	req := &request{ctx: ctx, records: recs, done: make(chan result, 1)}
	select {
	case s.reqs <- req:
	case <-s.closing:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	res := <-req.done
	return res.rev, res.err
}

// ErrGap is the error of Apply given records that do not continue the
// store's revisions.
var ErrGap = errors.New("records do not continue the store's revisions")

// applyRecords writes replicated records inside the writer's transaction
// at the revisions after rev, returning the records written. Every record
// is checked before anything is written, so a refused request leaves the
// transaction as it was.
func applyRecords(tx *bolt.Tx, recs []Record, rev int64) ([][]byte, error) {
	decoded := make([][]change, len(recs))
	for i, r := range recs {
		if r.Rev != rev+1+int64(i) {
			return nil, fmt.Errorf("%w: got revision %d after %d", ErrGap, r.Rev, rev+int64(i))
		}
		changes, err := decodeRecord(r.Rev, r.Data)
		if err != nil {
			return nil, err
		}
		for _, c := range changes {
			if isReserved(c.Bucket) || checkBucketName(c.Bucket) != nil {
				return nil, fmt.Errorf("record %d: bucket %q: %w", r.Rev, c.Bucket, errCorrupt)
			}
		}
		decoded[i] = changes
	}
	log := tx.Bucket([]byte(changelogBucket))
	out := make([][]byte, 0, len(recs))
	for i, r := range recs {
		for _, c := range decoded[i] {
			if err := applyChange(tx, c); err != nil {
				return nil, fmt.Errorf("%w: record %d %s/%s: %v", errTxBroken, r.Rev, c.Bucket, c.Key, err)
			}
		}
		if err := log.Put(revKey(r.Rev), r.Data); err != nil {
			return nil, fmt.Errorf("%w: write changelog: %v", errTxBroken, err)
		}
		out = append(out, r.Data)
	}
	return out, nil
}

func applyChange(tx *bolt.Tx, c change) error {
	if c.Type == Removed {
		if b := tx.Bucket([]byte(c.Bucket)); b != nil {
			return b.Delete([]byte(c.Key))
		}
		return nil
	}
	b, err := tx.CreateBucketIfNotExists([]byte(c.Bucket))
	if err != nil {
		return err
	}
	return b.Put([]byte(c.Key), c.Value)
}

// InstallSnapshot replaces the store file at path with a snapshot read
// from r (as SnapshotTo writes it), atomically: the file is either the
// old one or the whole snapshot. The store at path must be closed.
func InstallSnapshot(path string, r io.Reader) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".snapshot-*")
	if err != nil {
		return 0, fmt.Errorf("install snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("install snapshot: %w", err)
	}
	// The copy must open as a store before it replaces anything.
	db, err := bolt.Open(tmp.Name(), 0o600, &bolt.Options{Timeout: openTimeout, ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("install snapshot: not a store: %w", err)
	}
	var rev int64
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(metaBucket))
		if meta == nil || tx.Bucket([]byte(changelogBucket)) == nil {
			return fmt.Errorf("no store buckets: %w", errCorrupt)
		}
		var err error
		rev, err = metaInt(meta, metaRevision)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("install snapshot: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, fmt.Errorf("install snapshot: %w", err)
	}
	return rev, syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// RecordAt returns the changelog record of revision rev; ErrNotFound
// when the changelog does not hold it (compacted, not yet written, or the
// store's first revision, which has none).
func (s *Store) RecordAt(rev int64) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket([]byte(changelogBucket)).Get(revKey(rev))
		if v == nil {
			return ErrNotFound
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}
