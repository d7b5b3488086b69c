package oidcauth

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// BenchmarkRequireAuthRevocations is BenchmarkRequest's require-auth case
// with 100,000 revocation records (by session id, sid and subject) in the
// in-memory store that RequireAuth consults on every request. Target: the
// same per-request budget as without them (5 µs, 10 allocations over bare).
//
//	go test -run '^$' -bench 'BenchmarkRequest/require-auth|BenchmarkRequireAuthRevocations' -count 10 . | benchstat -
func BenchmarkRequireAuthRevocations(b *testing.B) {
	a, r, _ := typicalRequest(b)
	store := a.cfg.Revocations
	ctx := context.Background()
	now := time.Now()
	for i := range 100_000 {
		rev := Revocation{At: now, Until: now.Add(time.Hour)}
		switch v := strconv.Itoa(i); i % 3 {
		case 0:
			rev.SessionID = "session-" + v
		case 1:
			rev.ProviderSID = "sid-" + v
		default:
			rev.Subject = "subject-" + v
		}
		if err := store.Revoke(ctx, rev); err != nil {
			b.Fatal(err)
		}
	}
	h := a.RequireAuth(userHandler)
	w := nopWriter{http.Header{}}
	sinkUser = nil
	h.ServeHTTP(w, r)
	if sinkUser == nil {
		b.Fatal("session refused")
	}
	b.ReportAllocs()
	for b.Loop() {
		delete(w.h, "Cache-Control")
		h.ServeHTTP(w, r)
	}
}
