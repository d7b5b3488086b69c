package oidcauth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// signInWith mounts a sign-in route with opts and runs a sign-in through
// it; it returns the callback's response.
func (f *flow) signInWith(path string, opts ...SignInOption) *http.Response {
	f.t.Helper()
	f.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { f.auth.SignIn(w, r, opts...) })
	return f.signIn(path)
}

// max_age and acr_values reach the provider, and the callback holds the ID
// token to them (OIDC Core §3.1.2.1, §3.1.3.7 items 12–13).
func TestMaxAgeAndACRChecked(t *testing.T) {
	t.Parallel()
	hourAgo := func(c map[string]any) { c["auth_time"] = time.Now().Add(-time.Hour).Unix() }
	cases := []struct {
		name   string
		opts   []SignInOption
		edit   func(map[string]any)
		status int
	}{
		{"max_age 0, fresh auth_time", []SignInOption{WithMaxAge(0)}, nil, http.StatusSeeOther},
		{"max_age 0, auth_time an hour ago", []SignInOption{WithMaxAge(0)}, hourAgo, http.StatusBadGateway},
		{"max_age 5m, no auth_time", []SignInOption{WithMaxAge(5 * time.Minute)}, func(c map[string]any) { delete(c, "auth_time") }, http.StatusBadGateway},
		{"no max_age, old auth_time", nil, hourAgo, http.StatusSeeOther},
		{"acr requested, another given", []SignInOption{WithACRValues("urn:mfa")}, func(c map[string]any) { c["acr"] = "urn:pwd" }, http.StatusSeeOther},
		{"acr required and given", []SignInOption{WithRequiredACR("urn:mfa", "urn:hwk")}, nil, http.StatusSeeOther},
		{"acr required, another given", []SignInOption{WithRequiredACR("urn:mfa")}, func(c map[string]any) { c["acr"] = "urn:pwd" }, http.StatusForbidden},
		{"acr required, none given", []SignInOption{WithRequiredACR("urn:mfa")}, func(c map[string]any) { delete(c, "acr") }, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{}, nil)
			f.idp.Misbehave(oidcauthtest.Misbehavior{IDTokenClaims: tc.edit})
			resp := f.signInWith("/sign-in-up", tc.opts...)
			wantStatus(t, resp, tc.status)
			authz := f.idp.LastAuthorizeRequest()
			var o signInOptions
			for _, opt := range tc.opts {
				opt.apply(&o)
			}
			if o.authn.hasMaxAge != authz.Has("max_age") || (len(o.authn.acr) > 0) != authz.Has("acr_values") {
				t.Errorf("authorization request %v for options %+v", authz, o.authn)
			}
			if (tc.status == http.StatusSeeOther) != f.signedIn() {
				t.Errorf("signed in %v after status %d", !f.signedIn(), resp.StatusCode)
			}
		})
	}
}

// newStepUpFlow signs in a user who authenticated at the provider an hour
// ago, and mounts /sensitive behind RequireStepUp(su).
func newStepUpFlow(t *testing.T, opts oidcauthtest.Options, su StepUp) *flow {
	t.Helper()
	f := newFlow(t, opts, nil)
	f.mux.Handle("/sensitive", f.auth.RequireStepUp(su)(protected))
	f.idp.SetAuthTime(f.clock.Now().Add(-time.Hour))
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	return f
}

// A sensitive route sends a session that signed in too long ago, or not
// strongly enough, through a fresh sign-in and back to the same page; the
// session stays valid meanwhile.
func TestStepUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		opts  oidcauthtest.Options
		su    StepUp
		param string
	}{
		{"recent sign-in", oidcauthtest.Options{}, StepUp{MaxAge: 5 * time.Minute}, "max_age=300"},
		{"stronger acr", oidcauthtest.Options{ACR: "urn:pwd"}, StepUp{ACR: []string{"urn:mfa"}}, "acr_values=urn%3Amfa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newStepUpFlow(t, tc.opts, tc.su)
			before := f.sessionID()
			resp := f.get("/sensitive?tab=keys")
			wantStatus(t, resp, http.StatusSeeOther)
			authz := location(t, resp)
			if !strings.HasPrefix(authz.String(), f.idp.Issuer()) || !strings.Contains(authz.RawQuery, tc.param) {
				t.Fatalf("step-up went to %s, want the provider with %s", authz, tc.param)
			}
			if !f.signedIn() || f.sessionID() != before {
				t.Fatal("the session did not stay valid while the step-up is under way")
			}
			back := f.get(authz.String())
			resp = f.get(location(t, back).String())
			wantStatus(t, resp, http.StatusSeeOther)
			if loc := location(t, resp).String(); loc != "/sensitive?tab=keys" {
				t.Errorf("after the step-up the browser lands on %s", loc)
			}
			wantStatus(t, f.get("/sensitive?tab=keys"), http.StatusOK)
		})
	}
}

// A step-up the provider does not satisfy, or the user cancels, fails
// without ending the session, and the page asks again at the next
// navigation only (no loop).
func TestStepUpFailureKeepsSession(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		m      oidcauthtest.Misbehavior
		status int
	}{
		{"provider ignores max_age", oidcauthtest.Misbehavior{IDTokenClaims: func(c map[string]any) { c["auth_time"] = time.Now().Add(-time.Hour).Unix() }}, http.StatusBadGateway},
		{"user cancels", oidcauthtest.Misbehavior{AuthorizeError: "access_denied"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newStepUpFlow(t, oidcauthtest.Options{}, StepUp{MaxAge: 5 * time.Minute})
			before := f.sessionID()
			f.idp.Misbehave(tc.m)
			resp := f.get("/sensitive")
			wantStatus(t, resp, http.StatusSeeOther)
			back := f.get(location(t, resp).String())
			wantStatus(t, f.get(location(t, back).String()), tc.status)
			if !f.signedIn() || f.sessionID() != before {
				t.Error("a failed step-up ended the session")
			}
			wantStatus(t, f.get("/sensitive"), http.StatusSeeOther)
		})
	}
}

// An API request that needs a step-up gets 401 saying what it needs
// (RFC 9470 §3), not a redirect.
func TestStepUpAPIChallenge(t *testing.T) {
	t.Parallel()
	f := newStepUpFlow(t, oidcauthtest.Options{}, StepUp{MaxAge: 5 * time.Minute, ACR: []string{"urn:mfa"}})
	resp := f.do("GET", "/sensitive", http.Header{"Accept": {"application/json"}})
	wantStatus(t, resp, http.StatusUnauthorized)
	got := resp.Header.Get("WWW-Authenticate")
	for _, want := range []string{`error="insufficient_user_authentication"`, "max_age=300", `acr_values="urn:mfa"`} {
		if !strings.Contains(got, want) {
			t.Errorf("WWW-Authenticate %q lacks %s", got, want)
		}
	}
	if !f.signedIn() {
		t.Error("the challenge ended the session")
	}
}
