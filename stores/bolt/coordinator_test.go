package bolt

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
)

func TestCoordinator(t *testing.T) {
	ctx := context.Background()
	clock := time.Unix(1_800_000_000, 0)
	now := func() time.Time { return clock }
	path := filepath.Join(t.TempDir(), "oidcauth.db")
	db := open(t, path, Options{Now: now})
	c := db.Coordinator()

	if out, ok, err := c.Wait(ctx, "k"); ok || out != nil || err != nil {
		t.Fatalf("Wait with nothing on record: %q %v %v", out, ok, err)
	}
	f1, err := c.Acquire(ctx, "k", 10*time.Second)
	if err != nil || f1 <= 0 {
		t.Fatalf("Acquire = %d, %v", f1, err)
	}
	if f, _ := c.Acquire(ctx, "k", 10*time.Second); f != 0 {
		t.Errorf("a second Acquire during the lease got fence %d", f)
	}

	// The holder outlives its lease: another takes it over with a greater
	// fence, and the first can no longer publish.
	clock = clock.Add(11 * time.Second)
	f2, _ := c.Acquire(ctx, "k", time.Hour) // long: only a notification ends the wait below
	if f2 <= f1 {
		t.Fatalf("takeover fence %d, not greater than %d", f2, f1)
	}
	if ok, _ := c.Publish(ctx, "k", f1, []byte("late"), time.Hour); ok {
		t.Error("the first holder published after its lease was taken over")
	}
	if err := c.Release(ctx, "k", f1); err != nil {
		t.Fatal(err)
	}
	if f, _ := c.Acquire(ctx, "k", 10*time.Second); f != 0 {
		t.Error("the first holder's Release ended the second's lease")
	}

	// A waiter wakes when the holder publishes.
	blocked := make(chan struct{}, 4)
	c.blocked = func() { blocked <- struct{}{} }
	got := make(chan string, 1)
	go func() {
		out, ok, err := c.Wait(ctx, "k")
		if !ok || err != nil {
			got <- "nothing"
			return
		}
		got <- string(out)
	}()
	<-blocked // the waiter sleeps on the lease
	if ok, err := c.Publish(ctx, "k", f2, []byte("sealed outcome"), time.Hour); !ok || err != nil {
		t.Fatalf("Publish = %v, %v", ok, err)
	}
	if out := <-got; out != "sealed outcome" {
		t.Errorf("the waiter got %q", out)
	}
	if ok, _ := c.Publish(ctx, "k", f2, []byte("again"), time.Hour); ok {
		t.Error("a second Publish replaced the outcome")
	}
	if f, _ := c.Acquire(ctx, "k", 10*time.Second); f != 0 {
		t.Error("Acquire succeeded over a published outcome")
	}

	// Released without an outcome: a waiter returns, a new lease may start.
	f3, _ := c.Acquire(ctx, "other", time.Hour)
	released := make(chan bool, 1)
	go func() {
		_, ok, _ := c.Wait(ctx, "other")
		released <- ok
	}()
	<-blocked
	if err := c.Release(ctx, "other", f3); err != nil {
		t.Fatal(err)
	}
	if ok := <-released; ok {
		t.Error("Wait reported an outcome after a release")
	}
	c.blocked = nil
	cancelled, cancel := context.WithCancel(ctx)
	c.Acquire(ctx, "other", 10*time.Second)
	cancel()
	if _, _, err := c.Wait(cancelled, "other"); err == nil {
		t.Error("Wait ignored its context")
	}

	// A restart: the outcome stays, the dead process's lease ends, fences
	// keep growing; after the outcome's ttl the sweep forgets it.
	db.Close()
	db = open(t, path, Options{Now: now})
	c = db.Coordinator()
	if out, ok, _ := c.Wait(ctx, "k"); !ok || string(out) != "sealed outcome" {
		t.Errorf("after the restart Wait = %q %v", out, ok)
	}
	f4, _ := c.Acquire(ctx, "other", 10*time.Second)
	if f4 <= f3 {
		t.Errorf("after the restart: lease not ended or fence %d not greater than %d", f4, f3)
	}
	clock = clock.Add(2 * time.Hour)
	if err := db.sweep(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Wait(ctx, "k"); ok {
		t.Error("an expired outcome is still served")
	}
	n := 0
	_ = db.db.View(func(tx *bbolt.Tx) error { n = tx.Bucket(bucketRefresh).Stats().KeyN; return nil })
	if n != 0 {
		t.Errorf("after the sweep %d refresh records remain", n)
	}
}
