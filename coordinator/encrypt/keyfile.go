package encrypt

import (
	"github.com/keel-edge/keel/coordinator/pki"

	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateKey returns the transformer for the key in path. The file
// holds exactly 32 raw bytes (make one by hand with
// `head -c 32 /dev/urandom > key && chmod 600 key`). When the file does not
// exist, a random key is written there with mode 0600; an existing file is
// never overwritten. A file that group or others may access is refused. The
// directory must exist. The agent keeps the key at DATA/pki/encryption.key.
//
// Losing the file makes every sealed value unreadable: back it up with the
// data directory's other secrets.
func LoadOrCreateKey(path string) (*AESGCM, error) {
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
	}
	if err != nil {
		return nil, err
	}
	t, err := New(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("encryption key %s: %w", path, err)
	}
	return t, nil
}

// readKey reads and checks an existing key file. A missing file returns an
// error matching fs.ErrNotExist.
func readKey(path string) ([]byte, error) {
	key, err := pki.ReadPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	if len(key) != KeySize {
		clear(key)
		return nil, fmt.Errorf("encryption key %s: holds %d bytes, want exactly %d raw bytes", path, len(key), KeySize)
	}
	return key, nil
}

// createKey writes a new random key to path without replacing a file that
// appeared meanwhile: the key goes to a temporary file first (mode 0600,
// fsynced) and is hard-linked into place, which fails if path exists. When
// another process won that race, its key is read instead.
func createKey(path string) (key []byte, err error) {
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create encryption key %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create encryption key %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return nil, fmt.Errorf("create encryption key %s: chmod: %w", path, err)
	}
	if _, err := tmp.Write(key); err != nil {
		return nil, fmt.Errorf("create encryption key %s: write: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("create encryption key %s: fsync: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			clear(key)
			return readKey(path)
		}
		return nil, fmt.Errorf("create encryption key %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("create encryption key %s: %w", path, err)
	}
	return key, nil
}

// syncDir fsyncs a directory so that a new entry in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}
