package oidcauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/oidcauth/oidcauth/internal/cookie"
)

// cachedAuth returns an Auth on a movable clock and a request carrying a
// typical session cookie written at the clock's time.
func cachedAuth(t *testing.T) (*Auth, *clock, *http.Request, *session) {
	t.Helper()
	c := newClock()
	a := testAuth(t, func(cfg *Config) { cfg.Now = c.Now })
	s, _, _ := typicalSession(t, c.Now())
	rec := httptest.NewRecorder()
	if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), s, true); err != nil {
		t.Fatal(err)
	}
	return a, c, sessionRequest("GET", "https://app.example.com/dashboard", rec), s
}

func TestVerifiedCacheHitIsACopy(t *testing.T) {
	t.Parallel()
	a, _, r, want := cachedAuth(t)
	first := a.session(nil, r)
	if first == nil || a.verified.len() != 1 {
		t.Fatalf("first read: session %v, %d cached", first != nil, a.verified.len())
	}
	// What the caller does to its session (touched, token catch-up, the
	// user a handler changes) must not reach the next request.
	first.touched = 1
	first.user.Name = "changed"
	first.refreshToken = "changed"
	second := a.session(nil, r)
	if second == nil || second == first {
		t.Fatal("a hit must hand out its own session")
	}
	if second.touched != want.touched || second.user.Name != want.user.Name || second.refreshToken != want.refreshToken {
		t.Errorf("hit returned a session changed by an earlier caller: touched %d name %q", second.touched, second.user.Name)
	}
	if second.user.claims != want.user.claims || second.accessToken.compact() != want.accessToken.compact() {
		t.Error("hit differs from the session written")
	}
}

func TestVerifiedCacheOnlyAuthenticated(t *testing.T) {
	t.Parallel()
	a, _, r, _ := cachedAuth(t)
	v, _ := cookie.Read(r, a.sessionCookie)
	for name, value := range map[string]string{
		"tampered":  v[:len(v)-2] + flip(v[len(v)-2]) + v[len(v)-1:],
		"truncated": v[:len(v)/2],
		"garbage":   strings.Repeat("A", len(v)),
	} {
		t.Run(name, func(t *testing.T) {
			bad := httptest.NewRequest("GET", "/", nil)
			bad.AddCookie(&http.Cookie{Name: a.sessionCookie, Value: value})
			for range 2 {
				if s := a.session(nil, bad); s != nil {
					t.Fatal("invalid cookie accepted")
				}
			}
			if n := a.verified.len(); n != 0 {
				t.Fatalf("%d entries cached for an invalid cookie", n)
			}
		})
	}
	// Another Auth (other keys) never sees this one's entries.
	other := testAuth(t, func(cfg *Config) { cfg.SessionKeys = [][]byte{testKey(9)} })
	if a.session(nil, r) == nil || a.verified.len() != 1 {
		t.Fatal("valid cookie not cached")
	}
	if other.session(nil, r) != nil {
		t.Error("a cookie cached by one Auth was accepted by another with other keys")
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// Expiry and revocation are checked on every hit: a cached session is
// refused exactly when the uncached path refuses it, and the entry goes.
func TestVerifiedCacheHitStillChecked(t *testing.T) {
	t.Parallel()
	t.Run("idle timeout", func(t *testing.T) {
		a, c, r, _ := cachedAuth(t)
		if a.session(nil, r) == nil || a.verified.len() != 1 {
			t.Fatal("not cached")
		}
		c.Advance(a.cfg.SessionIdleTimeout)
		rec := httptest.NewRecorder()
		a.RequireAuthAPI(userHandler).ServeHTTP(rec, r)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("idle session served from the cache: %d", rec.Code)
		}
		if n := a.verified.len(); n != 0 {
			t.Errorf("refused session still cached (%d)", n)
		}
	})
	t.Run("absolute lifetime", func(t *testing.T) {
		c := newClock()
		a := testAuth(t, func(cfg *Config) { cfg.Now = c.Now })
		s, _, _ := typicalSession(t, c.Now())
		s.created = c.Now().Add(-a.cfg.SessionMaxAge).Unix() + 2 // active, nearly at the limit
		rec := httptest.NewRecorder()
		if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), s, true); err != nil {
			t.Fatal(err)
		}
		r := sessionRequest("GET", "/", rec)
		if a.session(nil, r) == nil || a.verified.len() != 1 {
			t.Fatal("not cached")
		}
		c.Advance(2 * time.Second)
		if a.session(nil, r) != nil {
			t.Error("session past its absolute lifetime served from the cache")
		}
	})
	t.Run("back-channel logout", func(t *testing.T) {
		// Revoked by the provider's sid: nothing evicts the entry, the
		// check on the hit refuses it.
		a, c, r, s := cachedAuth(t)
		if a.session(nil, r) == nil || a.verified.len() != 1 {
			t.Fatal("not cached")
		}
		c.Advance(time.Second)
		if err := a.cfg.Revocations.Revoke(t.Context(), Revocation{ProviderSID: s.sid, At: c.Now(), Until: c.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if a.verified.len() != 1 {
			t.Fatal("the entry went; this case needs it cached")
		}
		if a.session(nil, r) != nil {
			t.Error("session revoked by sid served from the cache")
		}
	})
	t.Run("refresh token refused", func(t *testing.T) {
		a, c, r, s := cachedAuth(t)
		if a.session(nil, r) == nil {
			t.Fatal("not accepted")
		}
		st := a.tokens.get(s.id, c.Now().Unix())
		st.snap.Store(&tokenSnap{ended: true})
		if a.session(nil, r) != nil {
			t.Error("ended session served from the cache")
		}
	})
}

// reissued sends r through session() with a writer and returns a request
// with the cookie it re-issued, or r when it kept the cookie.
func reissued(t *testing.T, a *Auth, r *http.Request) *http.Request {
	t.Helper()
	rec := httptest.NewRecorder()
	if a.session(rec, r) == nil {
		return r
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == a.sessionCookie && c.MaxAge > 0 {
			return sessionRequest("GET", "/", rec)
		}
	}
	return r
}

func TestVerifiedCacheBounded(t *testing.T) {
	t.Parallel()
	a, c, _, _ := cachedAuth(t)
	limit := verifiedCacheShards * verifiedCacheShardSize
	s, _, _ := typicalSession(t, c.Now())
	for i := range limit + 500 {
		s.id = "session-" + strconv.Itoa(i)
		rec := httptest.NewRecorder()
		if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), s, true); err != nil {
			t.Fatal(err)
		}
		if a.session(nil, sessionRequest("GET", "/", rec)) == nil {
			t.Fatal("session not accepted")
		}
	}
	if n := a.verified.len(); n > limit || n < limit/2 {
		t.Errorf("cache holds %d entries, want at most %d (and not emptied)", n, limit)
	}
}

