package pki

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic_modesAndReplace(t *testing.T) {
	tests := []struct {
		name string
		mode os.FileMode
	}{
		{"private", 0o600},
		{"public", 0o644},
		{"owner read only", 0o400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if err := WriteFileAtomic(path, []byte("one"), tt.mode); err != nil {
				t.Fatalf("first write: %v", err)
			}
			if err := WriteFileAtomic(path, []byte("two"), tt.mode); err != nil {
				t.Fatalf("replace: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != "two" {
				t.Fatalf("content = %q, %v; want \"two\"", got, err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != tt.mode {
				t.Errorf("mode = %04o, want %04o", st.Mode().Perm(), tt.mode)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want 1 (temporary files left?)", len(entries))
			}
		})
	}
}

func TestWriteFileAtomic_missingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent", "f")
	if err := WriteFileAtomic(path, []byte("x"), 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}
