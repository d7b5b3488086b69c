package oidcauth

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/sessions"
)

// ServerBackend is where a [ServerStore] keeps its records: a key-value
// store with expiry, such as Redis (the stores/redis module), a bbolt file
// (the stores/bolt module) or process memory ([NewMemoryBackend]). Keys are hashes, values are ciphertext: the
// backend never sees a session's contents or the cookie that names it.
type ServerBackend interface {
	// Load returns the value under key; ok is false when there is none
	// (missing or expired), which is not an error.
	Load(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Store puts value under key for ttl.
	Store(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// CompareAndSwap puts value under key for ttl only if key still holds
	// old, byte for byte as Load returned it, and reports whether it did.
	// A missing or expired key holds nothing and never matches. It is how
	// a session read before another instance saved it (a refresh that
	// rotated the refresh token, a sign-out) is not saved over it.
	CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error)
}

// ErrRecordChanged is returned by [ServerStore]'s Save when the session's
// record changed (or was deleted) since this request read it: another
// request saved a newer session, which is kept.
var ErrRecordChanged = errors.New("oidcauth: session record changed since it was read")

// loadedRecord keys, in a session's Values, the record it was read from,
// so that Save writes only over that record. It is never encoded.
type loadedRecord struct{}

// ServerStore is a gorilla/sessions Store that keeps sessions server-side,
// for sessions too large or too sensitive for a cookie; set it as
// [Config.Store]. The browser's cookie holds only a random id and a random
// per-session key (64 bytes, base64url); the backend holds the session
// sealed with AES-256-GCM under that key, filed under a hash of the id. So
// the server (or a copy of the backend's data) cannot read a session
// without the browser's cookie, and a cookie without its record is
// nothing. A record that is missing, expired or does not open means "no
// session", never an error; errors are for backend faults.
type ServerStore struct {
	backend ServerBackend
	prefix  string
	// Options are the cookie attributes for new sessions; oidcauth sets
	// its own on every save.
	Options *sessions.Options
}

// NewServerStore returns a store over backend whose keys start with prefix
// (e.g. "myapp:session:"), so several apps can share one backend.
func NewServerStore(backend ServerBackend, prefix string) *ServerStore {
	return &ServerStore{backend: backend, prefix: prefix, Options: &sessions.Options{Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}}
}

const serverIDLen, serverKeyLen = 32, 32

// Get returns the named session, once per request (gorilla's registry).
func (s *ServerStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the named session from the request's cookie, or returns a new
// empty one.
func (s *ServerStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	opts := *s.Options
	sess.Options = &opts
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	id, key, ok := splitServerCookie(c.Value)
	if !ok {
		return sess, nil
	}
	sealed, found, err := s.backend.Load(r.Context(), s.recordKey(id))
	if err != nil {
		return sess, err
	}
	if !found {
		return sess, nil
	}
	plain, err := openRecord(key, s.recordKey(id), sealed)
	if err != nil {
		return sess, nil
	}
	if err := gob.NewDecoder(bytes.NewReader(plain)).Decode(&sess.Values); err != nil {
		return sess, nil
	}
	sess.Values[loadedRecord{}] = sealed
	sess.ID = c.Value
	sess.IsNew = false
	return sess, nil
}

// Save writes the session and its cookie, or deletes both when
// Options.MaxAge is negative. A session without an id gets a fresh id and
// key: a new session never reuses an old record (no fixation). A session
// read by [ServerStore.New] is written only over the record it was read
// from: when another request has saved or deleted it since, Save writes
// nothing and returns [ErrRecordChanged].
func (s *ServerStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.Options == nil {
		opts := *s.Options
		sess.Options = &opts
	}
	if sess.Options.MaxAge < 0 {
		if id, _, ok := splitServerCookie(sess.ID); ok {
			if err := s.backend.Delete(r.Context(), s.recordKey(id)); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	id, key, ok := splitServerCookie(sess.ID)
	if !ok {
		var fresh [serverIDLen + serverKeyLen]byte
		_, _ = rand.Read(fresh[:])
		sess.ID = base64.RawURLEncoding.EncodeToString(fresh[:])
		id, key = fresh[:serverIDLen], fresh[serverIDLen:]
	}
	old, loaded := sess.Values[loadedRecord{}].([]byte)
	values := sess.Values
	if _, marked := values[loadedRecord{}]; marked {
		values = maps.Clone(values)
		delete(values, loadedRecord{})
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(values); err != nil {
		return err
	}
	ttl := time.Duration(sess.Options.MaxAge) * time.Second
	if ttl == 0 {
		ttl = 24 * time.Hour // a browser-session cookie; the record still ends
	}
	sealed, err := sealRecord(key, s.recordKey(id), buf.Bytes())
	if err != nil {
		return err
	}
	if loaded {
		swapped, err := s.backend.CompareAndSwap(r.Context(), s.recordKey(id), old, sealed, ttl)
		if err != nil {
			return err
		}
		if !swapped {
			return ErrRecordChanged
		}
	} else if err := s.backend.Store(r.Context(), s.recordKey(id), sealed, ttl); err != nil {
		return err
	}
	sess.Values[loadedRecord{}] = sealed // a second Save writes over this one
	http.SetCookie(w, sessions.NewCookie(sess.Name(), sess.ID, sess.Options))
	return nil
}

// recordKey files a session under a hash of its id: the backend's keys
// cannot be replayed as cookies.
func (s *ServerStore) recordKey(id []byte) string {
	sum := sha256.Sum256(id)
	return s.prefix + hex.EncodeToString(sum[:])
}

func splitServerCookie(v string) (id, key []byte, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) != serverIDLen+serverKeyLen {
		return nil, nil, false
	}
	return raw[:serverIDLen], raw[serverIDLen:], true
}

func recordAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealRecord encrypts plain under the session's key, bound to its record
// key, so a record moved under another key does not open.
func sealRecord(key []byte, recordKey string, plain []byte) ([]byte, error) {
	aead, err := recordAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, []byte(recordKey)), nil
}

func openRecord(key []byte, recordKey string, sealed []byte) ([]byte, error) {
	aead, err := recordAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("oidcauth: session record too short")
	}
	n := aead.NonceSize()
	return aead.Open(nil, sealed[:n], sealed[n:], []byte(recordKey))
}

// MemoryBackend is a [ServerBackend] in process memory, for a single
// instance and for tests.
type MemoryBackend struct {
	mu      sync.Mutex
	records map[string]memoryRecord
	now     func() time.Time
}

type memoryRecord struct {
	value   []byte
	expires time.Time
}

// NewMemoryBackend returns an empty in-memory backend.
func NewMemoryBackend() *MemoryBackend {
	return &MemoryBackend{records: map[string]memoryRecord{}, now: time.Now}
}

// Load implements [ServerBackend].
func (m *MemoryBackend) Load(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.records[key]
	if !ok || !m.now().Before(rec.expires) {
		delete(m.records, key)
		return nil, false, nil
	}
	return bytes.Clone(rec.value), true, nil
}

// Store implements [ServerBackend]; it also drops expired records.
func (m *MemoryBackend) Store(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if len(m.records)%64 == 0 {
		for k, rec := range m.records {
			if !now.Before(rec.expires) {
				delete(m.records, k)
			}
		}
	}
	m.records[key] = memoryRecord{value: bytes.Clone(value), expires: now.Add(ttl)}
	return nil
}

// CompareAndSwap implements [ServerBackend].
func (m *MemoryBackend) CompareAndSwap(_ context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	rec, ok := m.records[key]
	if !ok || !now.Before(rec.expires) || !bytes.Equal(rec.value, old) {
		return false, nil
	}
	m.records[key] = memoryRecord{value: bytes.Clone(value), expires: now.Add(ttl)}
	return true, nil
}

// Delete implements [ServerBackend].
func (m *MemoryBackend) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.records, key)
	m.mu.Unlock()
	return nil
}
