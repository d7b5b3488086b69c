package oidcauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/internal/jose"
	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// downCoordinator is a coordinator that cannot be reached.
type downCoordinator struct{}

var errDown = errors.New("coordinator unreachable")

func (downCoordinator) Acquire(context.Context, string, time.Duration) (int64, error) {
	return 0, errDown
}
func (downCoordinator) Publish(context.Context, string, int64, []byte, time.Duration) (bool, error) {
	return false, errDown
}
func (downCoordinator) Release(context.Context, string, int64) error { return errDown }
func (downCoordinator) Wait(context.Context, string) ([]byte, bool, error) {
	return nil, false, errDown
}

// With the coordinator unreachable no refresh grant is made (another
// instance may be spending the same refresh token): a token still valid
// inside the refresh leeway is served, an expired one fails with 502 and
// the session stays; RequireAuth is not affected.
func TestRefreshCoordinatorDown(t *testing.T) {
	t.Parallel()
	f := tokenFlow(t, oidcauthtest.Options{}, func(c *Config) { c.RefreshCoordinator = downCoordinator{} })
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	_, first := f.getToken("")
	calls := f.idp.Calls("token")

	f.clock.Advance(10*time.Minute - tokenLeeway + time.Second) // due, not expired
	if status, tok := f.getToken(""); status != http.StatusOK || tok != first {
		t.Errorf("inside the leeway: %d, same token %v", status, tok == first)
	}
	f.clock.Advance(tokenLeeway) // expired
	if status, body := f.getToken(""); status != http.StatusBadGateway || body != ErrTokenEndpoint.Error() {
		t.Errorf("expired: %d %s", status, body)
	}
	if got := f.idp.Calls("token") - calls; got != 0 {
		t.Errorf("%d refresh grants without coordination", got)
	}
	if !f.signedIn() {
		t.Error("the session was lost")
	}
	if !strings.Contains(f.logs.String(), "refresh coordinator unreachable") {
		t.Error("the outage was not logged")
	}
}

// recordingCoordinator is a MemoryCoordinator that records the lease ttl
// it is asked for and whether each call came with a deadline.
type recordingCoordinator struct {
	*MemoryCoordinator
	mu         sync.Mutex
	leases     []time.Duration
	noDeadline []string
}

func (c *recordingCoordinator) saw(op string, ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		c.noDeadline = append(c.noDeadline, op)
	}
}

func (c *recordingCoordinator) Acquire(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	c.saw("Acquire", ctx)
	c.mu.Lock()
	c.leases = append(c.leases, ttl)
	c.mu.Unlock()
	return c.MemoryCoordinator.Acquire(ctx, key, ttl)
}

func (c *recordingCoordinator) Publish(ctx context.Context, key string, fence int64, out []byte, ttl time.Duration) (bool, error) {
	c.saw("Publish", ctx)
	return c.MemoryCoordinator.Publish(ctx, key, fence, out, ttl)
}

func (c *recordingCoordinator) Release(ctx context.Context, key string, fence int64) error {
	c.saw("Release", ctx)
	return c.MemoryCoordinator.Release(ctx, key, fence)
}

func (c *recordingCoordinator) Wait(ctx context.Context, key string) ([]byte, bool, error) {
	c.saw("Wait", ctx)
	return c.MemoryCoordinator.Wait(ctx, key)
}

// The lease outlasts everything the holder may do after it spent the
// refresh token: the token request (HTTPClient's timeout) and, when the
// refreshed ID token names a key not yet held, one JWKS fetch. A shorter
// lease lets another instance take it over and spend the same refresh
// token while the holder is still verifying, and the provider revokes
// the grant. Every coordinator call is bounded: a hung coordinator (a
// blackholed Redis) must not hold the session's refresh lock forever.
func TestRefreshLeaseCoversTheGrant(t *testing.T) {
	t.Parallel()
	coord := &recordingCoordinator{MemoryCoordinator: NewMemoryCoordinator()}
	f := tokenFlow(t, oidcauthtest.Options{}, func(c *Config) { c.RefreshCoordinator = coord })
	coord.MemoryCoordinator.now = f.auth.cfg.Now
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	f.clock.Advance(10*time.Minute - tokenLeeway + time.Second) // due
	if status, _ := f.getToken(""); status != http.StatusOK {
		t.Fatalf("refresh: %d", status)
	}
	coord.mu.Lock()
	defer coord.mu.Unlock()
	if len(coord.leases) == 0 {
		t.Fatal("no lease taken")
	}
	grant := f.auth.cfg.HTTPClient.Timeout + jose.FetchTimeout
	for _, ttl := range coord.leases {
		if ttl <= grant {
			t.Errorf("lease %v does not outlast the grant's bound %v", ttl, grant)
		}
	}
	if len(coord.noDeadline) > 0 {
		t.Errorf("coordinator calls without a deadline: %v", coord.noDeadline)
	}
}

