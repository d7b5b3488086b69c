package oidcauthtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// client drives the provider like a relying party, without following
// redirects.
type client struct {
	t    *testing.T
	p    *Provider
	http *http.Client
}

func newClient(t *testing.T, opts Options) *client {
	p := NewServer(t, opts)
	hc := *p.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: t, p: p, http: &hc}
}

const redirectURI = "https://app.example.com/callback"

var verifier = strings.Repeat("v", 43)

func challenge(v string) string { return b64.EncodeToString(s256(v)) }

func authzQuery(scope string) url.Values {
	return url.Values{
		"client_id": {DefaultClientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {scope}, "state": {"st"}, "nonce": {"n-0S6_WzA2Mj"},
		"code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"},
	}
}

// authorize returns the redirect back to the relying party.
func (c *client) authorize(q url.Values) *url.URL {
	c.t.Helper()
	resp, err := c.http.Get(c.p.Issuer() + "/auth?" + q.Encode())
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		c.t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		c.t.Fatal(err)
	}
	return u
}

func (c *client) code(scope string) string {
	c.t.Helper()
	cb := c.authorize(authzQuery(scope))
	if cb.Query().Get("state") != "st" || cb.Query().Get("iss") != c.p.Issuer() {
		c.t.Fatalf("authorization response %v lacks state or iss", cb.Query())
	}
	return cb.Query().Get("code")
}

// token posts form with the client's secret (basic) and returns the status
// and decoded body.
func (c *client) token(form url.Values, secret string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.p.Issuer()+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(DefaultClientID, secret)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func codeForm(code, v string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {v}}
}

func TestCodeFlowTokensVerify(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256", "ES384"} {
		t.Run(alg, func(t *testing.T) {
			c := newClient(t, Options{ClientSecret: "sec", SigningAlg: alg, User: User{Subject: "s-1", Name: "Ann", Email: "ann@example.com", Extra: map[string]any{"roles": []string{"admin"}}}})
			status, body := c.token(codeForm(c.code("openid profile email"), verifier), "sec")
			if status != 200 {
				t.Fatalf("token: %d %v", status, body)
			}
			if _, ok := body["refresh_token"]; ok {
				t.Error("refresh token issued without offline_access")
			}
			ctx := oidc.ClientContext(context.Background(), c.p.Client())
			op, err := oidc.NewProvider(ctx, c.p.Issuer())
			if err != nil {
				t.Fatal(err)
			}
			idt, err := op.Verifier(&oidc.Config{ClientID: DefaultClientID}).Verify(ctx, body["id_token"].(string))
			if err != nil {
				t.Fatalf("go-oidc refuses the ID token: %v", err)
			}
			if err := idt.VerifyAccessToken(body["access_token"].(string)); err != nil {
				t.Errorf("at_hash: %v", err)
			}
			var claims struct {
				Sub, Name, Email, Nonce, Sid string
				Roles                        []string
			}
			_ = idt.Claims(&claims)
			if claims.Sub != "s-1" || claims.Name != "Ann" || claims.Email != "ann@example.com" || claims.Nonce != "n-0S6_WzA2Mj" || claims.Sid == "" || len(claims.Roles) != 1 {
				t.Errorf("claims = %+v", claims)
			}
			if got := c.p.LastTokenRequest().Get("client_auth"); got != "client_secret_basic" {
				t.Errorf("client_auth = %q", got)
			}
		})
	}
}

func TestCodeExpires(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := newClient(t, Options{ClientSecret: "sec", Now: func() time.Time { return now }})
	code := c.code("openid")
	now = now.Add(codeLifetime + time.Second)
	if status, body := c.token(codeForm(code, verifier), "sec"); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("expired code: %d %v", status, body)
	}
}

