package coordinator

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/keel-edge/keel/coordinator/store"
)

func TestReplication(t *testing.T) {
	cfg := store.DefaultConfig(filepath.Join(t.TempDir(), "s.db"))
	cfg.ChangelogRetention = 3
	st, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(key string) {
		if _, err := st.Commit(context.Background(), store.Op{Kind: store.Create, Bucket: "b", Key: key,
			Value: func(int64) ([]byte, error) { return []byte("v"), nil }}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		put(k)
	}
	rp := &replication{st: st, poll: 10 * time.Millisecond, heartbeat: 50 * time.Millisecond}
	srv := httptest.NewServer(http.HandlerFunc(rp.serveRecords))
	defer srv.Close()
	get := func(query string) *http.Response {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?"+query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	rev := st.Revision()
	rec, err := st.RecordAt(rev - 1)
	if err != nil {
		t.Fatal(err)
	}
	after := strconv.FormatInt(rev-1, 10)
	for _, tc := range []struct {
		query string
		code  int
	}{
		{"after=" + after + "&sum=" + RecordSum(rec), http.StatusOK},
		{"after=" + after + "&sum=" + RecordSum([]byte("another history")), http.StatusConflict},
		{"after=" + strconv.FormatInt(rev+5, 10), http.StatusConflict},
		{"after=1", http.StatusGone},
		{"after=x", http.StatusBadRequest},
	} {
		if resp := get(tc.query); resp.StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", tc.query, resp.StatusCode, tc.code)
		}
	}

	// The stream carries the next record, then heartbeats.
	resp := get("after=" + after + "&sum=" + RecordSum(rec))
	fr, err := ReadFrame(resp.Body)
	if err != nil || fr.Rev != rev {
		t.Fatalf("first frame: %+v, %v", fr, err)
	}
	want, _ := st.RecordAt(rev)
	if !bytes.Equal(fr.Data, want) {
		t.Fatal("the frame is not the record")
	}
	if hb, err := ReadFrame(resp.Body); err != nil || hb.Rev != 0 {
		t.Fatalf("heartbeat: %+v, %v", hb, err)
	}
}

func FuzzReadFrame(f *testing.F) {
	var b bytes.Buffer
	writeFrame(&b, 7, []byte("record"))
	f.Add(b.Bytes())
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ReadFrame(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := writeFrame(&out, fr.Rev, fr.Data); err != nil || !bytes.HasPrefix(data, out.Bytes()) {
			t.Fatalf("frame %d of %d bytes does not re-encode to the input", fr.Rev, len(fr.Data))
		}
	})
}
