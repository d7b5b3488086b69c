package oidcauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every page the library renders carries the same security headers: no
// script, no framing, no base or foreign resources, no sniffing, no
// caching, and no path or query in a Referer.
func TestPageSecurityHeaders(t *testing.T) {
	t.Parallel()
	oidc := testAuth(t, nil)
	chooser := testAuth(t, func(c *Config) {
		c.Issuer = ""
		for _, name := range []string{"github", "gitlab"} {
			c.OAuth2Providers = append(c.OAuth2Providers, OAuth2Provider{Name: name,
				AuthorizationEndpoint: "https://" + name + ".example.com/authorize", TokenEndpoint: "https://" + name + ".example.com/token",
				UserInfoEndpoint: "https://" + name + ".example.com/user", ClientID: "id", ClientSecret: "secret"})
		}
	})
	pages := []struct {
		name   string
		h      http.Handler
		path   string
		status int
	}{
		{"error page", oidc.CallbackHandler(), "/callback?code=abc", http.StatusBadRequest},
		{"confirm sign-out page", oidc.SignOutHandler(), "/sign-out", http.StatusOK},
		{"provider chooser", chooser.SignInHandler(), "/sign-in", http.StatusOK},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			p.h.ServeHTTP(rec, httptest.NewRequest("GET", "https://app.example.com"+p.path, nil))
			h := rec.Header()
			if rec.Code != p.status || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Fatalf("status %d, Content-Type %q", rec.Code, h.Get("Content-Type"))
			}
			csp := h.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %s", csp, d)
				}
			}
			if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP %q allows scripts", csp)
			}
			want := map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "strict-origin"}
			for k, v := range want {
				if got := h.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}
