package oidcauth

import (
	"context"
	"slices"
	"sync"
	"time"
)

// RefreshCoordinator lets every instance of an app spend a rotating refresh
// token at most once, whichever instance a request reaches ([Config.RefreshCoordinator]).
//
// A refresh token names its coordination record by a hash (key): the
// instance that takes the lease on key makes the one refresh grant and
// publishes its outcome (the new tokens, sealed with the session keys, so
// the coordinator holds no token in clear) under key; the others wait for
// the outcome and adopt it; a request that arrives later with the spent
// refresh token (a stale cookie, a server-side record read just before the
// refresh) finds the outcome and catches up without a grant. An outcome
// is kept for as long as a session holding the spent token can still
// arrive (the session's remaining lifetime).
//
// The lease expires, so a holder that dies mid-refresh does not block the
// session for longer than the lease; its fencing token keeps a holder
// that outlived its lease from overwriting the outcome of the one that
// took over.
//
// Implementations: [MemoryCoordinator] (one process; the default), the
// stores/bolt module's (one process, outcomes kept across restarts) and
// the stores/redis module's (Redis and Redis Cluster). Each method may be
// called concurrently. Errors are for faults of the coordinator (an
// unreachable server); the library then makes no refresh grant, so no
// refresh token is spent twice (see SECURITY.md).
type RefreshCoordinator interface {
	// Acquire takes the lease on key for ttl and returns its fencing
	// token, greater than zero and than the fencing token of any earlier
	// lease on key still on record. It returns 0 when another holder's
	// lease is live or an outcome is already published under key.
	Acquire(ctx context.Context, key string, ttl time.Duration) (fence int64, err error)
	// Publish stores outcome under key for ttl and ends the lease, when no
	// outcome is published yet and no other holder has taken the lease
	// since fence was granted (fence holds it, or it expired and nobody
	// took it). Otherwise it stores nothing and returns false: the
	// published outcome, or the newer holder's, wins.
	Publish(ctx context.Context, key string, fence int64, outcome []byte, ttl time.Duration) (bool, error)
	// Release ends the lease fence holds, publishing nothing (the refresh
	// failed in a way that lets it be tried again). Releasing a lease that
	// is no longer fence's does nothing.
	Release(ctx context.Context, key string, fence int64) error
	// Wait returns the outcome published under key. While nothing is
	// published and a lease on key is live, it waits, until the outcome
	// appears, the lease ends, or ctx ends (ctx's error). With neither an
	// outcome nor a live lease it returns ok false at once.
	Wait(ctx context.Context, key string) (outcome []byte, ok bool, err error)
}

// MemoryCoordinator is a [RefreshCoordinator] in process memory: refreshes
// are coordinated among the [Auth]s of one process that share it (and, the
// default, within one Auth). It keeps at most a bounded number of records
// (10,000); past that, the oldest outcomes go first, and a cookie
// whose spent refresh token was forgotten is refreshed again (and refused
// by a provider that rotates). The zero value is not ready; use
// [NewMemoryCoordinator].
type MemoryCoordinator struct {
	mu      sync.Mutex
	records map[string]*coordRecord
	fences  int64
	now     func() time.Time
	limit   int
}

// maxCoordRecords bounds a MemoryCoordinator: an outcome is about the size
// of a session (a few KB), so this is tens of MB at most.
const maxCoordRecords = 10_000

type coordRecord struct {
	fence      int64     // the lease's, or the last lease's
	leaseUntil time.Time // zero: no live lease
	outcome    []byte    // nil: none published
	until      time.Time // when the outcome is forgotten
	changed    chan struct{}
}

// NewMemoryCoordinator returns an empty in-memory coordinator.
func NewMemoryCoordinator() *MemoryCoordinator {
	return &MemoryCoordinator{records: map[string]*coordRecord{}, now: time.Now}
}

