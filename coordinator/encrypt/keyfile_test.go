package encrypt_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keel-edge/keel/coordinator/encrypt"
)

func TestLoadOrCreateKey_createThenReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "encryption.key")
	first, err := encrypt.LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != encrypt.KeySize {
		t.Errorf("key file mode %04o size %d, want 0600 and %d bytes", st.Mode().Perm(), st.Size(), encrypt.KeySize)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key", len(entries))
	}
	sealed, err := first.Seal([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := encrypt.LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if second.KeyID() != first.KeyID() {
		t.Errorf("reload changed the key id")
	}
	got, err := second.Open(sealed)
	if err != nil || string(got) != "hello" {
		t.Errorf("reloaded key opens %q, %v; want hello", got, err)
	}
}

func TestLoadOrCreateKey_existingKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "encryption.key")
	key := testKey(5)
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	tr, err := encrypt.LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateKey: %v", err)
	}
	if tr.KeyID() != encrypt.KeyID(key) {
		t.Errorf("key id = %s, want %s", tr.KeyID(), encrypt.KeyID(key))
	}
	onDisk, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(onDisk, key) {
		t.Errorf("existing key file was changed")
	}
}

func TestLoadOrCreateKey_refused(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr []string
	}{
		{"group readable", keyWithMode(0o640), []string{"chmod 600", "0640"}},
		{"other readable", keyWithMode(0o604), []string{"chmod 600", "0604"}},
		{"world readable", keyWithMode(0o644), []string{"chmod 600"}},
		{"group writable", keyWithMode(0o620), []string{"chmod 600"}},
		{"short key", keyContent(make([]byte, 16)), []string{"16 bytes", "want exactly 32"}},
		{"text key", keyContent([]byte(strings.Repeat("a", 44) + "\n")), []string{"45 bytes"}},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, []string{"not a regular file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "encryption.key")
			tt.setup(t, path)
			_, err := encrypt.LoadOrCreateKey(path)
			if err == nil {
				t.Fatal("LoadOrCreateKey accepted the file")
			}
			for _, want := range append(tt.wantErr, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadOrCreateKey_missingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent", "encryption.key")
	_, err := encrypt.LoadOrCreateKey(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadOrCreateKey error = %v, want one naming %s", err, path)
	}
}

func TestLoadOrCreateKey_errorsHideKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "encryption.key")
	key := []byte(strings.Repeat("S", encrypt.KeySize))
	if err := os.WriteFile(path, key, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := encrypt.LoadOrCreateKey(path)
	if err == nil || strings.Contains(err.Error(), string(key[:8])) {
		t.Fatalf("error %v is missing or quotes the key", err)
	}
}

// keyWithMode writes a valid key with the given mode.
func keyWithMode(mode os.FileMode) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, testKey(1), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// keyContent writes content as the key file with mode 0600.
func keyContent(content []byte) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
