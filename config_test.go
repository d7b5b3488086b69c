package oidcauth

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{
		Issuer:      "https://a1b2c3.logto.app/oidc",
		ClientID:    "app",
		RedirectURL: "https://app.example.com/callback",
		SessionKeys: [][]byte{testKey(1)},
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string // a phrase the error must contain
	}{
		{"no issuer", func(c *Config) { c.Issuer = "" }, "Issuer is required"},
		{"relative issuer", func(c *Config) { c.Issuer = "/oidc" }, "absolute URL"},
		{"http issuer off loopback", func(c *Config) { c.Issuer = "http://idp.example.com" }, "must use https"},
		{"logto issuer without /oidc", func(c *Config) { c.Issuer = "https://a1b2c3.logto.app" }, "ends in /oidc"},
		{"no client id", func(c *Config) { c.ClientID = "" }, "ClientID is required"},
		{"no redirect", func(c *Config) { c.RedirectURL = "" }, "RedirectURL is required"},
		{"relative redirect", func(c *Config) { c.RedirectURL = "/callback" }, "RedirectURL must be an absolute URL"},
		{"redirect with fragment", func(c *Config) { c.RedirectURL = "https://app.example.com/cb#x" }, "fragment"},
		{"ftp post-logout", func(c *Config) { c.PostLogoutRedirectURL = "ftp://x/" }, "PostLogoutRedirectURL must use https"},
		{"no keys", func(c *Config) { c.SessionKeys = nil }, "SessionKeys is required"},
		{"short key", func(c *Config) { c.SessionKeys = [][]byte{[]byte("short")} }, "SessionKeys[0] is 5 bytes"},
		{"reserved auth param", func(c *Config) { c.AuthParams = map[string]string{"state": "x"} }, `may not set "state"`},
		{"bad cookie name", func(c *Config) { c.CookieName = "a b" }, "CookieName"},
		{"negative lifetime", func(c *Config) { c.SessionMaxAge = -time.Second }, "may not be negative"},
		{"sign-in path", func(c *Config) { c.SignInPath = "//evil" }, "SignInPath"},
		{"idle timeout in nanoseconds", func(c *Config) { c.SessionIdleTimeout = 30 }, "SessionIdleTimeout of 30ns is too short"},
		{"resource as an auth param", func(c *Config) { c.AuthParams = map[string]string{"resource": "https://api"} }, "list API resources in Resources"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.mutate(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	cfg := validConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.cfg.Scopes, " "); got != "openid profile email offline_access" {
		t.Errorf("scopes = %q", got)
	}
	if a.cfg.Prompt != "consent" {
		t.Errorf("prompt = %q, want consent (Logto issues refresh tokens only then)", a.cfg.Prompt)
	}
	if a.sessionCookie != "__Host-oidcauth" || !a.cookies.Secure {
		t.Errorf("https app: cookie %q secure %v", a.sessionCookie, a.cookies.Secure)
	}
	if a.cfg.HTTPClient.Timeout != 10*time.Second {
		t.Errorf("client timeout = %v", a.cfg.HTTPClient.Timeout)
	}
	if buf.Len() != 0 {
		t.Errorf("New logged: %s", buf.String())
	}

	local := validConfig()
	local.Issuer, local.RedirectURL = "http://localhost:3000/dev-idp", "http://localhost:3000/callback"
	local.Scopes, local.ExactScopes = []string{"profile"}, true
	b, err := New(local)
	if err != nil {
		t.Fatal(err)
	}
	if b.sessionCookie != "oidcauth" || b.cookies.Secure {
		t.Errorf("http app: cookie %q secure %v", b.sessionCookie, b.cookies.Secure)
	}
	if b.cfg.Scopes[0] != "openid" || b.cfg.Prompt != "" {
		t.Errorf("scopes %v prompt %q: openid must be added, no consent prompt without offline_access", b.cfg.Scopes, b.cfg.Prompt)
	}
}

func TestInsecureAllowHTTPWarns(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	cfg := validConfig()
	cfg.Issuer = "http://keycloak:8080/realms/app"
	cfg.InsecureAllowHTTP = true
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "InsecureAllowHTTP") {
		t.Errorf("no warning logged: %q", buf.String())
	}
}

func TestResponseSizeLimit(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := maxResponseBytes
		if r.URL.Path == "/big" {
			n++
		}
		w.Write(bytes.Repeat([]byte("a"), n))
	}))
	defer srv.Close()
	c := limitedClient(nil)
	for path, wantErr := range map[string]bool{"/exact": false, "/big": true} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if (err != nil) != wantErr {
			t.Errorf("%s: read error %v, want error %v", path, err, wantErr)
		}
	}
	if limitedClient(c).Transport != c.Transport {
		t.Error("limitedClient wraps an already limited transport again")
	}
}

func TestWantsJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    bool
	}{
		{"bare client", nil, false},
		{"browser navigation", map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html,*/*"}, false},
		{"navigation even with json accept", map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "application/json"}, false},
		{"api client", map[string]string{"Accept": "application/json"}, true},
		{"problem json", map[string]string{"Accept": "application/problem+json"}, true},
		{"fetch", map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "*/*"}, true},
		{"xhr", map[string]string{"X-Requested-With": "XMLHttpRequest"}, true},
		{"html accept", map[string]string{"Accept": "text/html"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if got := wantsJSON(r); got != tc.want {
				t.Errorf("wantsJSON = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRequestSite(t *testing.T) {
	t.Parallel()
	a := testAuth(t, func(c *Config) { c.RedirectURL = "https://App.Example.com:443/callback" })
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    site
	}{
		{"no headers (curl, or an old browser's link)", nil, siteUnknown},
		{"same origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, siteSame},
		{"typed url", map[string]string{"Sec-Fetch-Site": "none"}, siteSame},
		{"cross site", map[string]string{"Sec-Fetch-Site": "cross-site"}, siteOther},
		{"sibling subdomain", map[string]string{"Sec-Fetch-Site": "same-site"}, siteOther},
		{"fetch metadata wins over a forged referer", map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": "https://app.example.com/"}, siteOther},
		{"our origin", map[string]string{"Origin": "https://app.example.com"}, siteSame},
		{"our origin, default port spelt out", map[string]string{"Origin": "https://app.example.com:443"}, siteSame},
		{"other origin", map[string]string{"Origin": "https://evil.example"}, siteOther},
		{"other scheme", map[string]string{"Origin": "http://app.example.com"}, siteOther},
		{"null origin", map[string]string{"Origin": "null"}, siteOther},
		{"our referer", map[string]string{"Referer": "https://app.example.com/profile"}, siteSame},
		{"other referer", map[string]string{"Referer": "https://evil.example/x"}, siteOther},
		{"lookalike referer", map[string]string{"Referer": "https://app.example.com.evil.example/"}, siteOther},
		{"userinfo referer", map[string]string{"Referer": "https://app.example.com@evil.example/"}, siteOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/sign-out", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if got := a.requestSite(r); got != tc.want {
				t.Errorf("requestSite = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestResourcesValidated(t *testing.T) {
	t.Parallel()
	for _, res := range []string{"api", "https://api.example.com/#frag", "/relative"} {
		cfg := validConfig()
		cfg.Resources = []string{res}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "Resources") {
			t.Errorf("resource %q: err = %v", res, err)
		}
	}
}
