package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestWriteBlob_verifiesContent(t *testing.T) {
	content := []byte("layer bytes")
	sum := sha256.Sum256(content)
	good := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	tests := []struct {
		name    string
		h       v1.Hash
		body    []byte
		want    int64
		wantErr error
		stored  bool
	}{
		{name: "matching content is stored", h: good, body: content, want: int64(len(content)), stored: true},
		{name: "corrupt content is refused", h: good, body: []byte("layer bytez"), wantErr: ErrDigestMismatch},
		{name: "truncated content is refused", h: good, body: content[:4], wantErr: ErrDigestMismatch},
		{name: "other algorithms are refused", h: v1.Hash{Algorithm: "sha512", Hex: good.Hex}, body: content},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			n, err := s.writeBlob(context.Background(), tt.h, bytes.NewReader(tt.body))
			switch {
			case tt.stored && err != nil:
				t.Fatalf("writeBlob: %v", err)
			case !tt.stored && err == nil:
				t.Fatal("writeBlob accepted content that does not match its digest")
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("writeBlob error %v, want %v", err, tt.wantErr)
			}
			if n != tt.want {
				t.Errorf("wrote %d bytes, want %d", n, tt.want)
			}
			if got := s.hasBlob(good); got != tt.stored {
				t.Errorf("blob stored = %v, want %v", got, tt.stored)
			}
			if ents, _ := os.ReadDir(s.tmpDir()); len(ents) != 0 {
				t.Errorf("temporary files left: %v", ents)
			}
		})
	}
}

func TestWriteBlob_existingIsNotRewritten(t *testing.T) {
	s := newStore(t)
	content := []byte("config")
	sum := sha256.Sum256(content)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if _, err := s.writeBlob(context.Background(), h, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	n, err := s.writeBlob(context.Background(), h, bytes.NewReader(content))
	if err != nil || n != 0 {
		t.Fatalf("second write = %d, %v; want 0, nil", n, err)
	}
}

func TestReadBlob_detectsCorruptionOnDisk(t *testing.T) {
	s := newStore(t)
	content := []byte(`{"schemaVersion":2}`)
	sum := sha256.Sum256(content)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if _, err := s.writeBlob(context.Background(), h, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.blobPath(h), []byte(`{"schemaVersion":3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.readBlob(h); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("readBlob of a corrupted blob: %v, want ErrDigestMismatch", err)
	}
}

func TestWriteBlob_honoursContext(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	content := []byte("x")
	sum := sha256.Sum256(content)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if _, err := s.writeBlob(ctx, h, bytes.NewReader(content)); !errors.Is(err, context.Canceled) {
		t.Fatalf("writeBlob with a cancelled context: %v", err)
	}
}
