package bolt

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth"
)

// Holds answers true only for a record the file has, with the same or a
// later cut-off and Until: not for one kept in memory alone because the
// file write failed (the provider's retry of a logout answered 500 must be
// written again).
func TestHolds(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "oidcauth.db"), Options{})
	var store any = db.Revocations()
	h, ok := store.(interface {
		Holds(oidcauth.Revocation) bool
	})
	if !ok {
		t.Fatal("Revocations has no Holds method")
	}
	r := db.Revocations()
	now := time.Now().Truncate(time.Second)
	stored := oidcauth.Revocation{Subject: "logged-out", At: now, Until: now.Add(time.Hour)}
	if err := r.Revoke(ctx, stored); err != nil {
		t.Fatal(err)
	}
	earlier := stored
	earlier.At, earlier.Until = now.Add(-time.Minute), now.Add(time.Minute)
	if !h.Holds(stored) || !h.Holds(earlier) {
		t.Error("a revocation in the file is not held")
	}
	later := stored
	later.At = now.Add(time.Second)
	if h.Holds(later) || h.Holds(oidcauth.Revocation{Subject: "someone-else", At: now, Until: stored.Until}) {
		t.Error("Holds answers for a revocation that was never recorded")
	}
	// bbolt refuses keys over 32 KiB: the mirror takes the record, the file
	// does not.
	local := oidcauth.Revocation{ProviderSID: strings.Repeat("s", 40<<10), At: now, Until: now.Add(time.Hour)}
	if err := r.Revoke(ctx, local); err == nil {
		t.Fatal("the file took a 40 KiB key")
	}
	if !r.Mirror().Holds(local) {
		t.Fatal("the mirror lacks the revocation")
	}
	if h.Holds(local) {
		t.Error("a revocation the file did not take is reported held")
	}
	if h.Holds(oidcauth.Revocation{At: now}) {
		t.Error("a revocation naming nothing is reported held")
	}
}
