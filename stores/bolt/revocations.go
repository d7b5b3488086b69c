package bolt

import (
	"context"
	"time"

	"github.com/oidcauth/oidcauth"
	bbolt "go.etcd.io/bbolt"
)

// Revocations is an oidcauth.Revocations kept in the database file
// and mirrored in memory (oidcauth.MemoryRevocations): [DB] loads every
// unexpired record into the mirror when it opens, and each revocation is
// written to the mirror and then to the file before Revoke returns. So
// IsRevoked, which RequireAuth calls on every request, reads memory only
// and does not allocate, and a sign-out holds across restarts.
//
// When the file cannot be written (a full disk): Revoke still records in
// memory, so the session ends in this process, and returns the error
// (sign-out logs it; a back-channel logout answers 500 so the provider
// retries); FirstUse returns the error (fail closed: no logout token is
// accepted unchecked).
type Revocations struct {
	d      *DB
	mirror *oidcauth.MemoryRevocations
}

// loadRevocations reads the file's revocations into a new mirror.
func loadRevocations(d *DB) (*Revocations, error) {
	r := &Revocations{d: d, mirror: oidcauth.NewMemoryRevocations()}
	err := d.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRevocations).ForEach(func(k, v []byte) error {
			if rev, ok := decodeRevocation(k, v); ok {
				// The mirror keeps the later cut-off of two records.
				return r.mirror.Revoke(context.Background(), rev)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Revoke implements oidcauth.Revocations.
func (r *Revocations) Revoke(ctx context.Context, rev oidcauth.Revocation) error {
	if err := r.mirror.Revoke(ctx, rev); err != nil {
		return err // names none or several kinds, or the list is full
	}
	key := revocationKey(rev)
	return r.d.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRevocations)
		at, until := rev.At, rev.Until
		if old, ok := decodeRevocation(key, b.Get(key)); ok {
			at, until = later(at, old.At), later(until, old.Until)
		}
		return b.Put(key, encodeTime(encodeTime(make([]byte, 0, 16), at), until))
	})
}

// Holds reports whether the file (and the mirror) hold rev with the same
// or a later cut-off and Until, so a Revoke of rev would change nothing:
// the back-channel handler then writes nothing for a replayed logout
// token. A revocation whose file write failed is held in memory only and
// is not reported, so the provider's retry of that logout writes it again.
func (r *Revocations) Holds(rev oidcauth.Revocation) bool {
	if !r.mirror.Holds(rev) {
		return false // names none or several kinds, or was never recorded
	}
	key := revocationKey(rev)
	held := false
	_ = r.d.db.View(func(tx *bbolt.Tx) error {
		old, ok := decodeRevocation(key, tx.Bucket(bucketRevocations).Get(key))
		held = ok && old.At.Unix() >= rev.At.Unix() && old.Until.Unix() >= rev.Until.Unix()
		return nil
	})
	return held
}

// IsRevoked implements oidcauth.Revocations, from memory.
func (r *Revocations) IsRevoked(sessionID, sid, subject string, signedIn time.Time) bool {
	return r.mirror.IsRevoked(sessionID, sid, subject, signedIn)
}

// FirstUse implements oidcauth.Revocations: the jti is kept in the
// file until it expires, so a logout token replayed after a restart is
// still refused.
func (r *Revocations) FirstUse(_ context.Context, jti string, until time.Time) (bool, error) {
	now := r.d.opts.Now()
	first := false
	err := r.d.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketJTIs)
		if v := b.Get([]byte(jti)); len(v) == 8 && now.Before(decodeTime(v)) {
			return nil
		}
		first = true
		return b.Put([]byte(jti), encodeTime(nil, until))
	})
	if err != nil {
		return false, err
	}
	return first, nil
}

// Mirror returns the in-memory mirror, for inspection.
func (r *Revocations) Mirror() *oidcauth.MemoryRevocations { return r.mirror }

// revocationKey is the kind's letter and the value: i for a SessionID, s
// for a SID, u for a Subject.
func revocationKey(rev oidcauth.Revocation) []byte {
	switch {
	case rev.ProviderSID != "":
		return append([]byte("s"), rev.ProviderSID...)
	case rev.Subject != "":
		return append([]byte("u"), rev.Subject...)
	default:
		return append([]byte("i"), rev.SessionID...)
	}
}

func decodeRevocation(k, v []byte) (oidcauth.Revocation, bool) {
	if len(k) < 2 || len(v) != 16 {
		return oidcauth.Revocation{}, false
	}
	rev := oidcauth.Revocation{At: decodeTime(v[:8]), Until: decodeTime(v[8:])}
	switch value := string(k[1:]); k[0] {
	case 'i':
		rev.SessionID = value
	case 's':
		rev.ProviderSID = value
	case 'u':
		rev.Subject = value
	default:
		return oidcauth.Revocation{}, false
	}
	return rev, true
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
