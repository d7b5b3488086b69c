package bolt

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// Coordinator is an oidcauth.RefreshCoordinator in the database file, for
// one process that restarts: the outcome of a refresh (the new tokens,
// sealed with the session keys by oidcauth) outlives a restart, so a
// browser that sends the cookie from before the refresh after the app
// restarted catches up without a second grant, which a provider that
// rotates refresh tokens would answer by revoking the session. Fencing
// tokens come from a counter in the file, so they only grow.
//
// A lease on record when the database opens belonged to a process that
// died mid-refresh (the file is open in one process at a time): Open ends
// it, and the next request refreshes again. If the dead process had made
// its grant, the provider refuses the spent token and the user signs in
// again; no refresh token is spent twice while its outcome is on record.
type Coordinator struct {
	d *DB

	mu      sync.Mutex
	changed map[string]chan struct{} // closed when key's record changes
	blocked func()                   // tests: called when Wait starts to block
}

// coordRecord is a refresh record: the fence of its last lease, the
// lease's end (zero: none), and the outcome with its expiry.
type coordRecord struct {
	fence      int64
	leaseUntil time.Time
	until      time.Time
	outcome    []byte
	hasOutcome bool
}

func (r coordRecord) encode() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 25+len(r.outcome)), uint64(r.fence))
	lease := int64(0)
	if !r.leaseUntil.IsZero() {
		lease = r.leaseUntil.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(lease))
	b = encodeTime(b, r.until)
	if r.hasOutcome {
		return append(append(b, 1), r.outcome...)
	}
	return append(b, 0)
}

func decodeCoord(v []byte) (coordRecord, bool) {
	if len(v) < 25 || v[24] > 1 {
		return coordRecord{}, false
	}
	r := coordRecord{fence: int64(binary.BigEndian.Uint64(v)), until: decodeTime(v[16:24]), hasOutcome: v[24] == 1}
	if lease := int64(binary.BigEndian.Uint64(v[8:16])); lease != 0 {
		r.leaseUntil = time.Unix(0, lease)
	}
	if r.hasOutcome {
		r.outcome = v[25:]
	}
	return r, true
}

// coordExpiry is when a record holds nothing live any more.
func coordExpiry(v []byte) (time.Time, bool) {
	r, ok := decodeCoord(v)
	if !ok {
		return time.Time{}, false
	}
	if r.hasOutcome && r.until.After(r.leaseUntil) {
		return r.until, true
	}
	return r.leaseUntil, true
}

func (r coordRecord) published(now time.Time) bool { return r.hasOutcome && now.Before(r.until) }
func (r coordRecord) leased(now time.Time) bool {
	return !r.leaseUntil.IsZero() && now.Before(r.leaseUntil)
}

// endLeases ends the leases on record at open: their holder is dead.
func endLeases(tx *bbolt.Tx) error {
	b := tx.Bucket(bucketRefresh)
	var ended [][]byte
	var records []coordRecord
	_ = b.ForEach(func(k, v []byte) error {
		if r, ok := decodeCoord(v); ok && !r.leaseUntil.IsZero() {
			r.leaseUntil = time.Time{}
			ended = append(ended, append([]byte(nil), k...))
			records = append(records, r)
		}
		return nil
	})
	for i, k := range ended {
		if err := b.Put(k, records[i].encode()); err != nil {
			return err
		}
	}
	return nil
}

// Acquire implements oidcauth.RefreshCoordinator.
func (c *Coordinator) Acquire(_ context.Context, key string, ttl time.Duration) (int64, error) {
	now := c.d.opts.Now()
	var fence int64
	err := c.d.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRefresh)
		r, _ := decodeCoord(b.Get([]byte(key)))
		if r.published(now) || r.leased(now) {
			return nil
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		fence = int64(seq)
		return b.Put([]byte(key), coordRecord{fence: fence, leaseUntil: now.Add(ttl)}.encode())
	})
	if err != nil {
		return 0, err
	}
	return fence, nil
}

// Publish implements oidcauth.RefreshCoordinator.
func (c *Coordinator) Publish(_ context.Context, key string, fence int64, outcome []byte, ttl time.Duration) (bool, error) {
	now := c.d.opts.Now()
	published := false
	err := c.d.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRefresh)
		r, ok := decodeCoord(b.Get([]byte(key)))
		if !ok || r.fence != fence || r.published(now) {
			return nil
		}
		published = true
		return b.Put([]byte(key), coordRecord{fence: fence, until: now.Add(ttl), outcome: outcome, hasOutcome: true}.encode())
	})
	if published {
		c.notify(key)
	}
	return published, err
}

// Release implements oidcauth.RefreshCoordinator.
func (c *Coordinator) Release(_ context.Context, key string, fence int64) error {
	released := false
	err := c.d.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRefresh)
		r, ok := decodeCoord(b.Get([]byte(key)))
		if !ok || r.fence != fence || r.leaseUntil.IsZero() {
			return nil
		}
		released = true
		r.leaseUntil = time.Time{}
		return b.Put([]byte(key), r.encode())
	})
	if released {
		c.notify(key)
	}
	return err
}

// Wait implements oidcauth.RefreshCoordinator. A lease that expires while
// it waits ends the wait once its time has passed on the clock and in
// real time.
func (c *Coordinator) Wait(ctx context.Context, key string) ([]byte, bool, error) {
	for {
		changed := c.watch(key) // before reading, so no change is missed
		now := c.d.opts.Now()
		var r coordRecord
		err := c.d.db.View(func(tx *bbolt.Tx) error {
			r, _ = decodeCoord(tx.Bucket(bucketRefresh).Get([]byte(key)))
			r.outcome = append([]byte(nil), r.outcome...) // valid only in the transaction
			return nil
		})
		if err != nil {
			return nil, false, err
		}
		if r.published(now) {
			return r.outcome, true, nil
		}
		if !r.leased(now) {
			return nil, false, nil
		}
		timer := time.NewTimer(r.leaseUntil.Sub(now))
		if c.blocked != nil {
			c.blocked()
		}
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

// watch returns a channel closed at key's next change.
func (c *Coordinator) watch(key string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.changed[key]
	if !ok {
		ch = make(chan struct{})
		c.changed[key] = ch
	}
	return ch
}

func (c *Coordinator) notify(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.changed[key]; ok {
		close(ch)
		delete(c.changed, key)
	}
}
