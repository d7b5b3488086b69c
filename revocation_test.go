package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// A sign-out names one session: it holds whatever the clocks of the
// instance that opened the session and the one that ends it say. Here the
// session was opened on an instance whose clock runs 30 s ahead.
func TestSignOutHoldsWithSkewedClocks(t *testing.T) {
	t.Parallel()
	ahead, behind, copied := signedInAhead(t)
	r := httptest.NewRequest("POST", ahead.app.URL+"/sign-out", nil)
	r.Header.Set("Origin", ahead.app.URL)
	r.AddCookie(copied)
	rec := httptest.NewRecorder()
	behind.SignOutHandler().ServeHTTP(rec, r)
	wantStatus(t, rec.Result(), http.StatusSeeOther)
	refusedOnBoth(t, ahead, behind, copied)
}

// signedInAhead signs in on an instance whose clock runs 30 s ahead of
// another one's (behind), both sharing one revocation store, and returns
// a copy of the session cookie.
func signedInAhead(t *testing.T) (ahead *flow, behind *Auth, copied *http.Cookie) {
	t.Helper()
	store := NewMemoryRevocations()
	ahead = newFlow(t, oidcauthtest.Options{}, func(c *Config) { c.Revocations = store })
	ahead.clock.Advance(30 * time.Second)
	wantStatus(t, ahead.signIn("/sign-in"), http.StatusSeeOther)
	copied = &http.Cookie{Name: ahead.auth.sessionCookie, Value: ahead.cookie(ahead.auth.sessionCookie)}
	cfg := ahead.auth.cfg
	cfg.Now = func() time.Time { return ahead.clock.Now().Add(-30 * time.Second) }
	behind, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ahead, behind, copied
}

// refusedOnBoth checks that neither instance accepts the copied session.
func refusedOnBoth(t *testing.T, ahead *flow, behind *Auth, copied *http.Cookie) {
	t.Helper()
	for name, a := range map[string]*Auth{"the instance ahead": ahead.auth, "the instance behind": behind} {
		r := httptest.NewRequest("GET", ahead.app.URL+"/profile", nil)
		r.AddCookie(copied)
		rec := httptest.NewRecorder()
		a.RequireAuth(protected).ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			t.Errorf("%s still accepts the ended session", name)
		}
	}
}

// Cut-offs belong to sid and subject revocations: a session id revocation
// matches its session whenever it signed in.
func TestSessionIDRevocationIsAbsolute(t *testing.T) {
	t.Parallel()
	m := NewMemoryRevocations()
	at := time.Now()
	_ = m.Revoke(context.Background(), Revocation{SessionID: "s-1", At: at, Until: at.Add(time.Hour)})
	_ = m.Revoke(context.Background(), Revocation{Subject: "u-1", At: at, Until: at.Add(time.Hour)})
	if !m.IsRevoked("s-1", "", "", at.Add(time.Minute)) {
		t.Error("a session signed in after its own revocation's At (a clock ahead) is not revoked")
	}
	if m.IsRevoked("s-2", "", "u-1", at.Add(time.Minute)) {
		t.Error("a subject revocation refuses a sign-in after its cut-off")
	}
}

// The list is bounded per kind. Sign-outs (session ids) past their bound
// push out the record that expires first; sid and subject revocations are
// never pushed out: past their bound a new one is refused with an error
// (the back-channel logout answers 500 and the provider retries).
func TestMemoryRevocationsBoundedPerKind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	m := &MemoryRevocations{limits: [3]int{100, 10, 10}}
	for i := range 10 {
		if err := m.Revoke(ctx, Revocation{Subject: fmt.Sprint("u-", i), At: now, Until: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Revoke(ctx, Revocation{Subject: "u-10", At: now, Until: now.Add(time.Hour)}); !errors.Is(err, ErrRevocationsFull) {
		t.Errorf("an 11th subject revocation: %v, want ErrRevocationsFull", err)
	}
	// The same subject again is an update, not a new record.
	if err := m.Revoke(ctx, Revocation{Subject: "u-3", At: now.Add(time.Second), Until: now.Add(time.Hour)}); err != nil {
		t.Errorf("updating a subject's revocation: %v", err)
	}
	for i := range 1000 {
		until := now.Add(time.Hour + time.Duration(i)*time.Second)
		if err := m.Revoke(ctx, Revocation{SessionID: fmt.Sprint("s-", i), At: now, Until: until}); err != nil {
			t.Fatal(err)
		}
	}
	if m.len() > 110 {
		t.Errorf("%d records kept, bound 110", m.len())
	}
	for i := range 10 {
		if !m.IsRevoked("", "", fmt.Sprint("u-", i), now) {
			t.Errorf("subject u-%d was pushed out", i)
		}
	}
	if !m.IsRevoked("s-999", "", "", now) || m.IsRevoked("s-0", "", "", now) {
		t.Error("sign-outs past the bound did not push out the oldest")
	}
}
