package oidcauth

import (
	"net/http"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// A silent sign-in (prompt=none) that the provider cannot complete without
// the user falls back cleanly: to the page it started from, signed out, or
// to an interactive sign-in, by option; never to a 403 page, and at most
// once per navigation.
func TestSilentSignInFallback(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"login_required", "interaction_required", "consent_required", "account_selection_required"} {
		t.Run(code+"/signed out", func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{}, nil)
			f.idp.Misbehave(oidcauthtest.Misbehavior{AuthorizeError: code})
			resp := f.get("/sign-in?silent=1&returnTo=/welcome")
			wantStatus(t, resp, http.StatusSeeOther)
			if got := location(t, resp).Query().Get("prompt"); got != "none" {
				t.Fatalf("silent sign-in sent prompt=%q", got)
			}
			back := f.get(location(t, resp).String())
			resp = f.get(location(t, back).String())
			wantStatus(t, resp, http.StatusSeeOther)
			if loc := location(t, resp).String(); loc != "/welcome" {
				t.Errorf("the fallback lands on %s, want /welcome", loc)
			}
			if f.signedIn() {
				t.Error("signed in after a failed silent sign-in")
			}
			if !f.auth.SilentSignInTried(f.request("/welcome")) {
				t.Error("SilentSignInTried is false after the attempt")
			}
			// The same navigation again makes no second round trip.
			authz := f.idp.Calls("authorize")
			resp = f.get("/sign-in?silent=1&returnTo=/welcome")
			wantStatus(t, resp, http.StatusSeeOther)
			if loc := location(t, resp).String(); loc != "/welcome" || f.idp.Calls("authorize") != authz {
				t.Errorf("a second silent sign-in went to %s (%d provider calls)", loc, f.idp.Calls("authorize")-authz)
			}
		})
		t.Run(code+"/interactive", func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{}, nil)
			f.mux.HandleFunc("/silent", func(w http.ResponseWriter, r *http.Request) {
				f.auth.SignIn(w, r, WithReturnTo("/profile"), WithSilentSignIn(SilentInteractive))
			})
			f.idp.Misbehave(oidcauthtest.Misbehavior{AuthorizeError: code})
			resp := f.get("/silent")
			back := f.get(location(t, resp).String())
			f.idp.Misbehave(oidcauthtest.Misbehavior{})
			resp = f.get(location(t, back).String())
			wantStatus(t, resp, http.StatusSeeOther)
			authz := location(t, resp)
			if !strings.HasPrefix(authz.String(), f.idp.Issuer()) || authz.Query().Get("prompt") == "none" {
				t.Fatalf("the fallback goes to %s, want an interactive sign-in at the provider", authz)
			}
			back = f.get(authz.String())
			resp = f.get(location(t, back).String())
			wantStatus(t, resp, http.StatusSeeOther)
			if loc := location(t, resp).String(); loc != "/profile" {
				t.Errorf("landed on %s", loc)
			}
			if !f.signedIn() {
				t.Error("not signed in after the interactive fallback")
			}
		})
	}
}

// A silent sign-in the provider can complete signs in without a page.
func TestSilentSignInSucceeds(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	resp := f.get("/sign-in?silent=1&returnTo=/profile")
	back := f.get(location(t, resp).String())
	resp = f.get(location(t, back).String())
	wantStatus(t, resp, http.StatusSeeOther)
	if !f.signedIn() {
		t.Error("a silent sign-in the provider completed did not sign in")
	}
}

// request is a request to the app carrying the jar's cookies.
func (f *flow) request(path string) *http.Request {
	r, _ := http.NewRequest("GET", f.app.URL+path, nil)
	for _, c := range f.jar.Cookies(r.URL) {
		r.AddCookie(c)
	}
	return r
}
