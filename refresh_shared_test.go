package oidcauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// instance is a second app process in front of f's provider: an Auth of its
// own (its own process memory) with f's configuration, changed by mutate,
// on a server of its own. The revocation store is shared unless mutate
// changes it, as several instances share one through Redis.
func (f *flow) instance(mutate func(*Config)) (*Auth, *httptest.Server) {
	f.t.Helper()
	cfg := f.auth.cfg
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	f.t.Cleanup(srv.Close)
	mux := http.NewServeMux()
	a.Mount(mux)
	mux.Handle("/profile", a.RequireAuth(protected))
	mux.Handle("/token", tokenHandler(a))
	srv.Config.Handler = mux
	return a, srv
}

// fetch sends a GET with cookie to target and returns the status, body and
// the session cookie set, if any.
func fetch(t *testing.T, client *http.Client, target, cookie, name string) (int, string, *http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	req.Header.Set("Cookie", cookie)
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return 0, "", nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var set *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == name {
			set = c
		}
	}
	return resp.StatusCode, string(b), set
}

// Twenty requests with one stale cookie, alternating between two instances
// that share a coordinator: the provider (which revokes the grant when a
// rotated refresh token is used again) sees exactly one refresh grant,
// every request gets the new token, and the session goes on working on
// both instances, with a stale copy of the cookie too.
func TestRefreshAcrossInstances(t *testing.T) {
	t.Parallel()
	for _, store := range []bool{false, true} {
		name := "cookie"
		if store {
			name = "server-side"
		}
		t.Run(name, func(t *testing.T) {
			coord := NewMemoryCoordinator()
			backend := NewMemoryBackend()
			f := tokenFlow(t, oidcauthtest.Options{}, func(c *Config) {
				c.RefreshCoordinator = coord
				if store {
					c.Store = NewServerStore(backend, "s:")
				}
			})
			_, b := f.instance(nil)
			wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
			cookieName := f.auth.sessionCookie
			stale := cookieName + "=" + f.cookie(cookieName)
			f.clock.Advance(11 * time.Minute)
			calls := f.idp.Calls("token")

			const n = 20
			type result struct {
				status int
				token  string
			}
			results := make([]result, n)
			var wg sync.WaitGroup
			for i := range n {
				target := f.app.URL
				if i%2 == 1 {
					target = b.URL
				}
				wg.Go(func() {
					status, tok, _ := fetch(t, f.client, target+"/token", stale, cookieName)
					results[i] = result{status, tok}
				})
			}
			wg.Wait()
			if got := f.idp.Calls("token") - calls; got != 1 {
				t.Fatalf("%d token calls, want exactly 1", got)
			}
			for i, r := range results {
				if r.status != http.StatusOK || r.token != results[0].token {
					t.Fatalf("request %d: %d %q (first: %q)", i, r.status, r.token, results[0].token)
				}
			}

			// A stale copy of the cookie on either instance gets the new
			// token without a grant.
			for _, target := range []string{f.app.URL, b.URL} {
				if status, tok, _ := fetch(t, f.client, target+"/token", stale, cookieName); status != http.StatusOK || tok != results[0].token {
					t.Errorf("stale cookie at %s: %d, new token %v", target, status, tok == results[0].token)
				}
			}
			if got := f.idp.Calls("token") - calls; got != 1 {
				t.Fatalf("%d token calls after stale cookies, want 1", got)
			}

			// The grant is intact: the next refresh, on B, succeeds, and A
			// serves the session afterwards.
			f.clock.Advance(11 * time.Minute)
			status, next, fresh := fetch(t, f.client, b.URL+"/token", stale, cookieName)
			if status != http.StatusOK || next == results[0].token {
				t.Fatalf("second refresh at B: %d %q", status, next)
			}
			if fresh == nil || fresh.MaxAge <= 0 {
				t.Fatal("B did not save the refreshed session")
			}
			if status, _, _ := fetch(t, f.client, f.app.URL+"/profile", cookieName+"="+fresh.Value, cookieName); status != http.StatusOK {
				t.Errorf("A after the second refresh: %d", status)
			}
			if got := f.idp.Calls("token") - calls; got != 2 {
				t.Errorf("%d token calls in all, want 2", got)
			}
		})
	}
}

// A provider that does not rotate keeps the refresh token: each refresh
// still has a coordination record of its own (the token and the access
// token's expiry), so the second refresh is not mistaken for the first,
// and a resource token after a refresh of the session's own is fetched.
func TestRefreshWithoutRotationRepeatedly(t *testing.T) {
	f := tokenFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	f.idp.Misbehave(oidcauthtest.Misbehavior{KeepRefreshToken: true})
	calls := f.idp.Calls("token")
	var last string
	for i := range 3 {
		f.clock.Advance(11 * time.Minute)
		status, tok := f.getToken("")
		if status != http.StatusOK || tok == last {
			t.Fatalf("refresh %d: %d, new token %v", i+1, status, tok != last)
		}
		last = tok
		if status, _ := f.getToken("?resource=" + url.QueryEscape(apiResource)); status != http.StatusOK {
			t.Fatalf("resource token after refresh %d: %d", i+1, status)
		}
	}
	if got := f.idp.Calls("token") - calls; got != 6 {
		t.Errorf("%d token calls, want 6", got)
	}
}