func TestTokenEndpointRefuses(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{ClientSecret: "sec"})
	for _, tc := range []struct {
		name   string
		form   func(code string) url.Values
		secret string
		status int
		err    string
	}{
		{"wrong secret", func(code string) url.Values { return codeForm(code, verifier) }, "nope", 401, "invalid_client"},
		{"no client authentication", func(code string) url.Values {
			f := codeForm(code, verifier)
			f.Set("client_id", DefaultClientID)
			return f
		}, "", 401, "invalid_client"},
		{"wrong PKCE verifier", func(code string) url.Values { return codeForm(code, strings.Repeat("w", 43)) }, "sec", 400, "invalid_grant"},
		{"missing PKCE verifier", func(code string) url.Values { return codeForm(code, "") }, "sec", 400, "invalid_grant"},
		{"other redirect_uri", func(code string) url.Values {
			f := codeForm(code, verifier)
			f.Set("redirect_uri", "https://app.example.com/other")
			return f
		}, "sec", 400, "invalid_grant"},
		{"unknown code", func(string) url.Values { return codeForm("forged", verifier) }, "sec", 400, "invalid_grant"},
		{"unknown grant type", func(code string) url.Values { return url.Values{"grant_type": {"password"}} }, "sec", 400, "unsupported_grant_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.token(tc.form(c.code("openid")), tc.secret)
			if status != tc.status || body["error"] != tc.err {
				t.Errorf("got %d %v, want %d %s", status, body, tc.status, tc.err)
			}
		})
	}
}

func TestClientSecretPostAndPublicClient(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{ClientSecret: "sec"})
	f := codeForm(c.code("openid"), verifier)
	f.Set("client_id", DefaultClientID)
	f.Set("client_secret", "sec")
	if status, body := c.token(f, ""); status != 200 || c.p.LastTokenRequest().Get("client_auth") != "client_secret_post" {
		t.Errorf("client_secret_post: %d %v", status, body)
	}

	pub := newClient(t, Options{})
	f = codeForm(pub.code("openid"), verifier)
	f.Set("client_id", DefaultClientID)
	if status, body := pub.token(f, ""); status != 200 || pub.p.LastTokenRequest().Get("client_auth") != "none" {
		t.Errorf("public client: %d %v", status, body)
	}
}

// A code is single use; its replay revokes the tokens it gave.
func TestCodeReplayRevokes(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{ClientSecret: "sec"})
	code := c.code("openid offline_access")
	status, first := c.token(codeForm(code, verifier), "sec")
	if status != 200 {
		t.Fatal(status, first)
	}
	if status, _ := c.token(codeForm(code, verifier), "sec"); status != 400 {
		t.Errorf("replayed code: %d", status)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}}
	if status, body := c.token(refresh, "sec"); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh token of a replayed code: %d %v", status, body)
	}
}

// Refresh tokens rotate; using a rotated one revokes the whole family.
func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{ClientSecret: "sec"})
	_, body := c.token(codeForm(c.code("openid profile offline_access"), verifier), "sec")
	old := body["refresh_token"].(string)
	status, next := c.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}, "sec")
	if status != 200 || next["refresh_token"] == old || next["id_token"] == nil {
		t.Fatalf("refresh: %d %v", status, next)
	}
	if status, _ := c.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}, "sec"); status != 400 {
		t.Errorf("rotated refresh token reused: %d", status)
	}
	status, _ = c.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next["refresh_token"].(string)}}, "sec")
	if status != 400 {
		t.Errorf("family not revoked after reuse: %d", status)
	}
}

