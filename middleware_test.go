package oidcauth

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

func TestAPIChallenge(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	for _, tc := range []struct {
		path   string
		header http.Header
	}{
		{"/profile", http.Header{"Accept": {"application/json"}}},
		{"/profile", http.Header{"Sec-Fetch-Mode": {"cors"}}},
		{"/api/me", nil},
	} {
		resp := f.do("GET", tc.path, tc.header)
		wantStatus(t, resp, http.StatusUnauthorized)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Cookie ") {
			t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
		}
		var b map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || b["error"] != "unauthorized" {
			t.Errorf("401 body = %v, %v", b, err)
		}
	}
	resp := f.do("POST", "/profile", nil)
	wantStatus(t, resp, http.StatusUnauthorized)
}

// Signed-in responses default to private, no-store; a handler's own
// Cache-Control wins; anonymous optional-auth pages are left alone.
func TestSignedInResponsesNotCached(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.app.Config.Handler.(*http.ServeMux).Handle("/cached", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		w.Header().Add("Cache-Control", "must-revalidate")
	})))
	if cc := f.get("/").Header.Get("Cache-Control"); cc != "" {
		t.Errorf("anonymous home page Cache-Control = %q", cc)
	}
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	for _, path := range []string{"/profile", "/api/me", "/"} {
		if cc := f.get(path).Header.Get("Cache-Control"); cc != "private, no-store" {
			t.Errorf("%s: Cache-Control = %q", path, cc)
		}
	}
	resp := f.get("/cached")
	if cc := resp.Header.Values("Cache-Control"); len(cc) != 2 || cc[0] != "private, max-age=60" {
		t.Errorf("handler's Cache-Control = %q", cc)
	}
	if privateNoStore[0] != "private, no-store" || len(privateNoStore) != 1 {
		t.Errorf("the shared header value was written to: %q", privateNoStore)
	}
}

// Two Auths in one app (customers and staff, two providers): a session one
// put in the context never passes the other's RequireAuth, and the other's
// own session still does.
func TestTwoAuthsKeepTheirSessions(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil) // customers
	staffIdP := oidcauthtest.NewServer(t, oidcauthtest.Options{ClientSecret: "staff-secret", User: oidcauthtest.User{Subject: "staff-1", Name: "Staff"}})
	staff, err := New(Config{
		Issuer: staffIdP.Issuer(), ClientID: oidcauthtest.DefaultClientID, ClientSecret: "staff-secret",
		RedirectURL: f.app.URL + "/staff/callback", SessionKeys: [][]byte{testKey(7)}, CookieName: "staff",
		SignInPath: "/staff/sign-in", SignOutPath: "/staff/sign-out", BackChannelLogoutPath: "/staff/backchannel",
		HTTPClient: staffIdP.Client(), Now: f.clock.Now, Logger: f.auth.cfg.Logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	staff.Mount(f.mux)
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFromContext(r.Context())
		io.WriteString(w, "admin console for "+u.Subject)
	})
	f.mux.Handle("/admin", f.auth.LoadUser(staff.RequireAuthAPI(admin)))

	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther) // a customer
	wantStatus(t, f.get("/admin"), http.StatusUnauthorized)

	// Signed in as staff too, the staff session gets through.
	resp := f.get("/staff/sign-in")
	resp = f.get(location(t, resp).String())
	wantStatus(t, f.get(location(t, resp).String()), http.StatusSeeOther)
	resp = f.get("/admin")
	if got := body(t, resp); resp.StatusCode != http.StatusOK || got != "admin console for staff-1" {
		t.Errorf("staff at /admin: %d %q", resp.StatusCode, got)
	}
}

