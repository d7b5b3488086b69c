package oidcauth

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// MemoryCoordinator's contract: one lease at a time, fencing of a holder
// whose lease expired, one outcome, waiters woken by it, bounded records.
func TestMemoryCoordinator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newClock()
	m := NewMemoryCoordinator()
	m.now = clock.Now

	f1, _ := m.Acquire(ctx, "k", time.Minute)
	if f1 <= 0 {
		t.Fatal("no lease")
	}
	if f, _ := m.Acquire(ctx, "k", time.Minute); f != 0 {
		t.Fatal("a second lease while the first is live")
	}
	clock.Advance(2 * time.Minute) // the holder died: its lease expired
	if out, ok, err := m.Wait(ctx, "k"); ok || out != nil || err != nil {
		t.Fatalf("Wait on an expired lease: %v %v", ok, err)
	}
	f2, _ := m.Acquire(ctx, "k", time.Minute)
	if f2 <= f1 {
		t.Fatalf("fence %d after %d", f2, f1)
	}
	if ok, _ := m.Publish(ctx, "k", f1, []byte("late"), time.Hour); ok {
		t.Error("a fenced-out holder published")
	}
	got := make(chan string)
	go func() {
		out, _, _ := m.Wait(ctx, "k")
		got <- string(out)
	}()
	if ok, _ := m.Publish(ctx, "k", f2, []byte("sealed"), time.Hour); !ok {
		t.Fatal("Publish refused")
	}
	if out := <-got; out != "sealed" {
		t.Errorf("waiter got %q", out)
	}
	if f, _ := m.Acquire(ctx, "k", time.Minute); f != 0 {
		t.Error("a lease after the outcome")
	}
	if ok, _ := m.Publish(ctx, "k", f2, []byte("again"), time.Hour); ok {
		t.Error("published twice")
	}
	clock.Advance(2 * time.Hour)
	if _, ok, _ := m.Wait(ctx, "k"); ok {
		t.Error("an outcome outlived its TTL")
	}

	// Released: the next holder goes ahead.
	f3, _ := m.Acquire(ctx, "r", time.Minute)
	_ = m.Release(ctx, "r", f3)
	if f4, _ := m.Acquire(ctx, "r", time.Minute); f4 <= f3 {
		t.Error("no lease after Release")
	}

	// Bounded: the oldest outcomes go first, live leases stay.
	m.limit = 8
	lease, _ := m.Acquire(ctx, "live", time.Hour)
	for i := range 20 {
		k := fmt.Sprint("o", i)
		f, _ := m.Acquire(ctx, k, time.Minute)
		m.Publish(ctx, k, f, []byte("x"), time.Duration(i+1)*time.Hour)
	}
	if len(m.records) > 8 {
		t.Errorf("%d records kept, limit 8", len(m.records))
	}
	if _, ok, _ := m.Wait(ctx, "o19"); !ok {
		t.Error("the newest outcome was evicted")
	}
	if ok, _ := m.Publish(ctx, "live", lease, []byte("y"), time.Hour); !ok {
		t.Error("a live lease was evicted")
	}
}
