package encrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Prefix starts every sealed value: scheme and format version.
const Prefix = "keel:aesgcm:v1:"

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

// Sizes of the parts of a sealed value after the header.
const (
	nonceSize = 12
	tagSize   = 16
	// keyIDLen is the length of a key id: 8 hex digits.
	keyIDLen = 8
)

// Errors callers branch on.
var (
	// ErrNotSealed: the input does not start with Prefix, so it was never
	// sealed by this package (or is plaintext written before encryption was
	// enabled). It is never returned as plaintext.
	ErrNotSealed = errors.New("value is not sealed with " + Prefix)
	// ErrUnknownKey: the value was sealed with a key this transformer does
	// not hold.
	ErrUnknownKey = errors.New("value was sealed with an unknown key")
	// ErrCorrupt: the value is truncated or fails authentication (tampered
	// with, or sealed by a different key with the same id).
	ErrCorrupt = errors.New("sealed value is corrupt or was sealed with a different key")
)

// AESGCM seals and opens values with one AES-256-GCM key. It is safe for
// concurrent use.
type AESGCM struct {
	id     string
	header []byte
	aead   cipher.AEAD
}

// New returns a transformer for a 32-byte key. The key is not retained
// beyond the cipher's own schedule.
func New(key []byte) (*AESGCM, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("aes-256-gcm key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithNonceSize(block, nonceSize)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	id := KeyID(key)
	return &AESGCM{id: id, header: []byte(Prefix + id + ":"), aead: aead}, nil
}

// KeyID returns the id of a key: the first 8 hex digits of a domain-separated
// SHA-256 of it. It names the key in sealed values and errors without
// revealing it.
func KeyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("keel encryption key id\x00"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil))[:keyIDLen]
}

// KeyID returns the id of the active key.
func (t *AESGCM) KeyID() string { return t.id }

// Seal encrypts plaintext under a fresh random nonce and returns the header,
// the nonce and the ciphertext. Random 96-bit nonces keep one key safe for
// about 2^32 seals; rotate keys well before that.
func (t *AESGCM) Seal(plaintext []byte) ([]byte, error) {
	out := make([]byte, len(t.header)+nonceSize, len(t.header)+nonceSize+len(plaintext)+tagSize)
	copy(out, t.header)
	nonce := out[len(t.header):]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: read nonce: %w", err)
	}
	return t.aead.Seal(out, nonce, plaintext, t.header), nil
}

// Open checks and decrypts a value made by Seal. It returns ErrNotSealed for
// input without the header, ErrUnknownKey for a value sealed with another key
// id, and ErrCorrupt for a truncated or tampered value.
func (t *AESGCM) Open(sealed []byte) ([]byte, error) {
	id, body, err := parseHeader(sealed)
	if err != nil {
		return nil, err
	}
	if id != t.id {
		return nil, fmt.Errorf("open: %w: key id %q, active key id %q", ErrUnknownKey, id, t.id)
	}
	if len(body) < nonceSize+tagSize {
		return nil, fmt.Errorf("open: %w: %d bytes after the header, want at least %d", ErrCorrupt, len(body), nonceSize+tagSize)
	}
	plaintext, err := t.aead.Open(nil, body[:nonceSize], body[nonceSize:], t.header)
	if err != nil {
		return nil, fmt.Errorf("open: %w (key id %s)", ErrCorrupt, t.id)
	}
	return plaintext, nil
}

// parseHeader splits a sealed value into its key id and the bytes after the
// header.
func parseHeader(sealed []byte) (id string, body []byte, err error) {
	rest, ok := bytes.CutPrefix(sealed, []byte(Prefix))
	if !ok {
		return "", nil, fmt.Errorf("open: %w", ErrNotSealed)
	}
	if len(rest) < keyIDLen+1 || rest[keyIDLen] != ':' || !isLowerHex(rest[:keyIDLen]) {
		return "", nil, fmt.Errorf("open: %w: malformed key id", ErrCorrupt)
	}
	return string(rest[:keyIDLen]), rest[keyIDLen+1:], nil
}

// isLowerHex reports whether b holds only 0-9 and a-f.
func isLowerHex(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
