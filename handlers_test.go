package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

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

func TestUserClaimsAndIsAuthenticated(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{User: oidcauthtest.User{
		Subject: "u-42", Name: "Ada <Lovelace>", Email: "ada@example.com", EmailVerified: true,
		Username: "ada", Extra: map[string]any{"roles": []string{"admin"}},
	}}, nil)
	var got *User
	var authed bool
	f.app.Config.Handler.(*http.ServeMux).Handle("/whoami", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = UserFromContext(r.Context())
		authed = f.auth.IsAuthenticated(r)
	})))
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	wantStatus(t, f.get("/whoami"), http.StatusOK)
	if got == nil || got.Subject != "u-42" || got.Name != "Ada <Lovelace>" || got.Email != "ada@example.com" ||
		!got.EmailVerified || got.Username != "ada" || got.Issuer != f.idp.Issuer() {
		t.Fatalf("user = %+v", got)
	}
	if !authed {
		t.Error("IsAuthenticated = false inside RequireAuth")
	}
	var c struct {
		Roles []string `json:"roles"`
		Nonce string   `json:"nonce"`
	}
	if err := got.Claims(&c); err != nil || len(c.Roles) != 1 || c.Roles[0] != "admin" || c.Nonce == "" {
		t.Errorf("claims = %+v, %v", c, err)
	}
	if u, ok := UserFromContext(context.Background()); u != nil || ok {
		t.Error("UserFromContext without middleware returned a user")
	}
}

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

func TestSignInOptions(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) { c.AuthParams = map[string]string{"identifier": "email"} })
	f.startSignIn("/sign-in?first_screen=register&login_hint=ada%40example.com&interaction_mode=signUp&prompt=none&state=x")
	q := f.idp.LastAuthorizeRequest()
	for k, want := range map[string]string{"first_screen": "register", "login_hint": "ada@example.com", "interaction_mode": "signUp", "identifier": "email", "prompt": "consent"} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if q.Get("state") == "x" {
		t.Error("a query parameter replaced the state")
	}
	f.startSignIn("/sign-in?first_screen=javascript:x")
	if got := f.idp.LastAuthorizeRequest().Get("first_screen"); got != "" {
		t.Errorf("unknown first_screen passed through: %q", got)
	}

	// Programmatic sign-in with options.
	f.app.Config.Handler.(*http.ServeMux).HandleFunc("/join", func(w http.ResponseWriter, r *http.Request) {
		f.auth.SignIn(w, r, WithFirstScreen("identifier:register"), WithPrompt("login"), WithAuthParam("nonce", "evil"), WithReturnTo("/welcome"))
	})
	resp := f.get("/join")
	wantStatus(t, resp, http.StatusSeeOther)
	q = location(t, resp).Query()
	if q.Get("first_screen") != "identifier:register" || q.Get("prompt") != "login" || q.Get("nonce") == "evil" {
		t.Errorf("SignIn options: %v", q)
	}
	resp = f.get(location(t, resp).String())
	resp = f.get(location(t, resp).String())
	if got := location(t, resp).String(); got != "/welcome" {
		t.Errorf("WithReturnTo landed on %q", got)
	}
}

func TestOpenRedirectThroughFlow(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	for _, rt := range []string{"//evil.example", "/\\evil.example", "https://evil.example/", "%2F%2Fevil.example", "javascript:alert(1)"} {
		resp := f.signIn("/sign-in?returnTo=" + url.QueryEscape(rt))
		wantStatus(t, resp, http.StatusSeeOther)
		loc := location(t, resp)
		if loc.Host != "" || !strings.HasPrefix(loc.Path, "/") || strings.HasPrefix(loc.String(), "//") {
			t.Errorf("returnTo %q lands on %q", rt, loc)
		}
	}
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

// Several tabs may sign in at once; the pending transactions stay bounded.
func TestConcurrentSignInsAndBound(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	first := f.startSignIn("/sign-in?returnTo=/one")
	f.clock.Advance(time.Second)
	second := f.startSignIn("/sign-in?returnTo=/two")
	if f.txCookies() != 2 {
		t.Fatalf("%d pending transactions, want 2", f.txCookies())
	}
	resp := f.get(second.String())
	wantStatus(t, resp, http.StatusSeeOther)
	if location(t, resp).Path != "/two" {
		t.Errorf("second tab landed on %s", location(t, resp))
	}
	resp = f.get(first.String())
	wantStatus(t, resp, http.StatusSeeOther)
	if location(t, resp).Path != "/one" {
		t.Errorf("first tab landed on %s", location(t, resp))
	}

	var pending []*url.URL
	for i := 0; i < maxPendingTx+3; i++ {
		f.clock.Advance(time.Second)
		pending = append(pending, f.startSignIn("/sign-in"))
	}
	if n := f.txCookies(); n != maxPendingTx {
		t.Errorf("%d pending transactions after %d sign-ins, want the bound %d", n, maxPendingTx+3, maxPendingTx)
	}
	// The newest still completes; the oldest was evicted.
	wantStatus(t, f.get(pending[len(pending)-1].String()), http.StatusSeeOther)
	wantStatus(t, f.get(pending[0].String()), http.StatusBadRequest)
}

// Expired pending sign-ins are cleared at the next sign-in.
func TestExpiredTransactionsEvicted(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.startSignIn("/sign-in")
	f.clock.Advance(txLifetime + time.Second)
	resp := f.get("/sign-in")
	wantStatus(t, resp, http.StatusSeeOther)
	cleared := 0
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, f.auth.txPrefix) && c.MaxAge < 0 {
			cleared++
		}
	}
	if cleared != 1 || f.txCookies() != 1 {
		t.Errorf("%d expired transactions cleared, %d pending; want 1 and 1", cleared, f.txCookies())
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

func TestOnSignIn(t *testing.T) {
	t.Parallel()
	deny := errors.New("not on the allow list")
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) {
		c.OnSignIn = func(ctx context.Context, u *User) error {
			if u.Email == "test.user@example.com" {
				u.Name = "Mapped Local Name"
				return nil
			}
			return deny
		}
	})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if got := body(t, f.get("/profile")); got != "hello user-1 Mapped Local Name" {
		t.Errorf("OnSignIn change not saved: %q", got)
	}
	f.idp.SetUser(oidcauthtest.User{Subject: "intruder", Email: "x@evil.example"})
	resp := f.signIn("/sign-in")
	wantStatus(t, resp, http.StatusForbidden)
	if f.signedIn() {
		t.Error("denied user has a session")
	}

	// The hook may map the user, never swap the subject.
	g := newFlow(t, oidcauthtest.Options{}, func(c *Config) {
		c.OnSignIn = func(ctx context.Context, u *User) error { u.Subject = "admin"; return nil }
	})
	wantStatus(t, g.signIn("/sign-in"), http.StatusInternalServerError)
	if g.signedIn() {
		t.Error("a hook that changed the subject left a session")
	}
}

func TestHTTPLocalhostCookies(t *testing.T) {
	t.Parallel()
	a := testAuth(t, func(c *Config) {
		c.Issuer, c.RedirectURL = "http://localhost:3000/dev-idp", "http://localhost:3000/callback"
	})
	s, _, _ := typicalSession(t, time.Now())
	rec := httptest.NewRecorder()
	if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), s, true); err != nil {
		t.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	if c.Name != "oidcauth" || c.Secure || !c.HttpOnly {
		t.Errorf("http cookie: %+v", c)
	}
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
