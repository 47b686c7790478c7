// Package encrypt owns encryption at rest for the store: an AES-256-GCM
// transformer (it satisfies coordinator/store.Transformer) and the key file
// it reads.
//
// A sealed value is
//
//	"keel:aesgcm:v1:" + key id + ":" + 12-byte random nonce + ciphertext and tag
//
// The key id is 8 hex digits derived from the key (see KeyID), so values say
// which key sealed them without revealing it; the header is bound to the
// ciphertext as additional authenticated data. Only one key is active today;
// rotation will load older keys for Open by id while Seal uses the newest.
//
// The package must not log, must not put key material into errors, and must
// never return stored bytes as plaintext: Open refuses anything without the
// header. It knows nothing about buckets or objects.
package encrypt
