package coordinator

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/keel-edge/keel/coordinator/store"
)

// Replication paths, served to administrators (coordinator candidates hold
// the CA and present admin certificates).
const (
	// ReplicatePath streams changelog records after ?after=REV (with
	// &sum=, the RecordSum of the follower's record of REV): frames of
	// an 8-byte revision, a 4-byte length and the record, with an empty
	// frame (revision 0) as a heartbeat. 410 Gone when the changelog no
	// longer holds them: fetch SnapshotPath first.
	ReplicatePath = "/keel/v1/replicate"
	// SnapshotPath answers the whole store file, followed by the trailer
	// SnapshotTrailer: SnapshotComplete when every byte was sent.
	SnapshotPath     = "/keel/v1/snapshot"
	SnapshotTrailer  = "X-Keel-Snapshot"
	SnapshotComplete = "complete"
)

// replicaBatch is how many records one read of the changelog takes.
const replicaBatch = 512

// replication serves standbys from the store.
type replication struct {
	st        *store.Store
	poll      time.Duration
	heartbeat time.Duration
}

func (rp *replication) serveRecords(w http.ResponseWriter, r *http.Request) {
	after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if err != nil || after < 0 {
		http.Error(w, "after: a revision is required", http.StatusBadRequest)
		return
	}
	if _, err := rp.st.Records(after, 1); errors.Is(err, store.ErrCompacted) {
		http.Error(w, err.Error(), http.StatusGone)
		return
	}
	if after > rp.st.Revision() {
		http.Error(w, fmt.Sprintf("after %d: this store is at %d; the follower holds revisions it does not", after, rp.st.Revision()), http.StatusConflict)
		return
	}
	// The follower's newest record must be this store's record of that
	// revision: a store that served and lost its last writes to a
	// takeover has records of the same numbers with other contents.
	if sum := r.URL.Query().Get("sum"); sum != "" {
		rec, err := rp.st.RecordAt(after)
		if err != nil || RecordSum(rec) != sum {
			http.Error(w, fmt.Sprintf("after %d: the follower's record of that revision is not this store's", after), http.StatusConflict)
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		http.NewResponseController(w).Flush()
		return nil
	}
	tick := time.NewTicker(rp.poll)
	defer tick.Stop()
	lastSent := time.Now()
	for {
		recs, err := rp.st.Records(after, replicaBatch)
		if err != nil {
			// Compacted under a slow follower: end the stream; it asks again
			// and gets 410.
			return
		}
		for _, rec := range recs {
			if err := writeFrame(bw, rec.Rev, rec.Data); err != nil {
				return
			}
			after = rec.Rev
		}
		if len(recs) > 0 || time.Since(lastSent) >= rp.heartbeat {
			if len(recs) == 0 {
				if err := writeFrame(bw, 0, nil); err != nil {
					return
				}
			}
			if err := flush(); err != nil {
				return
			}
			lastSent = time.Now()
		}
		if len(recs) == replicaBatch {
			continue
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

func (rp *replication) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Trailer", SnapshotTrailer)
	w.WriteHeader(http.StatusOK)
	if _, err := rp.st.SnapshotTo(w); err != nil {
		return
	}
	w.Header().Set(SnapshotTrailer, SnapshotComplete)
}

// RecordSum identifies a changelog record's contents, for a follower to
// prove it holds the same history as the coordinator.
func RecordSum(rec []byte) string {
	h := sha256.Sum256(rec)
	return hex.EncodeToString(h[:])
}

// writeFrame writes one replication frame.
func writeFrame(w io.Writer, rev int64, data []byte) error {
	var hdr [12]byte
	binary.BigEndian.PutUint64(hdr[:8], uint64(rev))
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(data)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// maxFrame bounds a replicated record: bbolt's largest value, and more.
const maxFrame = 64 << 20

// ReadFrame reads one replication frame; revision 0 is a heartbeat.
func ReadFrame(r io.Reader) (store.Record, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return store.Record{}, err
	}
	rev := int64(binary.BigEndian.Uint64(hdr[:8]))
	n := binary.BigEndian.Uint32(hdr[8:])
	if rev < 0 || n > maxFrame || (rev == 0 && n != 0) {
		return store.Record{}, fmt.Errorf("replication frame: revision %d, %d bytes: malformed", rev, n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return store.Record{}, fmt.Errorf("replication frame %d: %w", rev, err)
	}
	return store.Record{Rev: rev, Data: data}, nil
}