func TestAuthorizeRefuses(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{ClientSecret: "sec", RedirectURIs: []string{redirectURI}})
	for name, mutate := range map[string]func(url.Values){
		"unknown client":          func(q url.Values) { q.Set("client_id", "other") },
		"unregistered redirect":   func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") },
		"redirect with a suffix":  func(q url.Values) { q.Set("redirect_uri", redirectURI+"/x") },
		"redirect with any query": func(q url.Values) { q.Set("redirect_uri", redirectURI+"?a=1") },
	} {
		t.Run(name, func(t *testing.T) {
			q := authzQuery("openid")
			mutate(q)
			resp, err := c.http.Get(c.p.Issuer() + "/auth?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("status %d, Location %q: must be shown, never redirected", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	for name, mutate := range map[string]func(url.Values){
		"no PKCE":       func(q url.Values) { q.Del("code_challenge") },
		"PKCE plain":    func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"no openid":     func(q url.Values) { q.Set("scope", "profile") },
		"response type": func(q url.Values) { q.Set("response_type", "token") },
	} {
		t.Run(name, func(t *testing.T) {
			q := authzQuery("openid")
			mutate(q)
			cb := c.authorize(q)
			if cb.Query().Get("error") == "" || cb.Query().Get("code") != "" {
				t.Errorf("authorization response = %v", cb.Query())
			}
		})
	}
}

func TestLoginForm(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{ClientSecret: "sec", LoginForm: true})
	field := regexp.MustCompile(`name="interaction" value="([^"]+)"`)
	form := func(q url.Values) (string, string) {
		resp, err := c.http.Get(c.p.Issuer() + "/auth?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		m := field.FindSubmatch(page)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("no login form: %d %s", resp.StatusCode, page)
		}
		return string(page), string(m[1])
	}
	submit := func(id, action, email string) *url.URL {
		resp, err := c.http.PostForm(c.p.Issuer()+"/auth/interaction", url.Values{"interaction": {id}, "action": {action}, "name": {"Zoe"}, "email": {email}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		u, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("interaction: status %d", resp.StatusCode)
		}
		return u
	}

	q := authzQuery("openid profile email")
	q.Set("first_screen", "register")
	page, id := form(q)
	if !strings.Contains(page, "Create your account") {
		t.Error("first_screen=register does not open the sign-up screen")
	}
	cb := submit(id, "approve", "zoe@example.com")
	_, body := c.token(codeForm(cb.Query().Get("code"), verifier), "sec")
	parts := strings.Split(body["id_token"].(string), ".")
	payload, _ := b64.DecodeString(parts[1])
	var claims struct {
		Sub, Name, Email string
		EmailVerified    bool `json:"email_verified"`
	}
	_ = json.Unmarshal(payload, &claims)
	if claims.Name != "Zoe" || claims.Email != "zoe@example.com" || claims.EmailVerified || claims.Sub == defaultUser.Subject || !strings.HasPrefix(claims.Sub, "user-") {
		t.Errorf("claims after the form: %+v", claims)
	}

	// The interaction id is single use.
	resp, _ := c.http.PostForm(c.p.Issuer()+"/auth/interaction", url.Values{"interaction": {id}, "action": {"approve"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("interaction reused: %d", resp.StatusCode)
	}

	_, id = form(authzQuery("openid"))
	if cb := submit(id, "cancel", ""); cb.Query().Get("error") != "access_denied" || cb.Query().Get("state") != "st" {
		t.Errorf("cancel: %v", cb.Query())
	}

	q = authzQuery("openid")
	q.Set("prompt", "none")
	if cb := c.authorize(q); cb.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none with a login form: %v", cb.Query())
	}
}

func TestEndSession(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{ClientSecret: "sec", PostLogoutRedirectURIs: []string{"https://app.example.com/"}})
	_, body := c.token(codeForm(c.code("openid"), verifier), "sec")
	idt := body["id_token"].(string)
	get := func(q url.Values) *http.Response {
		resp, err := c.http.Get(c.p.Issuer() + "/session/end?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := get(url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://app.example.com/"}, "state": {"s"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://app.example.com/?state=s" {
		t.Errorf("end-session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for name, q := range map[string]url.Values{
		"unregistered post-logout URI": {"client_id": {DefaultClientID}, "post_logout_redirect_uri": {"https://evil.example/"}},
		"post-logout URI, no client":   {"post_logout_redirect_uri": {"https://app.example.com/"}},
		"forged hint":                  {"id_token_hint": {idt[:len(idt)-4] + "AAAA"}},
	} {
		if resp := get(q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d", name, resp.StatusCode)
		}
	}
}

func TestUserInfoNeedsAToken(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{ClientSecret: "sec"})
	_, body := c.token(codeForm(c.code("openid email"), verifier), "sec")
	ask := func(token string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", c.p.Issuer()+"/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if status, out := ask(body["access_token"].(string)); status != 200 || out["sub"] != "user-1" || out["email"] != "test.user@example.com" || out["name"] != nil {
		t.Errorf("userinfo = %d %v (name needs the profile scope)", status, out)
	}
	if status, _ := ask("forged"); status != http.StatusUnauthorized {
		t.Errorf("forged token: %d", status)
	}
}

func TestNewRefusesBadIssuer(t *testing.T) {
	t.Parallel()
	for _, issuer := range []string{"", "localhost:3000", "ftp://x/", "https://x/oidc?q=1"} {
		if _, err := New(issuer, Options{}); err == nil {
			t.Errorf("New(%q) accepted", issuer)
		}
	}
	if _, err := New("https://x/oidc", Options{SigningAlg: "HS256"}); err == nil {
		t.Error("HS256 accepted as a signing algorithm")
	}
}