// countingCoordinator counts the calls made to a coordinator.
type countingCoordinator struct {
	RefreshCoordinator
	calls atomic.Int64
}

func (c *countingCoordinator) Acquire(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	c.calls.Add(1)
	return c.RefreshCoordinator.Acquire(ctx, key, ttl)
}

func (c *countingCoordinator) Wait(ctx context.Context, key string) ([]byte, bool, error) {
	c.calls.Add(1)
	return c.RefreshCoordinator.Wait(ctx, key)
}

// The coordinator (a network call with Redis) is asked only when a token
// is due: never by RequireAuth, nor for a valid token, nor to catch up a
// stale cookie this process refreshed itself.
func TestCoordinatorOnlyWhenDue(t *testing.T) {
	coord := &countingCoordinator{RefreshCoordinator: NewMemoryCoordinator()}
	f := tokenFlow(t, oidcauthtest.Options{}, func(c *Config) { c.RefreshCoordinator = coord })
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	stale := f.auth.sessionCookie + "=" + f.cookie(f.auth.sessionCookie)
	for range 5 {
		wantStatus(t, f.get("/profile"), http.StatusOK)
		if status, _ := f.getToken(""); status != http.StatusOK {
			t.Fatal(status)
		}
	}
	if n := coord.calls.Load(); n != 0 {
		t.Fatalf("%d coordinator calls without a token due", n)
	}
	f.clock.Advance(11 * time.Minute)
	if status, _ := f.getToken(""); status != http.StatusOK {
		t.Fatal(status)
	}
	due := coord.calls.Load()
	if due == 0 {
		t.Fatal("the refresh did not go through the coordinator")
	}
	for _, target := range []string{"/profile", "/token"} {
		if status, _, _ := fetch(t, f.client, f.app.URL+target, stale, f.auth.sessionCookie); status != http.StatusOK {
			t.Fatalf("stale cookie at %s: %d", target, status)
		}
	}
	if n := coord.calls.Load(); n != due {
		t.Errorf("%d coordinator calls to catch up a cookie this process refreshed", n-due)
	}
}

