package encrypt_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/keel-edge/keel/coordinator/encrypt"
	"github.com/keel-edge/keel/coordinator/store"
)

var _ store.Transformer = (*encrypt.AESGCM)(nil)

// testKey returns a deterministic 32-byte key that differs per seed.
func testKey(seed byte) []byte {
	return bytes.Repeat([]byte{seed}, encrypt.KeySize)
}

func mustNew(t testing.TB, key []byte) *encrypt.AESGCM {
	t.Helper()
	tr, err := encrypt.New(key)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tr
}

func TestAESGCM_roundTrip(t *testing.T) {
	tr := mustNew(t, testKey(1))
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"json object", []byte(`{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}`)},
		{"looks sealed", []byte(encrypt.Prefix + "00000000:abc")},
		{"binary", bytes.Repeat([]byte{0, 0xff, 0x80}, 1000)},
		{"one megabyte", bytes.Repeat([]byte("x"), 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := tr.Seal(tt.plaintext)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			wantHeader := encrypt.Prefix + tr.KeyID() + ":"
			if !bytes.HasPrefix(sealed, []byte(wantHeader)) {
				t.Fatalf("sealed value does not start with %q", wantHeader)
			}
			if want := len(wantHeader) + 12 + len(tt.plaintext) + 16; len(sealed) != want {
				t.Errorf("sealed length = %d, want %d", len(sealed), want)
			}
			if len(tt.plaintext) >= 8 && bytes.Contains(sealed[len(wantHeader):], tt.plaintext[:8]) {
				t.Errorf("sealed value contains plaintext")
			}
			got, err := tr.Open(sealed)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open returned different bytes")
			}
			again, err := tr.Seal(tt.plaintext)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(again, sealed) {
				t.Errorf("two seals of the same plaintext are identical (nonce reuse)")
			}
		})
	}
}

func TestAESGCM_tamper(t *testing.T) {
	tr := mustNew(t, testKey(1))
	sealed, err := tr.Seal([]byte("the quick brown fox"))
	if err != nil {
		t.Fatal(err)
	}
	header := len(encrypt.Prefix) + 8 + 1
	otherHex := byte('0')
	if tr.KeyID()[0] == '0' {
		otherHex = '1'
	}
	tests := []struct {
		name    string
		mangle  func(b []byte) []byte
		wantErr error
	}{
		{"flip prefix byte", flip(0), encrypt.ErrNotSealed},
		{"other key id", set(len(encrypt.Prefix), otherHex), encrypt.ErrUnknownKey},
		{"uppercase key id", set(len(encrypt.Prefix), 'A'), encrypt.ErrCorrupt},
		{"key id not hex", set(len(encrypt.Prefix), 'z'), encrypt.ErrCorrupt},
		{"missing id separator", set(header-1, '-'), encrypt.ErrCorrupt},
		{"flip nonce", flip(header), encrypt.ErrCorrupt},
		{"flip ciphertext", flip(header + 12), encrypt.ErrCorrupt},
		{"flip tag", flip(-1), encrypt.ErrCorrupt},
		{"truncate tag", func(b []byte) []byte { return b[:len(b)-1] }, encrypt.ErrCorrupt},
		{"header and nonce only", func(b []byte) []byte { return b[:header+12] }, encrypt.ErrCorrupt},
		{"header only", func(b []byte) []byte { return b[:header] }, encrypt.ErrCorrupt},
		{"prefix only", func(b []byte) []byte { return b[:len(encrypt.Prefix)] }, encrypt.ErrCorrupt},
		{"appended byte", func(b []byte) []byte { return append(b, 0) }, encrypt.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tr.Open(tt.mangle(bytes.Clone(sealed)))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open error = %v, want %v", err, tt.wantErr)
			}
			if got != nil {
				t.Errorf("Open returned data with an error")
			}
		})
	}
}

// flip returns a mangler that inverts the byte at i (from the end if negative).
func flip(i int) func([]byte) []byte {
	return func(b []byte) []byte {
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 0xff
		return b
	}
}

// set returns a mangler that sets the byte at i to c.
func set(i int, c byte) func([]byte) []byte {
	return func(b []byte) []byte {
		b[i] = c
		return b
	}
}

