package oidcauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

func TestSignInFlow(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)

	// Anonymous navigation: redirect to sign-in with returnTo.
	resp := f.get("/profile?tab=1")
	wantStatus(t, resp, http.StatusSeeOther)
	if got := location(t, resp).RequestURI(); got != "/sign-in?returnTo=%2Fprofile%3Ftab%3D1" {
		t.Fatalf("challenge Location = %q", got)
	}

	cb := f.startSignIn("/sign-in?returnTo=%2Fprofile%3Ftab%3D1")
	authz := f.idp.LastAuthorizeRequest()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": "test-client", "redirect_uri": f.app.URL + "/callback",
		"code_challenge_method": "S256", "scope": "openid profile email offline_access", "prompt": "consent",
	} {
		if got := authz.Get(k); got != want {
			t.Errorf("authorize %s = %q, want %q", k, got, want)
		}
	}
	if len(authz.Get("state")) != 43 || len(authz.Get("nonce")) != 43 || len(authz.Get("code_challenge")) != 43 {
		t.Errorf("state/nonce/code_challenge not 256-bit base64url: %v", authz)
	}
	if f.txCookies() != 1 {
		t.Errorf("%d transaction cookies, want 1", f.txCookies())
	}

	resp = f.get(cb.String())
	wantStatus(t, resp, http.StatusSeeOther)
	if got := location(t, resp).String(); got != "/profile?tab=1" {
		t.Errorf("callback Location = %q, want the returnTo", got)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("callback Cache-Control = %q", cc)
	}
	tokenReq := f.idp.LastTokenRequest()
	if tokenReq.Get("grant_type") != "authorization_code" || len(tokenReq.Get("code_verifier")) != 43 ||
		tokenReq.Get("client_auth") != "client_secret_basic" || tokenReq.Get("redirect_uri") != f.app.URL+"/callback" {
		t.Errorf("token request = %v", tokenReq)
	}
	var sessionCookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == f.auth.sessionCookie && c.Value != "" {
			sessionCookie = c
		}
	}
	if sessionCookie == nil {
		t.Fatal("callback set no session cookie")
	}
	if !sessionCookie.HttpOnly || !sessionCookie.Secure || sessionCookie.SameSite != http.SameSiteLaxMode ||
		sessionCookie.Path != "/" || sessionCookie.Domain != "" || !strings.HasPrefix(sessionCookie.Name, "__Host-") {
		t.Errorf("session cookie attributes: %+v", sessionCookie)
	}
	if f.txCookies() != 0 {
		t.Errorf("transaction cookie not cleared after the callback")
	}

	resp = f.get("/profile?tab=1")
	wantStatus(t, resp, http.StatusOK)
	if got := body(t, resp); got != "hello user-1 Test User" {
		t.Errorf("protected page = %q", got)
	}
	resp = f.get("/")
	if got := body(t, resp); got != "home of user-1" {
		t.Errorf("LoadUser page = %q", got)
	}
	if n := f.idp.Calls("discovery"); n != 1 {
		t.Errorf("discovery fetched %d times, want once", n)
	}
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	idToken := f.auth.readSessionForTest(t, f)

	// A cross-site request gets a confirmation page and signs nobody out.
	resp := f.do("GET", "/sign-out", http.Header{"Sec-Fetch-Site": {"cross-site"}})
	wantStatus(t, resp, http.StatusOK)
	if b := body(t, resp); !strings.Contains(b, `method="post"`) {
		t.Errorf("confirmation page has no form: %s", b)
	}
	resp = f.do("POST", "/sign-out", http.Header{"Origin": {"https://evil.example"}})
	wantStatus(t, resp, http.StatusOK)
	if !f.signedIn() {
		t.Fatal("a cross-site request signed the user out")
	}

	// The app's own button signs out and goes to the provider.
	resp = f.do("POST", "/sign-out", http.Header{"Origin": {f.app.URL}, "Sec-Fetch-Site": {"same-origin"}})
	wantStatus(t, resp, http.StatusSeeOther)
	end := location(t, resp)
	if !strings.HasPrefix(end.String(), f.idp.Issuer()+"/session/end") {
		t.Fatalf("sign-out redirects to %s", end)
	}
	q := end.Query()
	if q.Get("client_id") != "test-client" || q.Get("post_logout_redirect_uri") != f.app.URL+"/" || q.Get("id_token_hint") != idToken {
		t.Errorf("end-session parameters = %v", q)
	}
	if f.signedIn() {
		t.Fatal("still signed in after sign-out")
	}
	resp = f.get(end.String())
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Errorf("provider end-session: %d", resp.StatusCode)
	}
	if got := location(t, resp).String(); !strings.HasPrefix(got, f.app.URL+"/") {
		t.Errorf("provider sends the browser to %s after sign-out", got)
	}
	// A plain link from the app's pages works: the browser marks it
	// same-origin, by Fetch Metadata or, in older browsers, the Referer.
	for _, h := range []http.Header{{"Sec-Fetch-Site": {"same-origin"}}, {"Referer": {f.app.URL + "/profile"}}} {
		wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
		wantStatus(t, f.do("GET", "/sign-out", h), http.StatusSeeOther)
		if f.signedIn() {
			t.Errorf("GET /sign-out with %v did not sign out", h)
		}
	}
	// A GET with no evidence (an old browser following another site's
	// link with its Referer suppressed) must confirm first; the
	// confirmation posts back to the same URL.
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	resp = f.get("/sign-out")
	wantStatus(t, resp, http.StatusOK)
	if b := body(t, resp); strings.Contains(b, "action=") {
		t.Errorf("confirmation form names an action; it must post back to its own URL: %s", b)
	}
	if !f.signedIn() {
		t.Fatal("a GET without same-origin evidence signed the user out")
	}
	// A POST with no evidence either way (a non-browser client) signs out.
	wantStatus(t, f.do("POST", "/sign-out", nil), http.StatusSeeOther)
	if f.signedIn() {
		t.Error("POST /sign-out without headers did not sign out")
	}
}

