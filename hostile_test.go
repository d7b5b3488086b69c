package oidcauth

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// endpoints are the provider endpoints a callback may reach.
var endpoints = []string{"discovery", "authorize", "token", "userinfo", "jwks"}

// calls is a snapshot of the provider's call counters.
func (f *flow) calls() map[string]int {
	out := map[string]int{}
	for _, e := range endpoints {
		out[e] = f.idp.Calls(e)
	}
	return out
}

// freshBrowser drops every cookie, as if another browser came along.
func (f *flow) freshBrowser() {
	f.jar, _ = cookiejar.New(nil)
	f.client.Jar = f.jar
}

// wantNoSession checks a failed callback's response and the browser after
// it: no session cookie written, no way into a protected page.
func (f *flow) wantNoSession(t *testing.T, resp *http.Response) {
	t.Helper()
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, f.auth.sessionCookie) && !strings.HasPrefix(c.Name, f.auth.txPrefix) && c.Value != "" && c.MaxAge >= 0 {
			t.Errorf("the failed callback set session cookie %s", c.Name)
		}
	}
	if f.signedIn() {
		t.Error("signed in after the failure")
	}
}

// hostileCase is one way a provider (or an attacker in the middle of the
// redirect) misbehaves during a sign-in.
type hostileCase struct {
	name string
	m    oidcauthtest.Misbehavior
	// cold skips the warm-up sign-in, so discovery and the JWKS are
	// fetched during the case itself.
	cold bool
	// setup runs after the warm-up, before the sign-in.
	setup func(f *flow)
	cfg   func(*Config)
	// visit delivers the provider's redirect to the callback; default: this
	// browser follows it as is.
	visit  func(f *flow, cb *url.URL) *http.Response
	status int
	// pendingKept: the failure leaves this browser's real sign-in pending.
	pendingKept bool
	// calls is how many requests each endpoint got from the case's
	// callback (or, when sign-in itself fails, from the sign-in): every
	// endpoint not listed must get none, which proves that nothing was
	// called after the first failed check.
	calls map[string]int
}

func withQuery(cb *url.URL, edit func(url.Values)) string {
	q := cb.Query()
	edit(q)
	u := *cb
	u.RawQuery = q.Encode()
	return u.String()
}

func claims(edit func(c map[string]any)) oidcauthtest.Misbehavior {
	return oidcauthtest.Misbehavior{IDTokenClaims: edit}
}

