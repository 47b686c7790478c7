package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

var podsBucket = []byte("pods")

// localState keeps the node's pods in a bbolt file so a restarted agent
// adopts what runs and a rebooted node runs its pods without the
// coordinator.
type localState struct{ db *bolt.DB }

// openLocalState opens (or creates) the state file at path.
func openLocalState(path string) (*localState, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("local state directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open local state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(podsBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init local state %s: %w", path, err)
	}
	return &localState{db: db}, nil
}

// load returns every pod kept, by UID; a record that does not decode is
// dropped rather than stopping the node.
func (l *localState) load() (map[string]*podState, []string, error) {
	out := map[string]*podState{}
	var bad []string
	err := l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(podsBucket).ForEach(func(k, v []byte) error {
			var st podState
			if err := json.Unmarshal(v, &st); err != nil || st.Pod == nil {
				bad = append(bad, string(k))
				return nil
			}
			out[string(k)] = &st
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load local state: %w", err)
	}
	return out, bad, nil
}

// save writes one pod's state.
func (l *localState) save(uid string, st *podState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode pod %s state: %w", uid, err)
	}
	if err := l.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(podsBucket).Put([]byte(uid), data) }); err != nil {
		return fmt.Errorf("save pod %s state: %w", uid, err)
	}
	return nil
}

// forget removes one pod's state.
func (l *localState) forget(uid string) error {
	if err := l.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(podsBucket).Delete([]byte(uid)) }); err != nil {
		return fmt.Errorf("forget pod %s: %w", uid, err)
	}
	return nil
}

func (l *localState) close() error { return l.db.Close() }
