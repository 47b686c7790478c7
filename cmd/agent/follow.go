package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/keel-edge/keel/coordinator"
	"github.com/keel-edge/keel/coordinator/store"
)

// follower keeps a standby coordinator's store a copy of the active
// one's: it streams the changelog records after its own revision and
// applies them, and installs a snapshot when it is too far behind. It
// runs only while this member does not serve; taking over stops it first,
// so the coordinator opens the same file.
type follower struct {
	path string
	// coordinator is the active coordinator's API address.
	coordinator func() (string, error)
	client      tls.Certificate
	ca          []byte
	log         *slog.Logger
	// announce publishes the revision held, for the election's rank.
	announce func(rev int64)

	bg  background
	mu  sync.Mutex
	rev int64
}

// start follows until stop.
func (f *follower) start(ctx context.Context) {
	f.bg.mu.Lock()
	defer f.bg.mu.Unlock()
	if !f.bg.runningLocked() {
		f.bg.goLocked(ctx, f.run)
	}
}

// stop ends following and returns once the store is closed.
func (f *follower) stop() { f.bg.stop() }

// revision is the newest revision the follower has applied.
func (f *follower) revision() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rev
}

func (f *follower) setRevision(rev int64) {
	f.mu.Lock()
	f.rev = rev
	f.mu.Unlock()
	if f.announce != nil {
		f.announce(rev)
	}
}

func (f *follower) run(ctx context.Context) {
	httpc, err := f.httpClient()
	if err != nil {
		f.log.Error("follow the coordinator", "err", err)
		return
	}
	defer httpc.CloseIdleConnections()
	for ctx.Err() == nil {
		err := f.session(ctx, httpc)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			f.log.Debug("following the coordinator paused", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// session opens the store and follows one coordinator until the stream
// ends.
func (f *follower) session(ctx context.Context, httpc *http.Client) error {
	addr, err := f.coordinator()
	if err != nil {
		return err
	}
	st, err := store.Open(store.DefaultConfig(f.path))
	if err != nil {
		return err
	}
	f.setRevision(st.Revision())
	err = f.stream(ctx, httpc, addr, st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errNeedSnapshot) {
		return f.snapshot(ctx, httpc, addr)
	}
	return err
}

var errNeedSnapshot = errors.New("the coordinator's changelog no longer holds this store's next revision")

// streamIdle is how long a stream may stay silent (the coordinator sends
// a heartbeat every second) before the follower gives up on it.
const streamIdle = 5 * time.Second

// stream applies records from the coordinator at addr.
func (f *follower) stream(ctx context.Context, httpc *http.Client, addr string, st *store.Store) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := time.AfterFunc(streamIdle, cancel)
	defer idle.Stop()
	url := "https://" + addr + coordinator.ReplicatePath + "?after=" + strconv.FormatInt(st.Revision(), 10)
	if rec, err := st.RecordAt(st.Revision()); err == nil {
		url += "&sum=" + coordinator.RecordSum(rec)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusGone:
		return errNeedSnapshot
	case http.StatusConflict:
		// This store's history parted from the coordinator's (it served
		// once, and its last writes were lost to the takeover): start over
		// from the coordinator's state.
		f.log.Warn("this standby's store parted from the coordinator's; replacing it with the coordinator's", "revision", st.Revision())
		return errNeedSnapshot
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("follow %s: %s: %s", addr, resp.Status, msg)
	}
	f.log.Info("following the coordinator", "addr", addr, "from", st.Revision())
	br := bufio.NewReaderSize(resp.Body, 256<<10)
	var batch []store.Record
	for {
		rec, err := coordinator.ReadFrame(br)
		if err != nil {
			return err
		}
		idle.Reset(streamIdle)
		if rec.Rev != 0 {
			batch = append(batch, rec)
		}
		// Apply what has arrived once the stream pauses.
		if len(batch) > 0 && (br.Buffered() == 0 || len(batch) >= 512) {
			rev, err := st.Apply(ctx, batch)
			if err != nil {
				return fmt.Errorf("apply revisions %d-%d: %w", batch[0].Rev, batch[len(batch)-1].Rev, err)
			}
			batch = batch[:0]
			f.setRevision(rev)
		}
	}
}

// snapshot replaces the store with the coordinator's.
func (f *follower) snapshot(ctx context.Context, httpc *http.Client, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+coordinator.SnapshotPath, nil)
	if err != nil {
		return err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("snapshot from %s: %s", addr, resp.Status)
	}
	rev, err := store.InstallSnapshot(f.path, &completeBody{resp: resp})
	if err != nil {
		return err
	}
	f.log.Info("installed the coordinator's snapshot", "revision", rev)
	f.setRevision(rev)
	return nil
}

// completeBody reads a snapshot body and fails at its end unless the
// server's trailer says every byte was sent.
type completeBody struct{ resp *http.Response }

func (b *completeBody) Read(p []byte) (int, error) {
	n, err := b.resp.Body.Read(p)
	if err == io.EOF && b.resp.Trailer.Get(coordinator.SnapshotTrailer) != coordinator.SnapshotComplete {
		return n, errors.New("the snapshot ended early")
	}
	return n, err
}

func (f *follower) httpClient() (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(f.ca) {
		return nil, errors.New("no CA certificate")
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: apiServerName, Certificates: []tls.Certificate{f.client}, MinVersion: tls.VersionTLS12},
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 5 * time.Second}).DialContext,
		// One long stream: HTTP/1.1 keeps it on its own connection.
		ForceAttemptHTTP2: false,
	}}, nil
}
