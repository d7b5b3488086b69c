package oidcauth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// fake is a plain OAuth 2.0 provider of a test and how the app is
// configured for it.
type fake struct {
	opts oidcauthtest.OAuth2Options
	cfg  OAuth2Provider // Name and the knobs under test; endpoints filled in
	srv  *oidcauthtest.OAuth2Provider
}

// newOAuth2Flow starts the fakes and an app offering them beside the
// in-process OpenID Provider (or alone, when oidc is false).
func newOAuth2Flow(t *testing.T, oidc bool, fakes []*fake, mutate func(*Config)) *flow {
	t.Helper()
	var clk atomic.Pointer[clock]
	now := func() time.Time {
		if c := clk.Load(); c != nil {
			return c.Now()
		}
		return time.Now()
	}
	for _, fk := range fakes {
		fk.opts.Now = now
		fk.srv = oidcauthtest.NewOAuth2Server(t, fk.opts)
		fk.cfg.AuthorizationEndpoint = fk.srv.AuthorizationEndpoint()
		fk.cfg.TokenEndpoint = fk.srv.TokenEndpoint()
		fk.cfg.UserInfoEndpoint = fk.srv.UserInfoEndpoint()
		fk.cfg.ClientID, fk.cfg.ClientSecret = fk.srv.ClientID(), fk.srv.ClientSecret()
	}
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) {
		if !oidc {
			c.Issuer, c.ClientID, c.ClientSecret = "", "", ""
		}
		for _, fk := range fakes {
			c.OAuth2Providers = append(c.OAuth2Providers, fk.cfg)
		}
		if mutate != nil {
			mutate(c)
		}
	})
	clk.Store(f.clock)
	return f
}

// github is a GitHub-like fake: form-encoded token answers,
// client_secret_post, a numeric id and avatar_url.
func github() *fake {
	return &fake{cfg: OAuth2Provider{
		Name: "github", Scope: "read:user user:email", TokenEndpointResponseType: TokenResponseQueryString,
		ProfileMap: ProfileMap{Avatar: "avatar_url"}, CustomConfig: map[string]string{"allow_signup": "true"},
	}}
}

// startAt follows a sign-in at path through the fake and returns the
// fake's redirect back to the app (not yet visited).
func (f *flow) startAt(path string) *url.URL {
	f.t.Helper()
	resp := f.get(path)
	wantStatus(f.t, resp, http.StatusSeeOther)
	resp = f.get(location(f.t, resp).String())
	wantStatus(f.t, resp, http.StatusFound)
	return location(f.t, resp)
}

// whoami is the user the latest /whoami request of a flow saw.
var whoami sync.Map // *flow → *User

// user reads the signed-in user through a protected handler.
func (f *flow) user() *User {
	f.t.Helper()
	if _, registered := whoami.LoadOrStore(f, (*User)(nil)); !registered {
		f.mux.Handle("/whoami", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, _ := UserFromContext(r.Context())
			whoami.Store(f, u)
		})))
		f.t.Cleanup(func() { whoami.Delete(f) })
	}
	wantStatus(f.t, f.get("/whoami"), http.StatusOK)
	u, _ := whoami.Load(f)
	return u.(*User)
}

func TestOAuth2GitHubLikeSignIn(t *testing.T) {
	t.Parallel()
	gh := github()
	f := newOAuth2Flow(t, false, []*fake{gh}, nil)
	back := f.startAt("/sign-in?returnTo=/profile")
	if back.Path != "/callback/github" {
		t.Fatalf("provider sent the browser to %s, not the provider's own callback", back.Path)
	}
	authz := gh.srv.LastAuthorizeRequest()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": gh.srv.ClientID(), "scope": "read:user user:email",
		"redirect_uri": f.app.URL + "/callback/github", "code_challenge_method": "S256", "allow_signup": "true",
	} {
		if authz.Get(k) != want {
			t.Errorf("authorize %s = %q, want %q", k, authz.Get(k), want)
		}
	}
	if len(authz.Get("state")) != stateLen || authz.Get("code_challenge") == "" || authz.Has("nonce") || authz.Has("prompt") {
		t.Errorf("authorize request: %v", authz)
	}
	resp := f.get(back.String())
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := location(t, resp); loc.String() != "/profile" {
		t.Errorf("landed on %s", loc)
	}
	tok := gh.srv.LastTokenRequest()
	for k, want := range map[string]string{
		"grant_type": "authorization_code", "redirect_uri": f.app.URL + "/callback/github", "client_id": gh.srv.ClientID(),
		"client_auth": string(ClientSecretPost), "allow_signup": "true",
	} {
		if tok.Get(k) != want {
			t.Errorf("token request %s = %q, want %q", k, tok.Get(k), want)
		}
	}
	if tok.Get("code_verifier") == "" {
		t.Error("no PKCE verifier at the token endpoint")
	}
	u := f.user()
	want := User{Subject: "583231", Name: "Octo Dev", Email: "octo.dev@example.com", Picture: "https://avatars.example.com/u/583231?v=4",
		Issuer: gh.srv.AuthorizationEndpoint(), OAuth2Provider: "github"}
	got := *u
	got.claims = ""
	if got != want {
		t.Errorf("user %+v\nwant %+v", got, want)
	}
	var raw struct {
		Login string `json:"login"`
		ID    int    `json:"id"`
	}
	if err := u.Claims(&raw); err != nil || raw.Login != "octo-dev" || raw.ID != 583231 {
		t.Errorf("raw profile: %+v, %v", raw, err)
	}
	if body(t, f.get("/profile")) != "hello 583231 Octo Dev" {
		t.Error("RequireAuth does not serve the OAuth 2.0 session")
	}
	if f.txCookies() != 0 {
		t.Error("transaction cookie left behind")
	}
	if logs := f.logs.String(); strings.Contains(logs, "gho_") || strings.Contains(logs, gh.srv.ClientSecret()) || strings.Contains(logs, back.Query().Get("code")) {
		t.Errorf("a token, code or secret reached the log:\n%s", logs)
	}
}