// Tampered, foreign, expired and idle sessions are "signed out": a redirect,
// never a 5xx; the bad cookie is cleared.
func TestSessionValidity(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	good := f.cookie(f.auth.sessionCookie)
	u, _ := url.Parse(f.app.URL)
	set := func(v string) {
		f.jar.SetCookies(u, []*http.Cookie{{Name: f.auth.sessionCookie, Value: v, Path: "/", Secure: true}})
	}
	foreign := testAuth(t, func(c *Config) { c.SessionKeys = [][]byte{testKey(7)} })
	for name, v := range map[string]string{
		"tampered":    good[:40] + string(rune('A'+(good[40]-'A'+1)%26)) + good[41:],
		"truncated":   good[:len(good)/2],
		"garbage":     "not-a-session",
		"foreign key": foreign.codec.Seal(f.auth.sessionCookie, []byte{sessionFormat}),
	} {
		t.Run(name, func(t *testing.T) {
			set(v)
			resp := f.get("/profile")
			wantStatus(t, resp, http.StatusSeeOther)
			if f.cookie(f.auth.sessionCookie) != "" {
				t.Error("invalid cookie not cleared")
			}
		})
	}

	// An optional-auth page clearing a bad cookie keeps the answer out of
	// shared caches.
	set("not-a-session")
	resp := f.get("/")
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "private") || !strings.Contains(cc, "no-store") {
		t.Errorf("clearing response Cache-Control = %q", cc)
	}

	set(good)
	if !f.signedIn() {
		t.Fatal("good cookie refused")
	}

	// A payload whose last activity precedes its creation is not a session
	// we wrote, whatever its times say.
	s, _, _ := typicalSession(t, f.clock.Now())
	s.touched = s.created - 1
	set(f.auth.codec.Seal(f.auth.sessionCookie, s.marshal(nil)))
	if f.signedIn() {
		t.Error("a session touched before it was created was accepted")
	}
}

func TestSessionLifetimes(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) {
		c.SessionIdleTimeout = 8 * time.Hour
		c.SessionMaxAge = 24 * time.Hour
	})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	first := f.cookie(f.auth.sessionCookie)

	// Within an eighth of the idle window: no re-issue.
	f.clock.Advance(30 * time.Minute)
	resp := f.get("/profile")
	wantStatus(t, resp, http.StatusOK)
	if len(resp.Cookies()) != 0 {
		t.Error("cookie re-issued before an eighth of the idle window")
	}
	// Past it: re-issued, with no-store.
	f.clock.Advance(40 * time.Minute)
	resp = f.get("/profile")
	wantStatus(t, resp, http.StatusOK)
	if f.cookie(f.auth.sessionCookie) == first {
		t.Error("cookie not re-issued after an eighth of the idle window")
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") || !strings.Contains(cc, "private") {
		t.Errorf("re-issue Cache-Control = %q", cc)
	}
	// Activity every 7 hours keeps it alive past the idle timeout...
	for i := 0; i < 3; i++ {
		f.clock.Advance(7 * time.Hour)
		if !f.signedIn() {
			t.Fatalf("rolling session ended after %d active periods", i+1)
		}
	}
	// ...but not past the absolute lifetime, though idle only 2 hours.
	f.clock.Advance(2 * time.Hour) // 24h10m since sign-in
	if f.signedIn() {
		t.Error("session outlived SessionMaxAge")
	}

	// Idle: a fresh session unused for longer than the idle timeout. The
	// expired cookie is cleared, so the browser stops sending it.
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	f.clock.Advance(8*time.Hour + time.Second)
	if f.signedIn() {
		t.Error("session outlived SessionIdleTimeout")
	}
	if f.cookie(f.auth.sessionCookie) != "" {
		t.Error("the expired session cookie was not cleared")
	}

	// A copy of an old cookie replayed after expiry is refused as well:
	// the times are inside the encrypted payload.
	u, _ := url.Parse(f.app.URL)
	f.jar.SetCookies(u, []*http.Cookie{{Name: f.auth.sessionCookie, Value: first, Path: "/", Secure: true}})
	if f.signedIn() {
		t.Error("an expired cookie value was accepted")
	}
}
