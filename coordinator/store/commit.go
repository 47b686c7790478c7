package store

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// request is one Commit waiting for the writer.
type request struct {
	ctx context.Context
	ops []Op
	// records, instead of ops, are replicated revisions to apply.
	records []Record
	done    chan result // buffered: the writer never waits for the caller
}

type result struct {
	rev int64
	err error
}

// Commit applies ops atomically at one new revision and returns it once the
// data is fsynced. If an op's precondition fails, or its Value returns an
// error, nothing of the commit is written and the error is an *OpError.
//
// Value functions run on the writer goroutine inside the write transaction:
// they must be quick and must not call the Store.
//
// ctx is honoured until the writer takes the commit (a commit whose ctx is
// done by then is not applied); after that Commit waits for the outcome, so
// an error always means nothing was written.
func (s *Store) Commit(ctx context.Context, ops ...Op) (int64, error) {
	if err := checkOps(ops); err != nil {
		return 0, err
	}
	if s.closed.Load() {
		return 0, ErrClosed
	}
	r := &request{ctx: ctx, ops: ops, done: make(chan result, 1)}
	select {
	case s.reqs <- r:
	case <-s.closing:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.rev, res.err
	case <-s.writerDone:
		// The writer answers everything it took before it returns.
		select {
		case res := <-r.done:
			return res.rev, res.err
		default:
			return 0, ErrClosed
		}
	}
}

// checkOps refuses commits the writer could not apply, before they reach it.
func checkOps(ops []Op) error {
	if len(ops) == 0 {
		return errors.New("commit: no ops")
	}
	type bk struct{ bucket, key string }
	seen := make(map[bk]struct{}, len(ops))
	for i, op := range ops {
		fail := func(err error) error {
			return &OpError{Index: i, Op: op.Kind, Bucket: op.Bucket, Key: op.Key, Err: err}
		}
		if err := checkBucketName(op.Bucket); err != nil {
			return fail(err)
		}
		switch {
		case op.Key == "":
			return fail(errors.New("empty key"))
		case len(op.Key) > bolt.MaxKeySize:
			return fail(fmt.Errorf("key of %d bytes, the limit is %d", len(op.Key), bolt.MaxKeySize))
		}
		switch op.Kind {
		case Create, Update:
			if op.Value == nil {
				return fail(errors.New("no Value function"))
			}
		case Delete:
		default:
			return fail(errors.New("unknown op kind"))
		}
		if _, dup := seen[bk{op.Bucket, op.Key}]; dup {
			return fail(errors.New("key written twice in one commit"))
		}
		seen[bk{op.Bucket, op.Key}] = struct{}{}
	}
	return nil
}

// runWriter is the single writer: it batches waiting commits into one bbolt
// transaction each until Close.
func (s *Store) runWriter() {
	defer close(s.writerDone)
	batch := make([]*request, 0, s.cfg.MaxBatch)
	for {
		select {
		case <-s.closing:
			s.failWaiting()
			return
		default:
		}
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		case <-s.closing:
			s.failWaiting()
			return
		}
	fill:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.writeBatch(batch)
		clear(batch)
	}
}

// failWaiting answers every queued commit with ErrClosed.
func (s *Store) failWaiting() {
	for {
		select {
		case r := <-s.reqs:
			r.done <- result{err: ErrClosed}
		default:
			return
		}
	}
}

// errNothingWritten rolls back a batch in which every commit failed, so it
// costs no fsync.
var errNothingWritten = errors.New("nothing written")