func TestOAuth2ClientAuthMethods(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method AuthMethod
		alg    string
	}{
		{ClientSecretBasic, ""}, {ClientSecretPost, ""},
		{ClientSecretJWT, "HS256"}, {ClientSecretJWT, "HS384"}, {ClientSecretJWT, "HS512"},
	}
	for _, tc := range cases {
		t.Run(string(tc.method)+tc.alg, func(t *testing.T) {
			fk := &fake{
				opts: oidcauthtest.OAuth2Options{AuthMethod: string(tc.method), JWTAlgorithm: tc.alg, ResponseFormat: "json"},
				cfg: OAuth2Provider{Name: "acme", TokenEndpointAuthMethod: tc.method, ClientSecretJWTSigningAlgorithm: tc.alg,
					TokenEndpointResponseType: TokenResponseJSON, ProfileMap: ProfileMap{Avatar: "avatar_url"}},
			}
			f := newOAuth2Flow(t, true, []*fake{fk}, nil)
			resp := f.get(f.startAt("/sign-in?provider=acme").String())
			wantStatus(t, resp, http.StatusSeeOther)
			tok := fk.srv.LastTokenRequest()
			if tok.Get("client_auth") != string(tc.method) {
				t.Errorf("provider saw %s", tok.Get("client_auth"))
			}
			if tc.method != ClientSecretPost && tok.Has("client_secret") {
				t.Error("the secret travelled in the form")
			}
			if tc.method == ClientSecretJWT {
				c := verifyHS(t, tok.Get("client_assertion"), tc.alg, []byte(fk.srv.ClientSecret()))
				if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat > 60 {
					t.Errorf("assertion lives %v s", exp-iat)
				}
			}
			if u := f.user(); u.Subject != "583231" || u.OAuth2Provider != "acme" {
				t.Errorf("user %+v", u)
			}
		})
	}
}

// TestOAuth2ClientAuthMismatch: a provider that takes one method refuses
// another, and the sign-in fails with 502 and no session.
func TestOAuth2ClientAuthMismatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		fakeOpts  oidcauthtest.OAuth2Options
		method    AuthMethod
		algorithm string
	}{
		{"basic sent, post required", oidcauthtest.OAuth2Options{AuthMethod: string(ClientSecretPost)}, ClientSecretBasic, ""},
		{"post sent, jwt required", oidcauthtest.OAuth2Options{AuthMethod: string(ClientSecretJWT)}, ClientSecretPost, ""},
		{"HS256 sent, HS512 required", oidcauthtest.OAuth2Options{AuthMethod: string(ClientSecretJWT), JWTAlgorithm: "HS512"}, ClientSecretJWT, "HS256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fk := &fake{opts: tc.fakeOpts, cfg: OAuth2Provider{Name: "acme", TokenEndpointAuthMethod: tc.method, ClientSecretJWTSigningAlgorithm: tc.algorithm}}
			f := newOAuth2Flow(t, true, []*fake{fk}, nil)
			resp := f.get(f.startAt("/sign-in?provider=acme").String())
			wantStatus(t, resp, http.StatusBadGateway)
			if f.signedIn() {
				t.Error("signed in")
			}
		})
	}
}

