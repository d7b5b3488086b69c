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
			// A second silent sign-in in the same navigation is an
			// interactive one: no loop through the provider.
			resp = f.get("/sign-in?silent=1&returnTo=/welcome")
			wantStatus(t, resp, http.StatusSeeOther)
			if loc := location(t, resp); !strings.HasPrefix(loc.String(), f.idp.Issuer()) || loc.Query().Get("prompt") == "none" {
				t.Errorf("a second silent sign-in went to %s, want an interactive sign-in", loc)
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

// No redirect loop, however the app uses silent sign-in: a page that sends
// anonymous visitors to a silent sign-in each time, and a deployment whose
// Prompt is "none" (every sign-in silent, RequireAuth included). Following
// redirects from the first request ends on a page, with one round trip to
// the provider at most.
func TestSilentSignInNoLoop(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		start  string
	}{
		{"page starting silent sign-ins", nil, "/eager"},
		{"Prompt none with RequireAuth", func(c *Config) { c.Prompt = "none" }, "/profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{}, tc.mutate)
			f.mux.Handle("/eager", f.auth.LoadUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, ok := UserFromContext(r.Context()); !ok {
					http.Redirect(w, r, "/sign-in?silent=1&returnTo=/eager", http.StatusSeeOther)
					return
				}
				w.Write([]byte("signed in"))
			})))
			f.idp.Misbehave(oidcauthtest.Misbehavior{AuthorizeError: "login_required"})
			resp := f.get(tc.start)
			hops := 0
			for resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound {
				if hops++; hops > 12 {
					t.Fatalf("redirect loop: still redirecting after %d hops (at %s)", hops, resp.Request.URL)
				}
				next := location(t, resp)
				if strings.HasPrefix(next.String(), f.idp.Issuer()+"/auth") && next.Query().Get("prompt") != "none" {
					f.idp.Misbehave(oidcauthtest.Misbehavior{}) // the interactive sign-in goes through
				}
				resp = f.get(next.String())
			}
			if resp.StatusCode >= 400 {
				t.Errorf("ended on status %d at %s", resp.StatusCode, resp.Request.URL)
			}
		})
	}
}
