package store

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// crashChildEnv, when set to a store path, turns the test binary into the
// writer child of TestStore_killNineLosesNothingAcknowledged.
const crashChildEnv = "KEEL_STORE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		if err := runCrashChild(path); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runCrashChild commits forever from several goroutines and, after each
// acknowledged commit, writes "key rev" to file descriptor 3. Each line is
// one write of less than PIPE_BUF bytes, so the parent never sees half a
// line.
func runCrashChild(path string) error {
	s, err := Open(DefaultConfig(path))
	if err != nil {
		return err
	}
	acks := os.NewFile(3, "acks")
	var mu sync.Mutex
	errs := make(chan error, 1)
	for g := range 16 {
		go func() {
			own := fmt.Sprintf("owned-%d", g)
			var ownRev int64
			for i := 0; ; i++ {
				key := fmt.Sprintf("g%d-%d", g, i)
				ops := []Op{{Kind: Create, Bucket: "pods", Key: key, Value: revVal(key)}}
				if i%4 == 0 { // also move a key this goroutine owns
					kind := Update
					if ownRev == 0 {
						kind = Create
					}
					ops = append(ops, Op{Kind: kind, Bucket: "nodes", Key: own, ExpectRev: ownRev, Value: revVal(own)})
				}
				rev, err := s.Commit(context.Background(), ops...)
				if err != nil {
					errs <- err
					return
				}
				if len(ops) == 2 {
					ownRev = rev
				}
				mu.Lock()
				_, err = fmt.Fprintf(acks, "%s %d\n", key, rev)
				if err == nil && len(ops) == 2 {
					_, err = fmt.Fprintf(acks, "%s %d\n", own, rev)
				}
				mu.Unlock()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	return <-errs
}

func TestStore_killNineLosesNothingAcknowledged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash", "store.db")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.ExtraFiles = []*os.File{w}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()

	// Kill the child once it has acknowledged this many commits; the
	// lines already in the pipe are acknowledged too and count.
	const killAfter = 2000
	acked := map[string]int64{} // key -> latest acknowledged revision
	lines := 0
	killed := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, revText, ok := strings.Cut(sc.Text(), " ")
		rev, err := strconv.ParseInt(revText, 10, 64)
		if !ok || err != nil {
			t.Fatalf("bad ack line %q", sc.Text())
		}
		acked[key] = max(acked[key], rev)
		if lines++; lines == killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d acks: %v\n%s", lines, err, stderr.String())
	}
	t.Logf("%d acknowledgements, %d keys", lines, len(acked))

	s, err := Open(DefaultConfig(path))
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	for key, rev := range acked {
		bucket := "pods"
		if strings.HasPrefix(key, "owned-") {
			bucket = "nodes"
		}
		kv, err := s.Get(bucket, key)
		if err != nil {
			t.Fatalf("acknowledged %s at %d lost: %v", key, rev, err)
		}
		if kv.ModRevision < rev || string(kv.Value) != fmt.Sprintf("%s@%d", key, kv.ModRevision) {
			t.Fatalf("%s = %q at %d, acknowledged at %d", key, kv.Value, kv.ModRevision, rev)
		}
	}
	checkChangelogMatchesData(t, s)
}

// checkChangelogMatchesData replays the whole changelog into a map and
// compares it with the data buckets: both must tell the same story, one
// revision per record, with no gap.
func checkChangelogMatchesData(t *testing.T, s *Store) {
	t.Helper()
	if s.Compacted() != 1 {
		t.Fatalf("compacted %d; this check replays from the start", s.Compacted())
	}
	replayed := map[string][]byte{}
	data := map[string][]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		want := int64(2)
		err := tx.Bucket([]byte(changelogBucket)).ForEach(func(k, v []byte) error {
			rev, err := keyRev(k)
			if err != nil {
				return err
			}
			if rev != want {
				return fmt.Errorf("changelog record %d, want %d", rev, want)
			}
			want++
			changes, err := decodeRecord(rev, v)
			if err != nil {
				return err
			}
			for _, c := range changes {
				id := c.Bucket + "/" + c.Key
				if c.Type == Removed {
					delete(replayed, id)
					continue
				}
				if mod, _, _, _ := header(c.Value); mod != rev {
					return fmt.Errorf("record %d stamps %s at %d", rev, id, mod)
				}
				replayed[id] = bytes.Clone(c.Value)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if want-1 != s.Revision() {
			return fmt.Errorf("changelog ends at %d, store at %d", want-1, s.Revision())
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if isReserved(string(name)) {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				data[string(name)+"/"+string(k)] = bytes.Clone(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(replayed, data) {
		t.Fatalf("changelog replays %d keys, data buckets hold %d, and they differ", len(replayed), len(data))
	}
}