func TestOAuth2Misbehaviour(t *testing.T) {
	t.Parallel()
	big := `{"id":1,"pad":"` + strings.Repeat("x", maxProfileBytes) + `"}`
	huge := `{"id":1,"pad":"` + strings.Repeat("x", 2<<20) + `"}`
	cases := []struct {
		name   string
		format TokenResponseFormat
		m      oidcauthtest.OAuth2Misbehavior
		want   int
		kind   error
	}{
		{"user cancels", "", oidcauthtest.OAuth2Misbehavior{AuthorizeError: "access_denied"}, http.StatusForbidden, ErrAccessDenied},
		{"provider error", "", oidcauthtest.OAuth2Misbehavior{AuthorizeError: "server_error"}, http.StatusBadGateway, ErrAuthorization},
		{"code refused, GitHub style", "", oidcauthtest.OAuth2Misbehavior{TokenError: "bad_verification_code"}, http.StatusBadRequest, ErrCodeRejected},
		{"code refused, RFC style", TokenResponseJSON, oidcauthtest.OAuth2Misbehavior{TokenError: "invalid_grant", TokenStatus: 400}, http.StatusBadRequest, ErrCodeRejected},
		{"token endpoint fails", TokenResponseJSON, oidcauthtest.OAuth2Misbehavior{TokenError: "server_error", TokenStatus: 500}, http.StatusBadGateway, ErrTokenEndpoint},
		{"form answer where JSON is configured", TokenResponseJSON, oidcauthtest.OAuth2Misbehavior{WrongFormat: true}, http.StatusBadGateway, ErrTokenEndpoint},
		{"JSON answer where form is configured", TokenResponseQueryString, oidcauthtest.OAuth2Misbehavior{WrongFormat: true}, http.StatusBadGateway, ErrTokenEndpoint},
		{"profile without id", "", oidcauthtest.OAuth2Misbehavior{ProfileBody: `{"login":"octo","name":"Octo"}`}, http.StatusBadGateway, ErrUserInfo},
		{"profile with an empty id", "", oidcauthtest.OAuth2Misbehavior{ProfileBody: `{"id":""}`}, http.StatusBadGateway, ErrUserInfo},
		{"profile not an object", "", oidcauthtest.OAuth2Misbehavior{ProfileBody: `["id"]`}, http.StatusBadGateway, ErrUserInfo},
		{"profile not JSON", "", oidcauthtest.OAuth2Misbehavior{ProfileBody: `<html>Rate limited</html>`}, http.StatusBadGateway, ErrUserInfo},
		{"profile over 16 KiB", "", oidcauthtest.OAuth2Misbehavior{ProfileBody: big}, http.StatusBadGateway, ErrUserInfo},
		{"profile over 1 MiB", "", oidcauthtest.OAuth2Misbehavior{ProfileBody: huge}, http.StatusBadGateway, ErrUserInfo},
		{"profile endpoint fails", "", oidcauthtest.OAuth2Misbehavior{ProfileStatus: 500}, http.StatusBadGateway, ErrUserInfo},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gh := github()
			if tc.format == TokenResponseJSON {
				gh.opts.ResponseFormat, gh.cfg.TokenEndpointResponseType = "json", TokenResponseJSON
			}
			var got error
			f := newOAuth2Flow(t, true, []*fake{gh}, func(c *Config) {
				c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
					got = err
					writeError(w, r, err)
				}
			})
			// A session from before must not survive a failed sign-in
			// (unless the provider merely said no).
			wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
			gh.srv.Misbehave(tc.m)
			resp := f.get(f.startAt("/sign-in?provider=github").String())
			wantStatus(t, resp, tc.want)
			if !errors.Is(got, tc.kind) {
				t.Errorf("error %v, want %v", got, tc.kind)
			}
			page := body(t, resp)
			if strings.Contains(page, "gho_") || strings.Contains(page, "octo") || strings.Contains(page, "xxxx") {
				t.Error("the error page echoes the provider's answer")
			}
			u, signed := (*User)(nil), f.signedIn()
			if signed {
				u = f.user()
			}
			if tc.m.AuthorizeError != "" {
				// Anyone can forge an error response: it signs nobody out.
				if u == nil || u.OAuth2Provider != "" {
					t.Errorf("an error response ended the earlier session (%+v)", u)
				}
			} else if signed {
				t.Errorf("still signed in as %+v after a failed sign-in", u)
			}
		})
	}
}