// The hostile-provider table: every case answers its exact status, leaves
// no session, and reaches no endpoint after the first check that failed.
// Userinfo is configured, so a check that let a bad token through would
// show up as a userinfo call.
func TestHostileProvider(t *testing.T) {
	t.Parallel()
	tokenOnly := map[string]int{"token": 1}
	nothing := map[string]int{}
	signedIn := map[string]int{"token": 1, "userinfo": 1}
	for _, tc := range []hostileCase{
		// Signatures and keys.
		{name: "invalid signature", m: oidcauthtest.Misbehavior{CorruptSignature: true}, status: 502, calls: tokenOnly},
		{name: "alg none", m: oidcauthtest.Misbehavior{AlgNone: true}, status: 502, calls: tokenOnly},
		{name: "HMAC while the provider advertises RSA", m: oidcauthtest.Misbehavior{HMACWithSecret: true}, status: 502, calls: tokenOnly},
		{name: "HMAC advertised too", m: oidcauthtest.Misbehavior{HMACWithSecret: true, DiscoveryFields: map[string]any{
			"id_token_signing_alg_values_supported": []string{"RS256", "HS256"}}}, cold: true, status: 502,
			calls: map[string]int{"discovery": 1, "authorize": 1, "token": 1}},
		{name: "unknown kid: one refetch, then reject", m: oidcauthtest.Misbehavior{SignWithUnknownKey: true}, status: 502,
			calls: map[string]int{"token": 1, "jwks": 1}},
		{name: "kid absent, one key", m: oidcauthtest.Misbehavior{OmitKeyID: true}, status: 303, calls: signedIn},
		{name: "kid absent, several keys", m: oidcauthtest.Misbehavior{OmitKeyID: true}, setup: rotate, status: 303,
			calls: map[string]int{"token": 1, "userinfo": 1, "jwks": 1}},
		{name: "kid absent, signed by a key nobody publishes", m: oidcauthtest.Misbehavior{OmitKeyID: true, SignWithUnknownKey: true}, status: 502,
			calls: map[string]int{"token": 1, "jwks": 1}},
		{name: "signing key rotated between sign-ins", setup: rotate, status: 303,
			calls: map[string]int{"token": 1, "userinfo": 1, "jwks": 1}},
		{name: "JWKS with an unparseable extra key", cold: true, m: oidcauthtest.Misbehavior{JWKSExtraKeys: []map[string]any{
			{"kty": "RSA", "kid": "broken", "n": "%%%", "e": "AQAB"},
			{"kty": "EC", "kid": "off-curve", "crv": "P-256", "x": strings.Repeat("A", 43), "y": strings.Repeat("A", 43)},
			{"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
			{"kty": "OKP", "kid": "x448", "crv": "X448", "x": "AAAA"},
		}}, status: 303, calls: map[string]int{"discovery": 1, "authorize": 1, "token": 1, "userinfo": 1, "jwks": 1}},

		// ID token claims (OIDC Core §3.1.3.7).
		{name: "wrong iss", m: claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), status: 502, calls: tokenOnly},
		{name: "wrong aud", m: claims(func(c map[string]any) { c["aud"] = "other-client" }), status: 502, calls: tokenOnly},
		{name: "missing aud", m: claims(func(c map[string]any) { delete(c, "aud") }), status: 502, calls: tokenOnly},
		{name: "several aud, no azp", m: claims(func(c map[string]any) { c["aud"] = []string{"test-client", "other"} }), status: 502, calls: tokenOnly},
		{name: "several aud, foreign azp", m: claims(func(c map[string]any) {
			c["aud"], c["azp"] = []string{"test-client", "other"}, "other"
		}), status: 502, calls: tokenOnly},
		{name: "one aud, foreign azp", m: claims(func(c map[string]any) { c["azp"] = "other" }), status: 502, calls: tokenOnly},
		{name: "several aud, azp us", m: claims(func(c map[string]any) {
			c["aud"], c["azp"] = []string{"test-client", "other"}, "test-client"
		}), status: 303, calls: signedIn},
		{name: "expired", m: claims(func(c map[string]any) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() }), status: 502, calls: tokenOnly},
		{name: "missing exp", m: claims(func(c map[string]any) { delete(c, "exp") }), status: 502, calls: tokenOnly},
		{name: "missing iat", m: claims(func(c map[string]any) { delete(c, "iat") }), status: 502, calls: tokenOnly},
		{name: "iat in the future", m: claims(func(c map[string]any) { c["iat"] = time.Now().Add(10 * time.Minute).Unix() }), status: 502, calls: tokenOnly},
		{name: "iat before the sign-in began", m: claims(func(c map[string]any) { c["iat"] = time.Now().Add(-time.Hour).Unix() }), status: 502, calls: tokenOnly},
		{name: "missing sub", m: claims(func(c map[string]any) { delete(c, "sub") }), status: 502, calls: tokenOnly},
		{name: "sub over 255 characters", m: claims(func(c map[string]any) { c["sub"] = strings.Repeat("a", 256) }), status: 502, calls: tokenOnly},
		{name: "missing nonce", m: claims(func(c map[string]any) { delete(c, "nonce") }), status: 502, calls: tokenOnly},
		{name: "wrong nonce", m: claims(func(c map[string]any) { c["nonce"] = "other" }), status: 502, calls: tokenOnly},
		{name: "wrong at_hash", m: oidcauthtest.Misbehavior{WrongAtHash: true}, status: 502, calls: tokenOnly},
		{name: "no id_token in the token response", m: oidcauthtest.Misbehavior{OmitIDToken: true}, status: 502, calls: tokenOnly},

		// The token endpoint.
		{name: "token endpoint 400", m: oidcauthtest.Misbehavior{TokenStatus: 400}, status: 400, calls: tokenOnly},
		{name: "token endpoint 401, a secret in its text", m: oidcauthtest.Misbehavior{TokenStatus: 401,
			TokenBody: `{"error":"invalid_client","error_description":"secret s3cr3t-client-value wrong"}`}, status: 502, calls: tokenOnly},
		{name: "token endpoint 500", m: oidcauthtest.Misbehavior{TokenStatus: 500, TokenBody: "oops"}, status: 502, calls: tokenOnly},
		{name: "token endpoint HTML", m: oidcauthtest.Misbehavior{TokenStatus: 200, TokenBody: "<html>hello</html>", TokenContentType: "text/html"}, status: 502, calls: tokenOnly},
		{name: "token endpoint slow", m: oidcauthtest.Misbehavior{TokenDelay: 5 * time.Second}, cfg: func(c *Config) {
			c.HTTPClient = &http.Client{Transport: c.HTTPClient.Transport, Timeout: 300 * time.Millisecond}
		}, status: 502, calls: tokenOnly},

		// Userinfo and discovery.
		{name: "userinfo for another subject", m: oidcauthtest.Misbehavior{UserInfoSubject: "someone-else"}, status: 502, calls: signedIn},
		{name: "userinfo failing", m: oidcauthtest.Misbehavior{UserInfoStatus: 500}, status: 502, calls: signedIn},
		{name: "discovery names another issuer", m: oidcauthtest.Misbehavior{DiscoveryIssuer: "https://evil.example"}, cold: true, status: 503,
			calls: map[string]int{"discovery": 1}},

		// The authorization response (RFC 9207, RFC 6749 §4.1.2).
		{name: "authorization error access_denied", m: oidcauthtest.Misbehavior{AuthorizeError: "access_denied"}, status: 403, calls: nothing},
		{name: "authorization error server_error", m: oidcauthtest.Misbehavior{AuthorizeError: "server_error"}, status: 502, calls: nothing},
		{name: "authorization error temporarily_unavailable", m: oidcauthtest.Misbehavior{AuthorizeError: "temporarily_unavailable"}, status: 503, calls: nothing},
		{name: "iss parameter wrong", m: oidcauthtest.Misbehavior{IssParameter: "https://evil.example"}, status: 400, calls: nothing},
		{name: "authorization error from another issuer", m: oidcauthtest.Misbehavior{AuthorizeError: "access_denied", IssParameter: "https://evil.example"}, status: 400, calls: nothing},
		{name: "iss parameter missing while advertised", m: oidcauthtest.Misbehavior{OmitIssParameter: true}, status: 400, calls: nothing},
		{name: "iss parameter missing, not advertised", cold: true, m: oidcauthtest.Misbehavior{OmitIssParameter: true,
			DiscoveryFields: map[string]any{"authorization_response_iss_parameter_supported": nil}}, status: 303,
			calls: map[string]int{"discovery": 1, "authorize": 1, "token": 1, "userinfo": 1, "jwks": 1}},
		{name: "iss parameter wrong, not advertised", cold: true, m: oidcauthtest.Misbehavior{IssParameter: "https://evil.example",
			DiscoveryFields: map[string]any{"authorization_response_iss_parameter_supported": nil}}, status: 400,
			calls: map[string]int{"discovery": 1, "authorize": 1}},
		{name: "state missing", visit: func(f *flow, cb *url.URL) *http.Response {
			return f.get(withQuery(cb, func(q url.Values) { q.Del("state") }))
		}, status: 400, pendingKept: true, calls: nothing},
		{name: "state wrong", visit: func(f *flow, cb *url.URL) *http.Response {
			return f.get(withQuery(cb, func(q url.Values) { q.Set("state", strings.Repeat("A", 43)) }))
		}, status: 400, pendingKept: true, calls: nothing},
		{name: "state replayed", visit: func(f *flow, cb *url.URL) *http.Response {
			wantStatus(f.t, f.get(cb.String()), http.StatusSeeOther) // the real use
			f.freshBrowserKeepingTransactions()
			return f.get(cb.String())
		}, status: 400, calls: signedIn},
		{name: "state from another browser", visit: func(f *flow, cb *url.URL) *http.Response {
			f.freshBrowser()
			return f.get(cb.String())
		}, status: 400, calls: nothing},
		{name: "code and error together", visit: func(f *flow, cb *url.URL) *http.Response {
			return f.get(withQuery(cb, func(q url.Values) { q.Set("error", "access_denied") }))
		}, status: 400, calls: nothing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own provider, app and clock
			runHostile(t, tc)
		})
	}
}