// Under a prefix, the three paths come from the configuration and the
// confirmation page posts back where it was served.
func TestMountUnderPrefix(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	a := testAuth(t, func(c *Config) {
		*c = f.auth.cfg
		c.RedirectURL = f.app.URL + "/auth/callback"
		c.SignInPath, c.SignOutPath = "/auth/sign-in", "/auth/sign-out"
	})
	mux := http.NewServeMux()
	mux.Handle("/auth/", a.Handler())
	mux.Handle("/profile", a.RequireAuth(protected))
	f.app.Config.Handler = mux
	f.auth = a
	resp := f.get("/profile")
	if got := location(t, resp).Path; got != "/auth/sign-in" {
		t.Fatalf("challenge goes to %q", got)
	}
	cb := f.startSignIn("/auth/sign-in")
	if cb.Path != "/auth/callback" {
		t.Fatalf("provider returns to %s", cb)
	}
	wantStatus(t, f.get(cb.String()), http.StatusSeeOther)
	if !f.signedIn() {
		t.Fatal("not signed in under the prefix")
	}
	wantStatus(t, f.get("/auth/sign-out"), http.StatusOK) // no evidence: confirm
	wantStatus(t, f.do("POST", "/auth/sign-out", http.Header{"Origin": {f.app.URL}}), http.StatusSeeOther)
	if f.signedIn() {
		t.Error("still signed in after sign-out under the prefix")
	}
}