// record returns key's record, creating it; m.mu is held.
func (m *MemoryCoordinator) record(key string, now time.Time) *coordRecord {
	if rec := m.records[key]; rec != nil {
		return rec
	}
	limit := m.limit
	if limit == 0 {
		limit = maxCoordRecords
	}
	if len(m.records) >= limit {
		m.evict(now, limit)
	}
	rec := &coordRecord{changed: make(chan struct{})}
	m.records[key] = rec
	return rec
}

// evict drops expired records, then the oldest outcomes until a quarter of
// the room is free; m.mu is held. Records with a live lease stay.
func (m *MemoryCoordinator) evict(now time.Time, limit int) {
	for k, rec := range m.records {
		if rec.idle(now) {
			delete(m.records, k)
		}
	}
	excess := len(m.records) - (limit - limit/4)
	if excess <= 0 {
		return
	}
	type aged struct {
		key   string
		until time.Time
	}
	var outcomes []aged
	for k, rec := range m.records {
		if rec.outcome != nil {
			outcomes = append(outcomes, aged{k, rec.until})
		}
	}
	slices.SortFunc(outcomes, func(a, b aged) int { return a.until.Compare(b.until) })
	for _, o := range outcomes[:min(excess, len(outcomes))] {
		delete(m.records, o.key)
	}
}

// idle reports whether rec holds nothing live: no lease, no outcome.
func (rec *coordRecord) idle(now time.Time) bool {
	leased := !rec.leaseUntil.IsZero() && now.Before(rec.leaseUntil)
	published := rec.outcome != nil && now.Before(rec.until)
	return !leased && !published
}

func (rec *coordRecord) notify() {
	close(rec.changed)
	rec.changed = make(chan struct{})
}

// Acquire implements [RefreshCoordinator].
func (m *MemoryCoordinator) Acquire(_ context.Context, key string, ttl time.Duration) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	rec := m.record(key, now)
	if rec.outcome != nil && now.Before(rec.until) {
		return 0, nil
	}
	if !rec.leaseUntil.IsZero() && now.Before(rec.leaseUntil) {
		return 0, nil
	}
	m.fences++
	rec.fence, rec.leaseUntil, rec.outcome = m.fences, now.Add(ttl), nil
	return rec.fence, nil
}

// Publish implements [RefreshCoordinator].
func (m *MemoryCoordinator) Publish(_ context.Context, key string, fence int64, outcome []byte, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	rec := m.records[key]
	if rec == nil || rec.fence != fence || (rec.outcome != nil && now.Before(rec.until)) {
		return false, nil
	}
	rec.outcome, rec.until, rec.leaseUntil = append([]byte(nil), outcome...), now.Add(ttl), time.Time{}
	rec.notify()
	return true, nil
}

// Release implements [RefreshCoordinator].
func (m *MemoryCoordinator) Release(_ context.Context, key string, fence int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec := m.records[key]; rec != nil && rec.fence == fence && !rec.leaseUntil.IsZero() {
		rec.leaseUntil = time.Time{}
		rec.notify()
	}
	return nil
}

// Wait implements [RefreshCoordinator]. A lease that expires while it
// waits ends the wait when the lease's time has passed on the
// coordinator's clock and in real time.
func (m *MemoryCoordinator) Wait(ctx context.Context, key string) ([]byte, bool, error) {
	for {
		m.mu.Lock()
		now := m.now()
		rec := m.records[key]
		if rec == nil {
			m.mu.Unlock()
			return nil, false, nil
		}
		if rec.outcome != nil && now.Before(rec.until) {
			out := rec.outcome
			m.mu.Unlock()
			return out, true, nil
		}
		if rec.leaseUntil.IsZero() || !now.Before(rec.leaseUntil) {
			m.mu.Unlock()
			return nil, false, nil
		}
		changed, left := rec.changed, rec.leaseUntil.Sub(now)
		m.mu.Unlock()
		timer := time.NewTimer(left)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, false, ctx.Err()
		}
		timer.Stop()
	}
}
