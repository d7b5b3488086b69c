package oidcauth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Revocation ends sessions before their cookies expire. Exactly one of
// SessionID, ProviderSID and Subject is set.
type Revocation struct {
	// SessionID is this library's id of one session: what sign-out
	// revokes, so a copy of the cookie is refused afterwards.
	SessionID string
	// ProviderSID is the provider's session id (the sid claim): what a
	// back-channel logout token names, ending every session of this app
	// signed in through that provider session.
	ProviderSID string
	// Subject ends all the sessions of a user (the sub claim), as a
	// back-channel logout token without sid or [Auth.SignOutEverywhere]
	// asks.
	Subject string
	// At is the cut-off of a ProviderSID or Subject revocation: sessions
	// signed in at or before At are refused; a sign-in after it starts a new, valid
	// session. Sessions record their sign-in to the second, so one signed
	// in during At's second counts as before it (refused: the safe side of
	// the ambiguity). A SessionID revocation names one session and has no
	// cut-off: it holds whatever the clocks of the instance that opened the
	// session and the one that ended it say; At only dates it.
	At time.Time
	// Until is when the record may be forgotten: by then every session it
	// could match has expired anyway (At + Config.SessionMaxAge +
	// Config.ClockSkew).
	Until time.Time
}

// Revocations records revocations and answers whether a session is
// revoked. [Config.Revocations] takes one; the default,
// [MemoryRevocations], is right for a single instance until it restarts.
// The stores/bolt module keeps them in a file across restarts; several
// instances share them through the stores/redis module, so that a logout
// delivered to any instance holds on all.
type Revocations interface {
	// Revoke records r. An error means it may not hold everywhere.
	Revoke(ctx context.Context, r Revocation) error
	// IsRevoked reports whether a session (its id, the provider's sid, the
	// subject, and when it signed in) is revoked. RequireAuth calls it on
	// every request: it must answer from memory, without blocking on the
	// network, and without allocating.
	IsRevoked(sessionID, sid, subject string, signedIn time.Time) bool
	// FirstUse records a back-channel logout token's jti until it expires
	// and reports whether this is its first use (Back-Channel Logout 1.0
	// §2.6: a replayed logout token is rejected).
	FirstUse(ctx context.Context, jti string, until time.Time) (bool, error)
}

// A Revocations may also have a method Holds(Revocation) bool that
// reports whether the revocation is already recorded, durably, with the
// same or a later cut-off and Until. The back-channel handler then writes
// nothing for a replayed or duplicated logout token. Holds must not answer
// true for a record that may not have reached the shared store (a write
// that failed), or the provider's retry would be dropped.
// [MemoryRevocations] has it, and so do the Revocations of stores/bolt (a
// record in the file) and stores/redis (the very record in Redis: one
// read, only for a record the mirror holds).

// MemoryRevocations is a [Revocations] in process memory: lookups are
// three map reads under a read lock, and records are dropped once their
// Until has passed. It is the default store, and the local mirror of
// distributed ones. The zero value is ready to use.
//
// It is bounded per kind, so a script that signs in and out in a loop
// cannot grow memory without end, nor push out a logout the provider
// asked for: past 1,000,000 sign-outs, the one recorded first
// (the first to expire) gives way to the new one (a copy of that
// session's cookie, whose browser cookie was cleared at sign-out, is then
// accepted again until it expires); past 100,000 sid or
// subject revocations, a new one is refused with [ErrRevocationsFull] and
// none is ever pushed out (the back-channel logout answers 500, logged,
// and the provider retries).
type MemoryRevocations struct {
	n atomic.Int64 // records; 0 lets IsRevoked return at once

	mu     sync.RWMutex
	kinds  [3]map[string]revoked // by SessionID, SID, Subject
	order  []queued              // SessionID records, first recorded first
	jtis   map[string]int64      // unix seconds until which a jti is kept
	sweep  int64                 // unix seconds of the next sweep
	now    func() time.Time
	limits [3]int // records kept at most per kind; 0 is the default
}