// writeBatch applies batch in one transaction, fsyncs, publishes the changes
// to watchers and answers every commit.
func (s *Store) writeBatch(batch []*request) {
	s.batches.Add(1)
	results := make([]result, len(batch))
	records := make([][]byte, 0, len(batch))
	base := s.revision.Load()
	rev, compacted := base, s.compacted.Load()
	err := s.db.Update(func(tx *bolt.Tx) error {
		log := tx.Bucket([]byte(changelogBucket))
		log.FillPercent = 1 // keys only ever grow
		rev, compacted, records = base, s.compacted.Load(), records[:0]
		for i, r := range batch {
			if err := r.ctx.Err(); err != nil {
				results[i] = result{err: err}
				continue
			}
			if r.records != nil {
				recs, err := applyRecords(tx, r.records, rev)
				if err != nil {
					if errors.Is(err, errTxBroken) {
						return err
					}
					results[i] = result{err: fmt.Errorf("apply: %w", err)}
					continue
				}
				rev += int64(len(recs))
				results[i] = result{rev: rev}
				records = append(records, recs...)
				continue
			}
			rec, err := s.applyCommit(tx, r.ops, rev+1)
			if err != nil {
				if errors.Is(err, errTxBroken) {
					return err
				}
				results[i] = result{err: err}
				continue
			}
			if err := log.Put(revKey(rev+1), rec); err != nil {
				return fmt.Errorf("write changelog: %w", err)
			}
			rev++
			results[i] = result{rev: rev}
			records = append(records, rec)
		}
		if rev == base {
			return errNothingWritten
		}
		var err error
		if compacted, err = s.compact(tx, rev, compacted); err != nil {
			return err
		}
		meta := tx.Bucket([]byte(metaBucket))
		if err := meta.Put(metaRevision, int64Bytes(rev)); err != nil {
			return fmt.Errorf("write revision: %w", err)
		}
		return nil
	})
	switch {
	case errors.Is(err, errNothingWritten):
	case err != nil:
		for i := range results {
			results[i] = result{err: fmt.Errorf("commit: %w", err)}
		}
	default:
		s.revision.Store(rev)
		s.compacted.Store(compacted)
		s.publish(base, records)
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

// errTxBroken marks a bbolt failure in the middle of a commit's writes: the
// transaction can no longer be trusted and the whole batch fails.
var errTxBroken = errors.New("write transaction broken")

// staged is one checked op of a commit, ready to write.
type staged struct {
	bucket *bolt.Bucket // nil for a create in a new bucket
	stored []byte       // new stored value; nil for Delete
	prev   []byte       // previous stored value, aliasing bbolt memory
}

// applyCommit checks every op of a commit against the transaction, then
// writes them all at rev and returns the changelog record. On an *OpError
// nothing has been written.
func (s *Store) applyCommit(tx *bolt.Tx, ops []Op, rev int64) ([]byte, error) {
	st := make([]staged, len(ops))
	fail := func(i int, err error) error {
		op := ops[i]
		return &OpError{Index: i, Op: op.Kind, Bucket: op.Bucket, Key: op.Key, Err: err}
	}
	// Preconditions first: they read only headers.
	for i, op := range ops {
		b := tx.Bucket([]byte(op.Bucket))
		var cur []byte
		if b != nil {
			cur = b.Get([]byte(op.Key))
		}
		st[i] = staged{bucket: b, prev: cur}
		if op.Kind == Create {
			if cur != nil {
				return nil, fail(i, ErrExists)
			}
			continue
		}
		if cur == nil {
			return nil, fail(i, ErrNotFound)
		}
		modRev, _, _, err := header(cur)
		if err != nil {
			return nil, fail(i, err)
		}
		if op.ExpectRev != 0 && modRev != op.ExpectRev {
			return nil, fail(i, fmt.Errorf("%w: expected revision %d, key is at %d", ErrConflict, op.ExpectRev, modRev))
		}
	}
	// Then the values, still without writing.
	changes := make([]change, len(ops))
	for i, op := range ops {
		changes[i] = change{Rev: rev, Type: Put, Bucket: op.Bucket, Key: op.Key, Prev: st[i].prev}
		if op.Kind == Delete {
			changes[i].Type = Removed
			continue
		}
		createRev := rev
		if st[i].prev != nil {
			_, createRev, _, _ = header(st[i].prev) // checked above
		}
		plain, err := op.Value(rev)
		if err != nil {
			return nil, fail(i, err)
		}
		sealed, err := s.sealValue(op.Bucket, plain)
		if err != nil {
			return nil, fail(i, err)
		}
		if int64(headerSize+len(sealed)) > bolt.MaxValueSize {
			return nil, fail(i, fmt.Errorf("value of %d bytes is too large", len(sealed)))
		}
		st[i].stored = stamp(rev, createRev, sealed)
		changes[i].Value = st[i].stored
	}
	// The record copies the previous values before the writes can move them.
	rec := encodeRecord(changes)
	for i, op := range ops {
		if err := st[i].write(tx, op); err != nil {
			return nil, fmt.Errorf("%w: %s %s/%s: %w", errTxBroken, op.Kind, op.Bucket, op.Key, err)
		}
	}
	return rec, nil
}

func (st staged) write(tx *bolt.Tx, op Op) error {
	if op.Kind == Delete {
		return st.bucket.Delete([]byte(op.Key))
	}
	b := st.bucket
	if b == nil {
		// An earlier op of this batch may have created it since the check.
		var err error
		if b, err = tx.CreateBucketIfNotExists([]byte(op.Bucket)); err != nil {
			return err
		}
	}
	return b.Put([]byte(op.Key), st.stored)
}

// minCompactChunk is the least number of changelog entries one batch may
// compact. A batch adds at most MaxBatch revisions and removes up to twice
// that, so compaction keeps up without ever issuing a giant delete.
const minCompactChunk = 1024

// compactChunk is how many changelog entries one batch may delete.
func (s *Store) compactChunk() int64 {
	return max(minCompactChunk, 2*int64(s.cfg.MaxBatch))
}

// compact deletes the oldest changelog entries beyond the retention, at most
// one chunk of them, inside the writer's transaction at revision rev. It
// returns the new compacted revision and records it in the meta bucket.
func (s *Store) compact(tx *bolt.Tx, rev, compacted int64) (int64, error) {
	limit := rev - s.cfg.ChangelogRetention
	if limit <= compacted {
		return compacted, nil
	}
	end := min(limit, compacted+s.compactChunk())
	log := tx.Bucket([]byte(changelogBucket))
	// Every revision above the compacted one has exactly one record, so
	// the keys are known and no cursor is needed.
	for r := compacted + 1; r <= end; r++ {
		if err := log.Delete(revKey(r)); err != nil {
			return 0, fmt.Errorf("compact changelog at %d: %w", r, err)
		}
	}
	if err := tx.Bucket([]byte(metaBucket)).Put(metaCompacted, int64Bytes(end)); err != nil {
		return 0, fmt.Errorf("write compacted revision: %w", err)
	}
	return end, nil
}
