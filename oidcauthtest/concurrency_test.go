package oidcauthtest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// The provider is used from the relying party's many goroutines at once:
// introspection, revocation and token requests for the tokens of one grant
// must not touch its state unlocked (run with -race). The requests go to
// ServeHTTP directly: over a socket the race detector orders every read
// after every earlier write on any connection, which hides most races.
func TestConcurrentIntrospectionRevocationTokens(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{ClientSecret: "sec"})
	serve := func(endpoint string, form url.Values) int {
		r := httptest.NewRequest("POST", c.p.Issuer()+endpoint, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(DefaultClientID, "sec")
		w := httptest.NewRecorder()
		c.p.ServeHTTP(w, r)
		return w.Code
	}
	for range 20 {
		q := authzQuery("openid offline_access")
		q.Set("resource", "https://api.example.com")
		code := c.authorize(q).Query().Get("code")
		form := codeForm(code, verifier)
		form.Set("resource", "https://api.example.com")
		status, body := c.token(form, "sec")
		if status != http.StatusOK {
			t.Fatal(status, body)
		}
		at, rt := body["access_token"].(string), body["refresh_token"].(string)
		fresh := c.code("openid offline_access")
		var wg sync.WaitGroup
		for _, req := range []struct {
			endpoint string
			form     url.Values
		}{
			{"/token/introspection", url.Values{"token": {at}}},
			{"/token/revocation", url.Values{"token": {rt}}},
			{"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}},
			{"/token", codeForm(code, verifier)},  // a replayed code
			{"/token", codeForm(fresh, verifier)}, // a code redeemed several times at once
			{"/token", codeForm(fresh, verifier)},
			{"/token", codeForm(fresh, verifier)},
			{"/token", codeForm(fresh, verifier)},
			{"/token/introspection", url.Values{"token": {at}}},
		} {
			wg.Go(func() {
				if status := serve(req.endpoint, req.form); status != http.StatusOK && status != http.StatusBadRequest {
					t.Errorf("%s: status %d", req.endpoint, status)
				}
			})
		}
		wg.Wait()
		if c.p.RefreshTokenActive(rt) {
			t.Error("revoked refresh token still active")
		}
	}
}