// The bounds per kind (some 100 MB at most for sign-outs): a sign-out
// adds a record per session, kept for a session lifetime; sid and subject
// records come from the provider's logout tokens only.
const (
	maxSessionRevocations  = 1_000_000
	maxProviderRevocations = 100_000
)

// ErrRevocationsFull is returned by [MemoryRevocations.Revoke] for a new sid
// or subject revocation past the list's bound: none is pushed out to make
// room, since each may end a session the provider ended.
var ErrRevocationsFull = errors.New("oidcauth: revocation list full")

type revoked struct{ at, until int64 }

// queued is a SessionID record in the order of recording.
type queued struct {
	id    string
	until int64
}

func (m *MemoryRevocations) limit(kind int) int {
	if m.limits[kind] > 0 {
		return m.limits[kind]
	}
	if kind == 0 {
		return maxSessionRevocations
	}
	return maxProviderRevocations
}

// NewMemoryRevocations returns an empty in-memory store.
func NewMemoryRevocations() *MemoryRevocations { return &MemoryRevocations{} }

var errEmptyRevocation = errors.New("oidcauth: a revocation names exactly one of SessionID, ProviderSID and Subject")

func (r Revocation) kind() (int, string, error) {
	set := 0
	var kind int
	var value string
	for i, v := range [...]string{r.SessionID, r.ProviderSID, r.Subject} {
		if v != "" {
			set++
			kind, value = i, v
		}
	}
	if set != 1 {
		return 0, "", errEmptyRevocation
	}
	return kind, value, nil
}

// Revoke records r, keeping the latest cut-off when the same session, sid
// or subject is revoked again.
func (m *MemoryRevocations) Revoke(_ context.Context, r Revocation) error {
	kind, value, err := r.kind()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if now := m.sweepLocked(); r.Until.Unix() < now {
		return nil // every session it could match has expired
	}
	if m.kinds[kind] == nil {
		m.kinds[kind] = map[string]revoked{}
	}
	rec := revoked{at: r.At.Unix(), until: r.Until.Unix()}
	old, exists := m.kinds[kind][value]
	if exists {
		rec.at, rec.until = max(rec.at, old.at), max(rec.until, old.until)
	} else if len(m.kinds[kind]) >= m.limit(kind) {
		if kind != 0 {
			return ErrRevocationsFull
		}
		m.dropFirstLocked()
	}
	m.kinds[kind][value] = rec
	if kind == 0 && rec != old {
		m.order = append(m.order, queued{value, rec.until})
	}
	m.count()
	return nil
}

// dropFirstLocked drops the SessionID record recorded first that is still
// current; m.mu is held.
func (m *MemoryRevocations) dropFirstLocked() {
	for len(m.order) > 0 {
		q := m.order[0]
		m.order[0] = queued{}
		m.order = m.order[1:]
		if rec, ok := m.kinds[0][q.id]; ok && rec.until == q.until {
			delete(m.kinds[0], q.id)
			return
		}
	}
}

// IsRevoked implements [Revocations].
func (m *MemoryRevocations) IsRevoked(sessionID, sid, subject string, signedIn time.Time) bool {
	if m.n.Load() == 0 {
		return false
	}
	t := signedIn.Unix()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for kind, v := range [...]string{sessionID, sid, subject} {
		if v == "" {
			continue
		}
		// A session id names one session: no cut-off applies.
		if rec, ok := m.kinds[kind][v]; ok && (kind == 0 || t <= rec.at) {
			return true
		}
	}
	return false
}

// FirstUse implements [Revocations].
func (m *MemoryRevocations) FirstUse(_ context.Context, jti string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked()
	if _, seen := m.jtis[jti]; seen {
		return false, nil
	}
	if m.jtis == nil {
		m.jtis = map[string]int64{}
	}
	m.jtis[jti] = until.Unix()
	return true, nil
}

