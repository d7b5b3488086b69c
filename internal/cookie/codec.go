// Package cookie is the session and transaction cookies' leaf: one
// AES-256-GCM layer bound to the cookie's name (Codec), reading cookies from
// the request without allocating (Scan, Value), and splitting a value too
// large for one cookie into numbered chunks (Write, Read).
package cookie

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"unsafe"
)

// Cookie wire format (one base64url layer, no padding):
//
//	version(1) | key id(4) | nonce(12) | AES-256-GCM ciphertext and tag
//
// The associated data is the header and the cookie's name, so a value moved
// to another cookie (a sign-in transaction replayed as a session, a chunk
// swapped) fails authentication. Rotation: the first key seals; the key id
// picks the key that opens.
//
// securecookie's format was measured and rejected for the session cookie: it
// base64-encodes twice (1.78x the plaintext) and, with gob, cannot fit a
// typical Logto session in one 4 KB cookie. gorilla/sessions stays the seam
// for server-side stores (Config.Store).
const (
	codecVersion   = 1
	codecHeaderLen = 1 + 4 + 12
	Overhead       = codecHeaderLen + 16
)

var strictB64 = base64.RawURLEncoding.Strict()

// ErrInvalid is any value that does not open: malformed, tampered, sealed
// for another cookie name, or under a key no longer held.
var ErrInvalid = errors.New("oidcauth: cookie invalid")

// ErrTooLarge: a value does not fit in MaxChunks cookies.
var ErrTooLarge = errors.New("oidcauth: session too large for cookies")

type codecKey struct {
	id   [4]byte
	aead cipher.AEAD
}

// Codec seals and opens cookie values with one AES-256-GCM key per secret.
type Codec struct{ keys []codecKey }

// NewCodec derives one AES-256-GCM key per secret. binding goes into the
// derivation: an Auth for another issuer or client that shares the secrets
// (staging and production, two apps on localhost) derives other keys, so
// its cookies read as foreign here instead of as sessions of this app.
func NewCodec(secrets [][]byte, binding string) (*Codec, error) {
	c := &Codec{}
	for _, secret := range secrets {
		key, err := hkdf.Key(sha256.New, secret, nil, "oidcauth cookie encryption v1\x00"+binding, 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(append([]byte("oidcauth key id v1:"), key...))
		var k codecKey
		copy(k.id[:], sum[:4])
		k.aead = aead
		c.keys = append(c.keys, k)
	}
	return c, nil
}

// Seal encrypts plain for the cookie called name.
func (c *Codec) Seal(name string, plain []byte) string {
	return base64.RawURLEncoding.EncodeToString(c.SealBytes(name, plain))
}

// SealBytes is seal without the base64 layer, for server-side stores.
func (c *Codec) SealBytes(name string, plain []byte) []byte {
	k := &c.keys[0]
	buf := make([]byte, codecHeaderLen, Overhead+len(plain))
	buf[0] = codecVersion
	copy(buf[1:5], k.id[:])
	// crypto/rand.Read never fails (Go 1.24+; it crashes the program instead).
	_, _ = rand.Read(buf[5:codecHeaderLen])
	aad := make([]byte, 0, 5+len(name))
	aad = append(append(aad, buf[:5]...), name...)
	return k.aead.Seal(buf, buf[5:codecHeaderLen], plain, aad)
}

// Scratch is a pooled buffer for opening cookies without allocating.
type Scratch struct{ Buf, aad, Join []byte }

// ScratchPool holds Scratch buffers for the request path.
var ScratchPool = sync.Pool{New: func() any { return &Scratch{Buf: make([]byte, 0, 4096), aad: make([]byte, 0, 64)} }}

// Open authenticates and decrypts value (the cookie called name) into sc's
// buffer and returns the plaintext, valid until sc is reused.
func (c *Codec) Open(sc *Scratch, name, value string) ([]byte, error) {
	// Strict: the unused bits of the last character must be zero, so one
	// session has exactly one cookie value (and one cache key).
	enc := strictB64
	n := enc.DecodedLen(len(value))
	if n < Overhead {
		return nil, ErrInvalid
	}
	if cap(sc.Buf) < n {
		sc.Buf = make([]byte, n)
	}
	raw := sc.Buf[:n]
	// Decode reads value without keeping it; viewing the string's bytes
	// saves copying a 3 KB cookie on every request.
	m, err := enc.Decode(raw, unsafe.Slice(unsafe.StringData(value), len(value)))
	if err != nil {
		return nil, ErrInvalid
	}
	return c.openRaw(sc, name, raw[:m])
}

// OpenBytes opens a sealBytes result into sc's buffer, leaving sealed as it
// was (a store may hand the same slice to a second read).
func (c *Codec) OpenBytes(sc *Scratch, name string, sealed []byte) ([]byte, error) {
	sc.Buf = append(sc.Buf[:0], sealed...)
	return c.openRaw(sc, name, sc.Buf)
}

// openRaw decrypts raw in place.
func (c *Codec) openRaw(sc *Scratch, name string, raw []byte) ([]byte, error) {
	if len(raw) < Overhead || raw[0] != codecVersion {
		return nil, ErrInvalid
	}
	for i := range c.keys {
		k := &c.keys[i]
		if [4]byte(raw[1:5]) != k.id {
			continue
		}
		sc.aad = append(append(sc.aad[:0], raw[:5]...), name...)
		plain, err := k.aead.Open(raw[codecHeaderLen:codecHeaderLen], raw[5:codecHeaderLen], raw[codecHeaderLen:], sc.aad)
		if err != nil {
			return nil, ErrInvalid
		}
		return plain, nil
	}
	return nil, ErrInvalid
}