func TestSignOutWithoutEndSession(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.idp.Misbehave(oidcauthtest.Misbehavior{NoEndSession: true})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	resp := f.do("GET", "/sign-out", http.Header{"Sec-Fetch-Site": {"same-origin"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if got := location(t, resp).String(); got != f.app.URL+"/" {
		t.Errorf("sign-out without end_session_endpoint goes to %q", got)
	}
	if f.signedIn() {
		t.Error("still signed in")
	}
}

// readSessionForTest returns the ID token in the flow's session cookie.
func (a *Auth) readSessionForTest(t *testing.T, f *flow) string {
	t.Helper()
	r, _ := http.NewRequest("GET", f.app.URL, nil)
	u, _ := url.Parse(f.app.URL)
	for _, c := range f.jar.Cookies(u) {
		r.AddCookie(c)
	}
	s, _ := a.readSession(r)
	if s == nil {
		t.Fatal("no session in the jar")
	}
	return s.idToken.compact()
}

// The redirect URI comes from the configuration, whatever Host and
// forwarding headers say.
func TestRedirectURIIgnoresHostHeaders(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	resp := f.do("GET", "/sign-in", http.Header{"X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Proto": {"http"}, "Forwarded": {"host=evil.example"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if got := location(t, resp).Query().Get("redirect_uri"); got != f.app.URL+"/callback" {
		t.Errorf("redirect_uri = %q", got)
	}
}

// Signing in replaces any session the browser had (no fixation).
func TestSessionFixation(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	before := f.cookie(f.auth.sessionCookie)
	oldID := f.sessionID()
	f.idp.SetUser(oidcauthtest.User{Subject: "user-2", Name: "Second"})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if f.cookie(f.auth.sessionCookie) == before || f.sessionID() == oldID {
		t.Error("sign-in kept the earlier session")
	}
	if got := body(t, f.get("/profile")); got != "hello user-2 Second" {
		t.Errorf("after re-sign-in: %q", got)
	}
}

func (f *flow) sessionID() string {
	r, _ := http.NewRequest("GET", f.app.URL, nil)
	u, _ := url.Parse(f.app.URL)
	for _, c := range f.jar.Cookies(u) {
		r.AddCookie(c)
	}
	s, _ := f.auth.readSession(r)
	if s == nil {
		return ""
	}
	return s.id
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	for _, tc := range []struct{ method, path string }{{"POST", "/sign-in"}, {"POST", "/callback"}, {"PUT", "/sign-out"}} {
		resp := f.do(tc.method, tc.path, nil)
		wantStatus(t, resp, http.StatusMethodNotAllowed)
		if resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tc.method, tc.path)
		}
	}
}

// A provider's error response leaves an earlier session alone: with Prompt
// "none", another site could otherwise start a sign-in that fails with
// login_required and so sign the user out (a silent sign-in's
// login_required is no error page at all: it falls back to an interactive
// sign-in). A failure after the code was issued still ends it.
func TestCallbackFailureAndEarlierSession(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) { c.Prompt = "none" })
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	for _, tc := range []struct {
		m      oidcauthtest.Misbehavior
		status int
	}{{oidcauthtest.Misbehavior{AuthorizeError: "access_denied"}, http.StatusForbidden}, {oidcauthtest.Misbehavior{AuthorizeError: "login_required"}, http.StatusSeeOther}} {
		f.idp.Misbehave(tc.m)
		resp := f.signIn("/sign-in")
		wantStatus(t, resp, tc.status)
		if tc.status == http.StatusSeeOther {
			if loc := location(t, resp); !strings.HasPrefix(loc.String(), f.idp.Issuer()) || loc.Query().Get("prompt") == "none" {
				t.Errorf("login_required falls back to %s, want an interactive sign-in", loc)
			}
		} else if f.txCookies() != 0 {
			t.Error("transaction not cleared")
		}
		if !f.signedIn() {
			t.Fatalf("%s signed the user out", tc.m.AuthorizeError)
		}
	}
	f.jar.SetCookies(f.request("/").URL, []*http.Cookie{{Name: f.auth.silentCookie(), Value: "", MaxAge: -1}})
	f.idp.Misbehave(oidcauthtest.Misbehavior{CorruptSignature: true})
	wantStatus(t, f.signIn("/sign-in"), http.StatusBadGateway)
	if f.signedIn() {
		t.Error("an invalid ID token left the earlier session in place")
	}
}
