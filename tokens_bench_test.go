package oidcauth

import (
	"context"
	"net/http"
	"testing"
	"time"
)

var sinkToken string

// BenchmarkAccessToken measures AccessToken on a still-valid token, inside
// a handler that RequireAuth already gave the session: no network call,
// target under 2 µs. "cached-resource" reads a resource token from the
// process's cache, with 10,000 other sessions in it.
//
//	go test -run '^$' -bench BenchmarkAccessToken -count 10 . | benchstat -
func BenchmarkAccessToken(b *testing.B) {
	setup := func(b *testing.B) (*Auth, *http.Request) {
		a, r, _ := typicalRequest(b)
		s, _ := a.readSession(r)
		if s == nil {
			b.Fatal("session not accepted")
		}
		return a, r.WithContext(context.WithValue(r.Context(), sessionContextKey, s))
	}
	b.Run("session-token", func(b *testing.B) {
		a, r := setup(b)
		w := nopWriter{http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			tok, err := a.AccessToken(w, r, "")
			if err != nil {
				b.Fatal(err)
			}
			sinkToken = tok
		}
	})
	b.Run("cached-resource", func(b *testing.B) {
		a, r := setup(b)
		s := sessionFromContext(r.Context())
		now := time.Now().Unix()
		for i := range 10_000 {
			a.tokens.get(string(rune(i))+"-other", now)
		}
		st := a.tokens.get(s.id, now)
		snap := &tokenSnap{extra: map[tokenKey]cachedToken{{keyResource, apiResource}: {token: s.accessToken.compact(), expiry: now + 3600}}}
		snap.from(s)
		st.snap.Store(snap)
		w := nopWriter{http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			tok, err := a.AccessToken(w, r, apiResource)
			if err != nil {
				b.Fatal(err)
			}
			sinkToken = tok
		}
	})
}