// TestOAuth2MixUp: a response meant for one provider is never redeemed by
// another, whichever callback it is delivered to.
func TestOAuth2MixUp(t *testing.T) {
	t.Parallel()
	gh, other := github(), &fake{cfg: OAuth2Provider{Name: "gitlab"}}
	f := newOAuth2Flow(t, true, []*fake{gh, other}, nil)

	for _, tc := range []struct{ start, deliverTo string }{
		{"/sign-in?provider=github", "/callback/gitlab"},
		{"/sign-in?provider=github", "/callback"},
		{"/sign-in?provider=gitlab", "/callback/github"},
	} {
		back := f.startAt(tc.start)
		tokenCalls := gh.srv.Calls("token") + other.srv.Calls("token") + f.idp.Calls("token")
		q := back.Query()
		if tc.deliverTo == "/callback" {
			q.Set("iss", f.idp.Issuer()) // an attacker can add what the OIDC callback checks
		}
		resp := f.get(tc.deliverTo + "?" + q.Encode())
		wantStatus(t, resp, http.StatusBadRequest)
		if n := gh.srv.Calls("token") + other.srv.Calls("token") + f.idp.Calls("token"); n != tokenCalls {
			t.Errorf("%s delivered to %s: the code was redeemed", tc.start, tc.deliverTo)
		}
		// The state was spent: the right callback refuses it now too.
		wantStatus(t, f.get(back.String()), http.StatusBadRequest)
	}
	// An OIDC response delivered to an OAuth 2.0 provider's callback.
	back := f.startSignIn("/sign-in")
	wantStatus(t, f.get("/callback/github?"+back.RawQuery), http.StatusBadRequest)
	if f.signedIn() {
		t.Error("signed in")
	}
}

// TestOIDCAndOAuth2SideBySide: Logto-style OIDC and GitHub-style OAuth 2.0
// in one app; each session remembers its provider and signs out its way.
func TestOIDCAndOAuth2SideBySide(t *testing.T) {
	t.Parallel()
	gh := github()
	f := newOAuth2Flow(t, true, []*fake{gh}, nil)

	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	u := f.user()
	if u.OAuth2Provider != "" || u.Issuer != f.idp.Issuer() || u.Subject != "user-1" {
		t.Errorf("OIDC user %+v", u)
	}
	resp := f.do("POST", "/sign-out", http.Header{"Sec-Fetch-Site": {"same-origin"}})
	if loc := location(t, resp); !strings.HasPrefix(loc.String(), f.idp.Issuer()) {
		t.Errorf("OIDC sign-out went to %s, not the end-session endpoint", loc)
	}

	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	u = f.user()
	if u.OAuth2Provider != "github" || u.Subject != "583231" || u.Issuer != gh.srv.AuthorizationEndpoint() {
		t.Errorf("GitHub user %+v", u)
	}
	resp = f.do("POST", "/sign-out", http.Header{"Sec-Fetch-Site": {"same-origin"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := location(t, resp); loc.String() != f.app.URL+"/" {
		t.Errorf("GitHub sign-out went to %s, want the post-logout URL (local sign-out)", loc)
	}
	if f.signedIn() {
		t.Error("still signed in after sign-out")
	}
	wantStatus(t, f.get("/sign-in?provider=nope"), http.StatusBadRequest)
}

func TestOAuth2OnlyApp(t *testing.T) {
	t.Parallel()
	t.Run("one provider is the default", func(t *testing.T) {
		gh := github()
		f := newOAuth2Flow(t, false, []*fake{gh}, nil)
		resp := f.get("/profile")
		wantStatus(t, resp, http.StatusSeeOther)
		resp = f.get(f.startAt(location(t, resp).String()).String())
		wantStatus(t, resp, http.StatusSeeOther)
		if location(t, resp).String() != "/profile" || !f.signedIn() {
			t.Error("RequireAuth's redirect did not sign in with the only provider")
		}
		// No OIDC callback is mounted: the path falls through to the app.
		if got := body(t, f.get("/callback?code=x&state=y")); !strings.HasPrefix(got, "home") {
			t.Errorf("/callback served %q", got)
		}
		if err := f.auth.Discover(t.Context()); err != nil {
			t.Errorf("Discover with no Issuer: %v", err)
		}
	})
	t.Run("several providers: a chooser", func(t *testing.T) {
		f := newOAuth2Flow(t, false, []*fake{github(), {cfg: OAuth2Provider{Name: "gitlab"}}}, nil)
		resp := f.get("/sign-in?returnTo=/profile")
		wantStatus(t, resp, http.StatusOK)
		page := body(t, resp)
		for _, want := range []string{`href="/sign-in?provider=github&amp;returnTo=%2Fprofile"`, `href="/sign-in?provider=gitlab&amp;returnTo=%2Fprofile"`} {
			if !strings.Contains(page, want) {
				t.Errorf("chooser lacks %s:\n%s", want, page)
			}
		}
		resp = f.get(f.startAt("/sign-in?provider=gitlab&returnTo=/profile").String())
		wantStatus(t, resp, http.StatusSeeOther)
		if u := f.user(); u.OAuth2Provider != "gitlab" {
			t.Errorf("user %+v", u)
		}
	})
}