// Sign-out drops every cached value of the session, including the ones
// earlier re-issues left; other sessions stay.
func TestVerifiedCacheSignOut(t *testing.T) {
	t.Parallel()
	a, c, r, s := cachedAuth(t)
	// Sign-out asks the provider for its end-session endpoint; this one is
	// unreachable at once, never looked up.
	a.cfg.HTTPClient = &http.Client{Transport: unreachable{}}
	a.session(nil, r)
	c.Advance(time.Duration(a.touchEvery) * time.Second)
	r2 := reissued(t, a, r)
	if r2 == r {
		t.Fatal("session not re-issued")
	}
	a.session(nil, r2)
	other, _, _ := typicalSession(t, c.Now())
	other.id = "another-session!"
	rec := httptest.NewRecorder()
	if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), other, true); err != nil {
		t.Fatal(err)
	}
	a.session(nil, sessionRequest("GET", "/", rec))
	if n := a.verified.len(); n != 3 {
		t.Fatalf("%d cached, want 3", n)
	}
	a.SignOut(httptest.NewRecorder(), r2)
	if n := a.verified.len(); n != 1 {
		t.Errorf("after sign-out %d cached, want only the other session", n)
	}
	for i := range a.verified.shards {
		for _, e := range a.verified.shards[i].m {
			if e.v.id == s.id {
				t.Error("signed-out session still cached")
			}
		}
	}
}

// A Store keeps sessions server-side: what a cookie names can change, so
// nothing is cached.
func TestVerifiedCacheNotWithStore(t *testing.T) {
	t.Parallel()
	a := testAuth(t, func(cfg *Config) { cfg.Store = sessions.NewFilesystemStore(t.TempDir(), testKey(9), testKey(10)) })
	if a.verified != nil {
		t.Error("cache enabled with a server-side Store")
	}
}

type unreachable struct{}

func (unreachable) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("unreachable in this test")
}

// The tail only finds an entry; the whole value must match for a hit, and
// dropping a look-alike leaves the entry.
func TestVerifiedCacheWholeValue(t *testing.T) {
	t.Parallel()
	c := newVerifiedCache()
	s, _, _ := typicalSession(t, time.Now())
	value := strings.Repeat("v", 100) + "0123456789abcdefghijklmnop"
	lookalike := "w" + value[1:]
	c.put(value, s)
	if c.get(lookalike) != nil {
		t.Fatal("a value sharing only the tail was a hit")
	}
	c.drop(lookalike)
	if got := c.get(value); got == nil || got.id != s.id {
		t.Fatal("dropping a look-alike removed the entry")
	}
	c.drop(value)
	if c.get(value) != nil || c.len() != 0 {
		t.Error("drop left the entry")
	}
}

// Concurrent requests, re-issues and sign-outs share the cache safely
// (run under -race), and every request gets a session of its own.
func TestVerifiedCacheConcurrent(t *testing.T) {
	t.Parallel()
	a, _, r, s := cachedAuth(t)
	a.cfg.HTTPClient = &http.Client{Transport: unreachable{}}
	var wg sync.WaitGroup
	seen := make([]*session, 8*50)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				got := a.session(nil, r)
				if got == nil {
					t.Error("session refused")
					return
				}
				got.touched++ // callers write to their copy
				seen[g*50+i] = got
				if i%10 == 0 {
					a.verified.forget("no-such-session")
					a.verified.drop("no-such-value")
				}
			}
		}()
	}
	wg.Wait()
	ptrs := map[*session]bool{}
	for _, p := range seen {
		if p == nil || ptrs[p] {
			t.Fatal("a session was handed to two requests")
		}
		ptrs[p] = true
	}
	if got := a.session(nil, r); got == nil || got.touched != s.touched {
		t.Error("the cached template was changed by a caller")
	}
}