// Range calls f for each record until f returns false, so a distributed
// store can write its mirror back after an outage.
func (m *MemoryRevocations) Range(f func(Revocation) bool) {
	m.mu.RLock()
	var all []Revocation
	for kind, recs := range m.kinds {
		for v, rec := range recs {
			r := Revocation{At: time.Unix(rec.at, 0), Until: time.Unix(rec.until, 0)}
			*[...]*string{&r.SessionID, &r.ProviderSID, &r.Subject}[kind] = v
			all = append(all, r)
		}
	}
	m.mu.RUnlock()
	for _, r := range all {
		if !f(r) {
			return
		}
	}
}

// len returns the number of revocation records kept.
func (m *MemoryRevocations) len() int { return int(m.n.Load()) }

// sweepLocked drops expired records about once a minute and returns the
// time; m.mu is held.
func (m *MemoryRevocations) sweepLocked() int64 {
	clock := m.now
	if clock == nil {
		clock = time.Now
	}
	now := clock().Unix()
	if now < m.sweep {
		return now
	}
	m.sweep = now + 60
	for _, recs := range m.kinds {
		for v, rec := range recs {
			if rec.until < now {
				delete(recs, v)
			}
		}
	}
	for jti, until := range m.jtis {
		if until < now {
			delete(m.jtis, jti)
		}
	}
	// The queue keeps the records still current, in a fresh array so the
	// dropped prefix is freed.
	kept := make([]queued, 0, len(m.kinds[0]))
	for _, q := range m.order {
		if rec, ok := m.kinds[0][q.id]; ok && rec.until == q.until {
			kept = append(kept, q)
		}
	}
	m.order = kept
	m.count()
	return now
}

func (m *MemoryRevocations) count() {
	n := 0
	for _, recs := range m.kinds {
		n += len(recs)
	}
	m.n.Store(int64(n))
}

// revoked reports whether s is revoked in the configured store.
// Back-channel logout speaks for the OpenID provider only, so its sid and
// subject revocations never match a session of a plain OAuth 2.0 provider,
// whose user ids live in another namespace: those are revoked by a
// Subject that names the provider too ([Auth.SignOutEverywhere]).
func (a *Auth) revoked(s *session) bool {
	sid, sub := s.sid, s.user.Subject
	if s.provider != "" {
		sid, sub = "", s.oauth2Subject
	}
	return a.cfg.Revocations.IsRevoked(s.id, sid, sub, time.Unix(s.created, 0))
}

// revocationHolder is a Revocations that can tell whether it already
// holds a revocation, durably, with the same or a later cut-off: the
// back-channel handler then writes nothing for a replayed token.
type revocationHolder interface {
	Holds(r Revocation) bool
}

// Holds reports whether m holds r: a record for the same session, sid or
// subject whose cut-off and Until are no earlier than r's. A Revoke of r
// would change nothing.
func (m *MemoryRevocations) Holds(r Revocation) bool {
	kind, value, err := r.kind()
	if err != nil {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	rec, ok := m.kinds[kind][value]
	return ok && rec.at >= r.At.Unix() && rec.until >= r.Until.Unix()
}

// withUntil sets r's At (now when zero) and Until from the session
// lifetime, as revoke records it.
func (a *Auth) withUntil(r Revocation) Revocation {
	if r.At.IsZero() {
		r.At = a.cfg.Now()
	}
	r.Until = r.At.Add(a.cfg.SessionMaxAge + a.cfg.ClockSkew)
	return r
}

// revoke records r (its Until set from the session lifetime) and forgets
// what the process holds for the session.
func (a *Auth) revoke(ctx context.Context, r Revocation) error {
	r = a.withUntil(r)
	if r.SessionID != "" {
		a.tokens.drop(r.SessionID)
		a.verified.forget(r.SessionID) // memory only: revoked() refuses it anyway
	}
	return a.cfg.Revocations.Revoke(ctx, r)
}
