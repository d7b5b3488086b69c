package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// browser is a cookie-keeping client that does not follow redirects, so
// each hop of the flow is asserted.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (b *browser) do(method, target string, form url.Values, header http.Header) (*http.Response, string) {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.base + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp, string(page)
}

func (b *browser) want(resp *http.Response, status int) {
	b.t.Helper()
	if resp.StatusCode != status {
		b.t.Fatalf("%s %s: status %d, want %d", resp.Request.Method, resp.Request.URL, resp.StatusCode, status)
	}
}

// newApp builds the app with its state in process memory.
func newApp(getenv func(string) string, logger *slog.Logger) (*App, error) {
	return New(getenv, logger, nil)
}

// startApp serves the example with env on a loopback test server.
func startApp(t *testing.T, env map[string]string) *browser {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	if env["BASE_URL"] == "" {
		env["BASE_URL"] = base
	}
	a, err := newApp(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a.handler
	srv.Start()
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, client: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var interactionField = regexp.MustCompile(`name="interaction" value="([^"]+)"`)

// signIn goes from /sign-in through the development provider's form and
// returns the callback's response.
func (b *browser) signIn(path, action string) (*http.Response, string) {
	b.t.Helper()
	resp, _ := b.do("GET", path, nil, nil)
	b.want(resp, http.StatusSeeOther)
	authz := resp.Header.Get("Location")
	if !strings.HasPrefix(authz, b.base+"/dev-idp/auth?") {
		b.t.Fatalf("sign-in goes to %q, not the embedded provider", authz)
	}
	resp, form := b.do("GET", authz, nil, nil)
	b.want(resp, http.StatusOK)
	m := interactionField.FindStringSubmatch(form)
	if m == nil {
		b.t.Fatalf("the provider shows no login form:\n%s", form)
	}
	resp, _ = b.do("POST", "/dev-idp/auth/interaction", url.Values{"interaction": {m[1]}, "action": {action}, "name": {"Dev User"}, "email": {"dev.user@example.com"}}, nil)
	b.want(resp, http.StatusSeeOther)
	cb := resp.Header.Get("Location")
	if !strings.HasPrefix(cb, b.base+"/callback?") {
		b.t.Fatalf("the provider returns to %q", cb)
	}
	return b.do("GET", cb, nil, nil)
}

// With no configuration the example signs in and out on its embedded
// provider, following the contract in DESIGN.md.
func TestDevModeContract(t *testing.T) {
	b := startApp(t, map[string]string{})

	resp, page := b.do("GET", "/", nil, nil)
	b.want(resp, http.StatusOK)
	if !strings.Contains(page, "You are not signed in") || !strings.Contains(page, `href="/sign-in"`) {
		t.Errorf("anonymous home page:\n%s", page)
	}
	resp, _ = b.do("GET", "/profile", nil, nil)
	b.want(resp, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != "/sign-in?returnTo=%2Fprofile" {
		t.Errorf("anonymous /profile redirects to %q", got)
	}
	resp, page = b.do("GET", "/api/me", nil, http.Header{"Accept": {"application/json"}})
	b.want(resp, http.StatusUnauthorized)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(page, `"unauthorized"`) {
		t.Errorf("anonymous /api/me: %s %s", resp.Header.Get("Content-Type"), page)
	}

	resp, _ = b.signIn("/sign-in?returnTo=%2Fprofile", "approve")
	b.want(resp, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != "/profile" {
		t.Errorf("callback lands on %q, want the returnTo", got)
	}
	resp, page = b.do("GET", "/profile", nil, nil)
	b.want(resp, http.StatusOK)
	if !strings.Contains(page, `<strong id="user-name">Dev User</strong>`) || !strings.Contains(page, "dev-user-1") {
		t.Errorf("profile page:\n%s", page)
	}
	resp, page = b.do("GET", "/api/me", nil, http.Header{"Accept": {"application/json"}})
	b.want(resp, http.StatusOK)
	var claims map[string]any
	if err := json.Unmarshal([]byte(page), &claims); err != nil || claims["sub"] != "dev-user-1" || claims["email"] != "dev.user@example.com" {
		t.Errorf("/api/me = %s (%v)", page, err)
	}

	// The page's sign-out button: same-origin POST, then the provider's
	// end-session endpoint, then back home.
	resp, _ = b.do("POST", "/sign-out", url.Values{}, http.Header{"Origin": {b.base}})
	b.want(resp, http.StatusSeeOther)
	end := resp.Header.Get("Location")
	if !strings.HasPrefix(end, b.base+"/dev-idp/session/end?") {
		t.Fatalf("sign-out goes to %q", end)
	}
	resp, _ = b.do("GET", end, nil, nil)
	b.want(resp, http.StatusFound)
	if got := resp.Header.Get("Location"); got != b.base+"/" {
		t.Errorf("after end-session the provider sends the browser to %q", got)
	}
	resp, _ = b.do("GET", "/profile", nil, nil)
	b.want(resp, http.StatusSeeOther)
}

// /api/token gets the sign-in's own access token and, by a refresh grant,
// one for the configured API resource; never a token for anything else.
func TestDevModeAPIToken(t *testing.T) {
	b := startApp(t, map[string]string{})
	json200 := http.Header{"Accept": {"application/json"}}
	resp, _ := b.do("GET", "/api/token", nil, json200)
	b.want(resp, http.StatusUnauthorized)
	resp, _ = b.signIn("/sign-in", "approve")
	b.want(resp, http.StatusSeeOther)

	var got struct {
		Resource string         `json:"resource"`
		Format   string         `json:"format"`
		Claims   map[string]any `json:"claims"`
	}
	resp, page := b.do("GET", "/api/token", nil, json200)
	b.want(resp, http.StatusOK)
	if err := json.Unmarshal([]byte(page), &got); err != nil || got.Format != "opaque" || got.Resource != "" {
		t.Errorf("/api/token = %s (%v)", page, err)
	}
	if strings.Contains(page, "access_token") {
		t.Errorf("the sign-in's own token left the server: %s", page)
	}
	resp, page = b.do("GET", "/api/token?resource=https%3A%2F%2Fapi.example.com", nil, json200)
	b.want(resp, http.StatusOK)
	if err := json.Unmarshal([]byte(page), &got); err != nil || got.Format != "jwt" || got.Claims["aud"] != "https://api.example.com" || got.Claims["sub"] != "dev-user-1" {
		t.Errorf("/api/token?resource= = %s (%v)", page, err)
	}
	if !strings.Contains(page, `"access_token":"eyJ`) {
		t.Errorf("the API's token is not in the answer for the page's script: %s", page)
	}
	resp, _ = b.do("GET", "/api/token?resource=https%3A%2F%2Fother.example", nil, json200)
	b.want(resp, http.StatusBadRequest)
}

// Cancelling at the provider ends on a clear error page and no session.
func TestDevModeCancel(t *testing.T) {
	b := startApp(t, map[string]string{})
	resp, page := b.signIn("/sign-in", "cancel")
	b.want(resp, http.StatusForbidden)
	if !strings.Contains(page, `<h1 id="error-title">Sign-in cancelled</h1>`) || strings.Contains(page, "Forbidden") {
		t.Errorf("error page:\n%s", page)
	}
	resp, _ = b.do("GET", "/profile", nil, nil)
	b.want(resp, http.StatusSeeOther)
}

// Configured for a provider that cannot be reached, the app still starts
// and serves; sign-in answers 503 until the provider is back.
func TestUnreachableProvider(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	issuer := dead.URL + "/oidc"
	dead.Close()
	b := startApp(t, map[string]string{
		"OIDC_ISSUER": issuer, "OIDC_CLIENT_ID": "app", "OIDC_CLIENT_SECRET": "secret",
		"SESSION_SECRET": strings.Repeat("k", 32),
	})
	resp, _ := b.do("GET", "/", nil, nil)
	b.want(resp, http.StatusOK)
	resp, page := b.do("GET", "/sign-in", nil, nil)
	b.want(resp, http.StatusServiceUnavailable)
	if !strings.Contains(page, "unavailable") {
		t.Errorf("503 page:\n%s", page)
	}
}

// Configured only through the environment, the example signs in with a
// separately served provider; OIDC_SCOPES reaches the authorization request,
// with openid, offline_access and profile kept as Logto's SDKs keep them.
func TestConfiguredProvider(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String() + "/oidc"
	idp, err := oidcauthtest.New(issuer, oidcauthtest.Options{ClientID: "app", ClientSecret: "app-secret", User: oidcauthtest.User{Subject: "ext-7", Name: "Ext"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = idp
	srv.Start()
	t.Cleanup(srv.Close)
	b := startApp(t, map[string]string{
		"OIDC_ISSUER": issuer, "OIDC_CLIENT_ID": "app", "OIDC_CLIENT_SECRET": "app-secret",
		"SESSION_SECRET": strings.Repeat("s", 32), "OIDC_SCOPES": "openid profile",
	})
	resp, _ := b.do("GET", "/sign-in?returnTo=%2Fprofile", nil, nil)
	b.want(resp, http.StatusSeeOther)
	authz, _ := url.Parse(resp.Header.Get("Location"))
	if !strings.HasPrefix(authz.String(), issuer+"/auth?") || authz.Query().Get("scope") != "openid offline_access profile" || authz.Query().Get("prompt") != "consent" {
		t.Fatalf("authorization request %s", authz)
	}
	if got := authz.Query().Get("redirect_uri"); got != b.base+"/callback" {
		t.Errorf("redirect_uri = %q, want BASE_URL/callback", got)
	}
	resp, _ = b.do("GET", authz.String(), nil, nil)
	b.want(resp, http.StatusFound)
	resp, _ = b.do("GET", resp.Header.Get("Location"), nil, nil)
	b.want(resp, http.StatusSeeOther)
	resp, page := b.do("GET", "/api/me", nil, http.Header{"Accept": {"application/json"}})
	b.want(resp, http.StatusOK)
	if !strings.Contains(page, `"sub":"ext-7"`) {
		t.Errorf("/api/me = %s", page)
	}
	if got := idp.LastTokenRequest().Get("client_auth"); got != "client_secret_basic" {
		t.Errorf("client authenticated by %q", got)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"issuer without a session secret": {"OIDC_ISSUER": "https://a1b2c3.logto.app/oidc", "OIDC_CLIENT_ID": "app"},
		"short session secret":            {"SESSION_SECRET": "short"},
		"relative BASE_URL":               {"BASE_URL": "localhost:3000"},
		"development provider in public":  {"BASE_URL": "https://app.example.com"},
		"Logto issuer without /oidc":      {"OIDC_ISSUER": "https://a1b2c3.logto.app", "OIDC_CLIENT_ID": "app", "SESSION_SECRET": strings.Repeat("k", 32)},
	} {
		if _, err := newApp(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%s: newApp accepted it", name)
		}
	}
}

func TestDefaultAddr(t *testing.T) {
	for base, want := range map[string]string{
		"http://localhost:3000":   "localhost:3000",
		"http://127.0.0.1:8080":   "127.0.0.1:8080",
		"https://app.example.com": ":3000",
		"http://localhost":        "localhost:80",
	} {
		u, _ := url.Parse(base)
		if got := defaultAddr(u); got != want {
			t.Errorf("defaultAddr(%s) = %q, want %q", base, got, want)
		}
	}
}
