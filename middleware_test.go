package oidcauth

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

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
