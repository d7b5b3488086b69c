package bolt

import (
	"bytes"
	"context"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// Sessions is an oidcauth.ServerBackend in the database file: each
// record (ciphertext, under a hash of the session id) with its expiry, so
// server-side sessions outlive a restart. Expired records are "no
// session" at once and deleted by the sweep.
type Sessions struct{ d *DB }

// Load implements oidcauth.ServerBackend.
func (s *Sessions) Load(_ context.Context, key string) ([]byte, bool, error) {
	var value []byte
	err := s.d.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketSessions).Get([]byte(key))
		if len(v) < 8 || !s.d.opts.Now().Before(decodeTime(v[:8])) {
			return nil
		}
		value = bytes.Clone(v[8:]) // v is valid only in the transaction
		return nil
	})
	return value, value != nil, err
}

// Store implements oidcauth.ServerBackend.
func (s *Sessions) Store(_ context.Context, key string, value []byte, ttl time.Duration) error {
	rec := append(encodeTime(make([]byte, 0, 8+len(value)), s.d.opts.Now().Add(ttl)), value...)
	return s.d.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSessions).Put([]byte(key), rec)
	})
}

// Delete implements oidcauth.ServerBackend.
func (s *Sessions) Delete(_ context.Context, key string) error {
	return s.d.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSessions).Delete([]byte(key))
	})
}

// CompareAndSwap puts value under key for ttl only if key still holds
// old (as Load returned it, unexpired), and reports whether it did: a
// session read before another request saved it is not saved over it.
func (s *Sessions) CompareAndSwap(_ context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	now := s.d.opts.Now()
	rec := append(encodeTime(make([]byte, 0, 8+len(value)), now.Add(ttl)), value...)
	swapped := false
	err := s.d.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		v := b.Get([]byte(key))
		if len(v) < 8 || !now.Before(decodeTime(v[:8])) || !bytes.Equal(v[8:], old) {
			return nil
		}
		swapped = true
		return b.Put([]byte(key), rec)
	})
	return swapped, err
}
