package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// formatVersion is the layout this code writes, kept in the meta bucket.
const formatVersion = 1

// Keys of the meta bucket.
var (
	metaRevision  = []byte("revision")
	metaCompacted = []byte("compacted")
	metaFormat    = []byte("format")
)

// openTimeout bounds the wait for the file lock another process holds.
const openTimeout = 2 * time.Second

// Store is the coordinator's desired state on bbolt. Its methods are safe for
// concurrent use.
type Store struct {
	cfg Config
	db  *bolt.DB

	revision  atomic.Int64 // last committed revision
	batches   atomic.Int64 // write transactions attempted, for tests
	compacted atomic.Int64 // changelog holds every revision above this

	reqs       chan *request
	closing    chan struct{} // closed by Close: stop taking commits
	writerDone chan struct{} // closed when the writer goroutine returns
	closeOnce  sync.Once
	closeErr   error
	closed     atomic.Bool

	watchMu  sync.Mutex
	watchers map[*Watcher]struct{}
	watchWG  sync.WaitGroup
}

// Open opens (or creates) the store at cfg.Path and starts its writer.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{
		Timeout: openTimeout,
		// The freelist is rebuilt on open instead of being written by
		// every commit: fewer pages per fsync.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", cfg.Path, err)
	}
	s := &Store{
		cfg:        cfg,
		db:         db,
		reqs:       make(chan *request, cfg.MaxBatch),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
		watchers:   make(map[*Watcher]struct{}),
	}
	if err := s.initMeta(); err != nil {
		return nil, errors.Join(fmt.Errorf("open store %s: %w", cfg.Path, err), db.Close())
	}
	go s.runWriter()
	return s, nil
}

// initMeta creates the store's own buckets on a new file and loads the
// revisions of an existing one.
func (s *Store) initMeta() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists([]byte(metaBucket))
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists([]byte(changelogBucket)); err != nil {
			return err
		}
		if meta.Get(metaFormat) == nil {
			for k, v := range map[string]int64{string(metaFormat): formatVersion, string(metaRevision): 1, string(metaCompacted): 1} {
				if err := meta.Put([]byte(k), int64Bytes(v)); err != nil {
					return err
				}
			}
		}
		format, err := metaInt(meta, metaFormat)
		if err != nil {
			return err
		}
		if format != formatVersion {
			return fmt.Errorf("store format %d, this build reads %d", format, formatVersion)
		}
		rev, err := metaInt(meta, metaRevision)
		if err != nil {
			return err
		}
		compacted, err := metaInt(meta, metaCompacted)
		if err != nil {
			return err
		}
		s.revision.Store(rev)
		s.compacted.Store(compacted)
		return nil
	})
}

func int64Bytes(v int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(v))
	return b
}

func metaInt(meta *bolt.Bucket, key []byte) (int64, error) {
	v := meta.Get(key)
	if len(v) != 8 {
		return 0, fmt.Errorf("meta %s: %d bytes: %w", key, len(v), errCorrupt)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// Close stops the writer, fails every commit that has not started with
// ErrClosed, ends every watcher with ErrClosed and closes the file. A batch
// already being written is finished first. Calling Close again returns nil.
func (s *Store) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.closed.Store(true)
		close(s.closing)
		<-s.writerDone
		s.haltWatchers(ErrClosed)
		s.watchWG.Wait()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close store %s: %w", s.cfg.Path, err)
		}
	})
	if !first {
		return nil
	}
	return s.closeErr
}

// Revision returns the last committed revision (1 for a new store).
func (s *Store) Revision() int64 { return s.revision.Load() }

// Compacted returns the compacted revision: the changelog holds every
// revision above it, and a watch must start at or after it.
func (s *Store) Compacted() int64 { return s.compacted.Load() }

// view runs fn in a read transaction, mapping a closed database to ErrClosed.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.db.View(fn)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Get returns the value of key in bucket, or an error wrapping ErrNotFound.
func (s *Store) Get(bucket, key string) (KV, error) {
	var kv KV
	err := s.view(func(tx *bolt.Tx) error {
		var v []byte
		if b := tx.Bucket([]byte(bucket)); b != nil && !isReserved(bucket) {
			v = b.Get([]byte(key))
		}
		if v == nil {
			return ErrNotFound
		}
		var err error
		kv, err = s.decodeKV(bucket, key, v)
		return err
	})
	if err != nil {
		return KV{}, fmt.Errorf("get %s/%s: %w", bucket, key, err)
	}
	return kv, nil
}

// List returns the values of bucket whose keys start with prefix, sorted by
// key, and the store revision of the snapshot they were read from.
func (s *Store) List(bucket, prefix string) ([]KV, int64, error) {
	var (
		kvs []KV
		rev int64
	)
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		if rev, err = metaInt(tx.Bucket([]byte(metaBucket)), metaRevision); err != nil {
			return err
		}
		b := tx.Bucket([]byte(bucket))
		if b == nil || isReserved(bucket) {
			return nil
		}
		c := b.Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			kv, err := s.decodeKV(bucket, string(k), v)
			if err != nil {
				return err
			}
			kvs = append(kvs, kv)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list %s/%s: %w", bucket, prefix, err)
	}
	return kvs, rev, nil
}

// SnapshotTo writes a consistent copy of the whole bbolt file to w and
// returns the revision it holds. The copy opens as a Store.
func (s *Store) SnapshotTo(w io.Writer) (int64, error) {
	var rev int64
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		if rev, err = metaInt(tx.Bucket([]byte(metaBucket)), metaRevision); err != nil {
			return err
		}
		_, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("snapshot store: %w", err)
	}
	return rev, nil
}

func isReserved(bucket string) bool {
	return bucket == changelogBucket || bucket == metaBucket
}

// decodeKV turns a stored value read inside a transaction into a KV that
// owns its bytes.
func (s *Store) decodeKV(bucket, key string, v []byte) (KV, error) {
	modRev, createRev, payload, err := header(v)
	if err != nil {
		return KV{}, err
	}
	plain, err := s.openValue(bucket, payload)
	if err != nil {
		return KV{}, err
	}
	return KV{Key: key, Value: plain, ModRevision: modRev, CreateRevision: createRev}, nil
}

// openValue returns a fresh copy of payload opened with the bucket's
// transformer, if it has one. payload may alias bbolt memory.
func (s *Store) openValue(bucket string, payload []byte) ([]byte, error) {
	cp := bytes.Clone(payload)
	if cp == nil {
		cp = []byte{}
	}
	t := s.cfg.Transformers[bucket]
	if t == nil {
		return cp, nil
	}
	plain, err := t.Open(cp)
	if err != nil {
		return nil, fmt.Errorf("open value of bucket %s: %w", bucket, err)
	}
	return plain, nil
}

// sealValue seals plain with the bucket's transformer, if it has one.
func (s *Store) sealValue(bucket string, plain []byte) ([]byte, error) {
	t := s.cfg.Transformers[bucket]
	if t == nil {
		return plain, nil
	}
	sealed, err := t.Seal(plain)
	if err != nil {
		return nil, fmt.Errorf("seal value of bucket %s: %w", bucket, err)
	}
	return sealed, nil
}

// matches reports whether key of bucket is selected by a bucket filter
// ("" for all) and a key prefix.
func matches(bucketFilter, prefix, bucket, key string) bool {
	return (bucketFilter == "" || bucketFilter == bucket) && strings.HasPrefix(key, prefix)
}