func TestRefreshFailures(t *testing.T) {
	t.Parallel()
	t.Run("invalid_grant ends the session", func(t *testing.T) {
		f := tokenFlow(t, oidcauthtest.Options{}, nil)
		wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
		stale := f.auth.sessionCookie + "=" + f.cookie(f.auth.sessionCookie)
		f.clock.Advance(11 * time.Minute)
		f.idp.Misbehave(oidcauthtest.Misbehavior{TokenStatus: http.StatusBadRequest})
		if status, kind := f.getToken(""); status != http.StatusUnauthorized || kind != ErrNotSignedIn.Error() {
			t.Fatalf("token: %d %s", status, kind)
		}
		if f.cookie(f.auth.sessionCookie) != "" {
			t.Error("session cookie kept")
		}
		wantStatus(t, f.get("/profile"), http.StatusSeeOther)
		// A copy of the cookie sent later is refused too, without a call.
		calls := f.idp.Calls("token")
		req, _ := http.NewRequest("GET", f.app.URL+"/api/me", nil)
		req.Header.Set("Cookie", stale)
		resp, err := f.app.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		wantStatus(t, resp, http.StatusUnauthorized)
		if f.idp.Calls("token") != calls {
			t.Error("an ended session asked the provider again")
		}
	})
	t.Run("no refresh token", func(t *testing.T) {
		f := tokenFlow(t, oidcauthtest.Options{}, func(c *Config) { c.Scopes, c.ExactScopes = []string{"openid", "profile"}, true })
		wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
		if status, _ := f.getToken(""); status != http.StatusOK {
			t.Fatalf("token before expiry: %d", status)
		}
		f.clock.Advance(11 * time.Minute)
		if status, kind := f.getToken(""); status != http.StatusUnauthorized || kind != ErrNoRefreshToken.Error() {
			t.Errorf("token: %d %s", status, kind)
		}
		if !f.signedIn() {
			t.Error("the session should stay")
		}
	})

	// Each bad answer is refused, and the session stays as it was.
	kept := []struct {
		name   string
		m      oidcauthtest.Misbehavior
		status int
		kind   error
	}{
		{"provider down", oidcauthtest.Misbehavior{TokenStatus: http.StatusServiceUnavailable}, http.StatusBadGateway, ErrTokenEndpoint},
		{"HTML answer", oidcauthtest.Misbehavior{TokenStatus: http.StatusOK, TokenBody: "<html>oops</html>", TokenContentType: "text/html"}, http.StatusBadGateway, ErrTokenEndpoint},
		{"no access_token", oidcauthtest.Misbehavior{TokenStatus: http.StatusOK, TokenBody: `{"token_type":"Bearer","expires_in":600}`}, http.StatusBadGateway, ErrTokenEndpoint},
		{"not Bearer", oidcauthtest.Misbehavior{TokenStatus: http.StatusOK, TokenBody: `{"access_token":"x","token_type":"DPoP"}`}, http.StatusBadGateway, ErrTokenEndpoint},
		{"ID token for another client", oidcauthtest.Misbehavior{IDTokenClaims: func(c map[string]any) { c["aud"] = "another-client" }}, http.StatusBadGateway, ErrInvalidIDToken},
		{"ID token badly signed", oidcauthtest.Misbehavior{CorruptSignature: true}, http.StatusBadGateway, ErrInvalidIDToken},
		{"at_hash wrong", oidcauthtest.Misbehavior{WrongAtHash: true}, http.StatusBadGateway, ErrInvalidIDToken},
		{"resource refused", oidcauthtest.Misbehavior{TokenStatus: http.StatusBadRequest, TokenBody: `{"error":"invalid_target"}`}, http.StatusForbidden, ErrAccessDenied},
	}
	for _, tc := range kept {
		t.Run(tc.name, func(t *testing.T) {
			f := tokenFlow(t, oidcauthtest.Options{}, nil)
			wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
			before := f.cookie(f.auth.sessionCookie)
			f.clock.Advance(11 * time.Minute)
			f.idp.Misbehave(tc.m)
			if status, kind := f.getToken(""); status != tc.status || kind != tc.kind.Error() {
				t.Fatalf("token: %d %s, want %d %v", status, kind, tc.status, tc.kind)
			}
			if f.cookie(f.auth.sessionCookie) != before {
				t.Error("the session cookie changed")
			}
			if !f.signedIn() {
				t.Error("signed out")
			}
			// Once the provider behaves, the same session refreshes: the
			// refused answer was not applied.
			f.idp.Misbehave(oidcauthtest.Misbehavior{})
			if tc.m.TokenStatus == 0 {
				return // the provider rotated the refresh token it answered with
			}
			if status, _ := f.getToken(""); status != http.StatusOK {
				t.Errorf("after recovery: %d", status)
			}
		})
	}

	t.Run("ID token for another subject ends the session", func(t *testing.T) {
		f := tokenFlow(t, oidcauthtest.Options{}, nil)
		wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
		f.clock.Advance(11 * time.Minute)
		f.idp.Misbehave(oidcauthtest.Misbehavior{IDTokenClaims: func(c map[string]any) { c["sub"] = "someone-else" }})
		if status, kind := f.getToken(""); status != http.StatusBadGateway || kind != ErrInvalidIDToken.Error() {
			t.Fatalf("token: %d %s", status, kind)
		}
		if f.signedIn() {
			t.Error("still signed in after the provider named another subject")
		}
	})
}
