package redis

import (
	"context"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth"
)

// holder is the optional Revocations method the back-channel handler
// asks before writing: a replayed logout token writes nothing.
type holder interface {
	Holds(oidcauth.Revocation) bool
}

// Holds answers true only for a record Redis has: not for one this
// instance holds alone because Redis did not take it (the provider's retry
// of a logout answered 500 must be written again), nor for one Redis lost
// in a restart, until it is written back.
func TestHoldsOnlyWhatRedisHas(t *testing.T) {
	redis := startRedis(t)
	p := startProxy(t, redis.addr)
	var store any = newRevocations(t, p.client(t, 100*time.Millisecond), Options{})
	h, ok := store.(holder)
	if !ok {
		t.Fatal("Revocations has no Holds method")
	}
	here := store.(*Revocations)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	stored := oidcauth.Revocation{Subject: "logged-out", At: now, Until: now.Add(time.Hour)}
	if err := here.Revoke(ctx, stored); err != nil {
		t.Fatal(err)
	}
	if !h.Holds(stored) {
		t.Error("a revocation Redis took is not held")
	}
	later := stored
	later.At = now.Add(time.Second)
	if h.Holds(later) || h.Holds(oidcauth.Revocation{Subject: "someone-else", At: now, Until: stored.Until}) {
		t.Error("Holds answers for a revocation that was never recorded")
	}

	p.delay.Store(int64(500 * time.Millisecond))
	local := oidcauth.Revocation{ProviderSID: "logged-out-during-the-partition", At: now, Until: now.Add(time.Hour)}
	if err := here.Revoke(ctx, local); err == nil {
		t.Fatal("Revoke reported success without Redis")
	}
	if !here.Mirror().Holds(local) {
		t.Fatal("the mirror lacks the revocation made during the partition")
	}
	if h.Holds(local) {
		t.Error("a revocation Redis did not take is reported held")
	}
	if h.Holds(stored) {
		t.Error("Holds answered true without reaching Redis")
	}
	p.delay.Store(0)
	if h.Holds(local) {
		t.Error("a revocation still waiting for the next Sync is reported held")
	}
	if err := here.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !h.Holds(local) {
		t.Error("a revocation the Sync wrote to Redis is not held")
	}

	redis.stop()
	redis.start() // empty: no persistence
	if h.Holds(stored) {
		t.Error("a revocation Redis lost in its restart is reported held")
	}
	if err := here.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !h.Holds(stored) || !h.Holds(local) {
		t.Error("revocations written back after the restart are not held")
	}
}