func TestAESGCM_wrongKey(t *testing.T) {
	a := mustNew(t, testKey(1))
	b := mustNew(t, testKey(2))
	if a.KeyID() == b.KeyID() {
		t.Fatal("different keys have the same id")
	}
	sealed, err := a.Seal([]byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Open(sealed)
	if !errors.Is(err, encrypt.ErrUnknownKey) {
		t.Fatalf("Open with another key = %v, want ErrUnknownKey", err)
	}
	for _, id := range []string{a.KeyID(), b.KeyID()} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error %q does not name key id %s", err, id)
		}
	}

	// A value sealed by another key but relabelled with our id fails
	// authentication.
	resealed, err := b.Seal([]byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	header := len(encrypt.Prefix) + 9
	forged := append([]byte(encrypt.Prefix+a.KeyID()+":"), resealed[header:]...)
	if _, err := a.Open(forged); !errors.Is(err, encrypt.ErrCorrupt) {
		t.Fatalf("Open of a value sealed by another key under our id = %v, want ErrCorrupt", err)
	}
}

func TestAESGCM_unsealedInput(t *testing.T) {
	tr := mustNew(t, testKey(1))
	tests := []struct {
		name  string
		input []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"plain json", []byte(`{"apiVersion":"v1","kind":"Pod"}`)},
		{"kubernetes prefix", []byte("k8s:enc:aesgcm:v1:key1:0123456789abcdef0123456789")},
		{"older version", []byte("keel:aesgcm:v0:00000000:0123456789abcdef0123456789")},
		{"prefix without last colon", []byte(strings.TrimSuffix(encrypt.Prefix, ":"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tr.Open(tt.input)
			if !errors.Is(err, encrypt.ErrNotSealed) {
				t.Fatalf("Open error = %v, want ErrNotSealed", err)
			}
			if got != nil {
				t.Errorf("Open returned data for unsealed input")
			}
		})
	}
}

func TestNew_keySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := encrypt.New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a %d-byte key", n)
		}
	}
}

func TestKeyID_stable(t *testing.T) {
	id := encrypt.KeyID(testKey(1))
	if len(id) != 8 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("KeyID = %q, want 8 lowercase hex digits", id)
	}
	if encrypt.KeyID(testKey(1)) != id || mustNew(t, testKey(1)).KeyID() != id {
		t.Errorf("KeyID is not stable")
	}
}

func FuzzAESGCM_Open(f *testing.F) {
	tr := mustNew(f, testKey(7))
	for _, p := range []string{"", "x", `{"kind":"ConfigMap"}`} {
		sealed, err := tr.Seal([]byte(p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sealed)
		f.Add(sealed[:len(sealed)-1])
	}
	f.Add([]byte(nil))
	f.Add([]byte(encrypt.Prefix))
	f.Add([]byte(encrypt.Prefix + tr.KeyID() + ":"))
	f.Add([]byte(encrypt.Prefix + "ZZZZZZZZ:" + strings.Repeat("\x00", 40)))
	f.Fuzz(func(t *testing.T, input []byte) {
		got, err := tr.Open(input)
		if err != nil {
			if got != nil {
				t.Fatalf("Open returned data with error %v", err)
			}
			if !errors.Is(err, encrypt.ErrNotSealed) && !errors.Is(err, encrypt.ErrUnknownKey) && !errors.Is(err, encrypt.ErrCorrupt) {
				t.Fatalf("Open error %v matches no sentinel", err)
			}
			return
		}
		// Success means the input is a genuine seal: right header, and
		// sealing the plaintext again opens to the same bytes.
		if !bytes.HasPrefix(input, []byte(encrypt.Prefix+tr.KeyID()+":")) {
			t.Fatalf("Open accepted input without our header")
		}
		if want := len(encrypt.Prefix) + 9 + 12 + len(got) + 16; len(input) != want {
			t.Fatalf("Open accepted %d bytes for a %d-byte plaintext", len(input), len(got))
		}
	})
}

func FuzzAESGCM_roundTrip(f *testing.F) {
	tr := mustNew(f, testKey(9))
	f.Add([]byte(nil))
	f.Add([]byte(encrypt.Prefix))
	f.Add([]byte(`{"metadata":{"name":"a"}}`))
	f.Fuzz(func(t *testing.T, plaintext []byte) {
		sealed, err := tr.Seal(plaintext)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tr.Open(sealed)
		if err != nil {
			t.Fatalf("Open(Seal(p)): %v", err)
		}
		if !bytes.Equal(got, plaintext) {
			t.Fatalf("Open(Seal(p)) != p")
		}
	})
}