func rotate(f *flow) {
	if err := f.idp.RotateKey(); err != nil {
		f.t.Fatal(err)
	}
}

// freshBrowserKeepingTransactions drops the session cookie only, so a
// replay is judged on its state alone.
func (f *flow) freshBrowserKeepingTransactions() {
	u, _ := url.Parse(f.app.URL)
	f.jar.SetCookies(u, []*http.Cookie{{Name: f.auth.sessionCookie, Path: "/", MaxAge: -1}})
}

func runHostile(t *testing.T, tc hostileCase) {
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) {
		c.UserInfo = UserInfoAlways
		if tc.cfg != nil {
			tc.cfg(c)
		}
	})
	if !tc.cold {
		// Warm up: discovery and the JWKS are cached, as in a running app;
		// then a new browser signs in.
		wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
		f.freshBrowser()
	}
	if tc.setup != nil {
		tc.setup(f)
	}
	f.idp.Misbehave(tc.m)
	before := f.calls()
	resp := f.get("/sign-in")
	cb := &url.URL{}
	if resp.StatusCode == http.StatusSeeOther {
		resp = f.get(location(t, resp).String())
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("provider authorize: status %d", resp.StatusCode)
		}
		cb = location(t, resp)
		if !tc.cold {
			before = f.calls() // from the callback on
		}
		if tc.visit != nil {
			resp = tc.visit(f, cb)
		} else {
			resp = f.get(cb.String())
		}
	}
	if resp.StatusCode != tc.status {
		t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
	}
	after := f.calls()
	for _, e := range endpoints {
		if got := after[e] - before[e]; got != tc.calls[e] {
			t.Errorf("%s called %d times, want %d", e, got, tc.calls[e])
		}
	}
	if tc.status == http.StatusSeeOther {
		if !f.signedIn() {
			t.Error("not signed in")
		}
		return
	}
	f.wantNoSession(t, resp)
	if tc.pendingKept {
		// A forged callback must not cancel the real sign-in in progress.
		if f.txCookies() != 1 {
			t.Fatalf("%d pending sign-ins, want the genuine one kept", f.txCookies())
		}
		wantStatus(t, f.get(cb.String()), http.StatusSeeOther)
		return
	}
	f.assertFailedCleanly(t, resp, body(t, resp), cb)
}
