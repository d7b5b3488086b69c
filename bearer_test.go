package oidcauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
	"golang.org/x/oauth2"
)

const testAPI = "https://api.example.com"

// api is a Bearer in front of two routes, with the provider that issues
// its tokens and the shared clock.
type api struct {
	t      *testing.T
	idp    *oidcauthtest.Provider
	bearer *Bearer
	clock  *clock
	mux    *http.ServeMux
	logs   *lockedBuffer
}

// principalEcho answers the principal the middleware put in the context.
var principalEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	tok, ok1 := BearerTokenFromContext(r.Context())
	u, ok2 := UserFromContext(r.Context())
	if !ok1 || !ok2 || u.Subject != tok.Subject {
		http.Error(w, "no principal in context", http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"sub": tok.Subject, "client_id": tok.ClientID, "scopes": tok.Scopes, "org": tok.OrganizationID})
})

func newAPI(t *testing.T, opts oidcauthtest.Options, mutate func(*BearerConfig)) *api {
	t.Helper()
	a := &api{t: t, clock: newClock(), logs: &lockedBuffer{}}
	opts.Now = a.clock.Now
	if opts.ClientSecret == "" {
		opts.ClientSecret = "s3cr3t-client-value"
	}
	a.idp = oidcauthtest.NewServer(t, opts)
	cfg := BearerConfig{
		Issuer:     a.idp.Issuer(),
		Resource:   testAPI,
		HTTPClient: a.idp.Client(),
		Now:        a.clock.Now,
		Logger:     slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := NewBearer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.bearer = b
	a.mux = http.NewServeMux()
	a.mux.Handle("GET /api/resource", b.RequireToken(principalEcho))
	a.mux.Handle("POST /api/resource", b.Require(Scope("write:data"))(principalEcho))
	return a
}

// token issues an access token for the API, failing the test on error.
func (a *api) token(t oidcauthtest.AccessToken) string {
	a.t.Helper()
	if t.Audience == "" {
		t.Audience = testAPI
	}
	tok, err := a.idp.IssueAccessToken(t)
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// call sends a request with header set and returns the recorder.
func (a *api) call(method, target string, header http.Header) *httptest.ResponseRecorder {
	a.t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	a.mux.ServeHTTP(w, r)
	return w
}

func bearerHeader(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// wantAnswer checks an RFC 6750 answer: status, WWW-Authenticate exactly,
// and a body that names no more than the error code.
func wantAnswer(t *testing.T, w *httptest.ResponseRecorder, status int, challenge string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %q", w.Code, status, w.Body.String())
	}
	if got := w.Header().Get("WWW-Authenticate"); got != challenge {
		t.Errorf("WWW-Authenticate %q, want %q", got, challenge)
	}
	if status >= 400 {
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body) != 1 || body["error"] == "" {
			t.Errorf("body %q: want only an error code", w.Body.String())
		}
	}
}

const invalidToken = `Bearer error="invalid_token"`

func TestBearerAcceptsAccessToken(t *testing.T) {
	t.Parallel()
	a := newAPI(t, oidcauthtest.Options{}, nil)
	tok := a.token(oidcauthtest.AccessToken{Scopes: []string{"read:data", "write:data"}})
	for _, method := range []string{"GET", "POST"} {
		w := a.call(method, "/api/resource", bearerHeader(tok))
		wantAnswer(t, w, http.StatusOK, "")
		var got struct {
			Sub      string   `json:"sub"`
			ClientID string   `json:"client_id"`
			Scopes   []string `json:"scopes"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &got)
		if got.Sub != "user-1" || got.ClientID != oidcauthtest.DefaultClientID || len(got.Scopes) != 2 {
			t.Errorf("%s: body %s", method, w.Body.String())
		}
		if cc := w.Header().Get("Cache-Control"); cc != "private, no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
	}
	// The scheme is case-insensitive (RFC 7235 §2.1).
	wantAnswer(t, a.call("GET", "/api/resource", http.Header{"Authorization": {"bearer " + tok}}), http.StatusOK, "")
	if n := a.idp.Calls("jwks"); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
}

// TestBearerHostile presents every token an attacker (or a confused
// client) might, and expects RFC 6750's answer to each.
func TestBearerHostile(t *testing.T) {
	t.Parallel()
	a := newAPI(t, oidcauthtest.Options{}, nil)
	other := oidcauthtest.NewServer(t, oidcauthtest.Options{})
	otherTok, err := other.IssueAccessToken(oidcauthtest.AccessToken{Audience: testAPI, Scopes: []string{"write:data"}})
	if err != nil {
		t.Fatal(err)
	}
	now := a.clock.Now()
	good := oidcauthtest.AccessToken{Scopes: []string{"write:data"}}
	with := func(mutate func(*oidcauthtest.AccessToken)) func() string {
		return func() string {
			tok := good
			mutate(&tok)
			return a.token(tok)
		}
	}
	misbehaving := func(m oidcauthtest.Misbehavior) func() string {
		return func() string {
			a.idp.Misbehave(m)
			defer a.idp.Misbehave(oidcauthtest.Misbehavior{})
			return a.token(good)
		}
	}
	claim := func(name string, v any) func() string {
		return with(func(t *oidcauthtest.AccessToken) { t.Claims = map[string]any{name: v} })
	}
	idToken := codeFlowIDToken(t, a.idp, "s3cr3t-client-value")
	tests := []struct {
		name      string
		method    string
		header    func() http.Header
		target    string
		status    int
		challenge string
	}{
		{"no token", "GET", func() http.Header { return nil }, "", 401, "Bearer"},
		{"another scheme", "GET", func() http.Header { return http.Header{"Authorization": {"Basic dXNlcjpwdw=="}} }, "", 401, "Bearer"},
		{"token in the query string", "GET", func() http.Header { return nil }, "?access_token=" + a.token(good), 401, "Bearer"},
		{"token in header and query", "GET", func() http.Header { return bearerHeader(a.token(good)) }, "?access_token=x", 400, `Bearer error="invalid_request"`},
		{"two Authorization headers", "GET", func() http.Header {
			return http.Header{"Authorization": {"Bearer " + a.token(good), "Bearer " + a.token(good)}}
		}, "", 400, `Bearer error="invalid_request"`},
		{"not a b64token", "GET", func() http.Header { return bearerHeader(`a"b`) }, "", 400, `Bearer error="invalid_request"`},
		{"empty token", "GET", func() http.Header { return http.Header{"Authorization": {"Bearer "}} }, "", 400, `Bearer error="invalid_request"`},
		{"oversized header", "GET", func() http.Header { return bearerHeader(strings.Repeat("A", maxBearerToken+1)) }, "", 401, invalidToken},
		{"wrong audience", "GET", header(with(func(t *oidcauthtest.AccessToken) { t.Audience = "https://other.example.com" })), "", 401, invalidToken},
		{"audience is the client", "GET", header(with(func(t *oidcauthtest.AccessToken) { t.Audience = oidcauthtest.DefaultClientID })), "", 401, invalidToken},
		{"another issuer's claim", "GET", header(claim("iss", "https://evil.example.com/oidc")), "", 401, invalidToken},
		{"another provider's token", "GET", func() http.Header { return bearerHeader(otherTok) }, "", 401, invalidToken},
		{"expired", "GET", header(with(func(t *oidcauthtest.AccessToken) { t.TTL = -2 * time.Minute })), "", 401, invalidToken},
		{"not yet valid", "GET", header(claim("nbf", now.Add(10*time.Minute).Unix())), "", 401, invalidToken},
		{"issued in the future", "GET", header(claim("iat", now.Add(10*time.Minute).Unix())), "", 401, invalidToken},
		{"no exp", "GET", header(claim("exp", nil)), "", 401, invalidToken},
		{"exp not a number", "GET", header(claim("exp", "tomorrow")), "", 401, invalidToken},
		{"no client_id", "GET", header(claim("client_id", nil)), "", 401, invalidToken},
		{"no sub", "GET", header(claim("sub", nil)), "", 401, invalidToken},
		{"sender-constrained (cnf)", "GET", header(claim("cnf", map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})), "", 401, invalidToken},
		{"alg none", "GET", header(misbehaving(oidcauthtest.Misbehavior{AlgNone: true})), "", 401, invalidToken},
		{"HS256 with the client secret", "GET", header(misbehaving(oidcauthtest.Misbehavior{HMACWithSecret: true})), "", 401, invalidToken},
		{"unpublished key", "GET", header(misbehaving(oidcauthtest.Misbehavior{SignWithUnknownKey: true})), "", 401, invalidToken},
		{"corrupt signature", "GET", header(misbehaving(oidcauthtest.Misbehavior{CorruptSignature: true})), "", 401, invalidToken},
		{"typ of an ID token", "GET", header(with(func(t *oidcauthtest.AccessToken) { t.Type = "JWT" })), "", 401, invalidToken},
		{"ID token as access token", "GET", func() http.Header { return bearerHeader(idToken) }, "", 401, invalidToken},
		{"organization token, organizations off", "GET", header(with(func(t *oidcauthtest.AccessToken) { t.Audience = "urn:logto:organization:org-1" })), "", 401, invalidToken},
		{"opaque token without introspection", "GET", header(with(func(t *oidcauthtest.AccessToken) { t.Opaque = true })), "", 401, invalidToken},
		{"two segments", "GET", func() http.Header { return bearerHeader("eyJ9.e30") }, "", 401, invalidToken},
		{"missing scope", "POST", header(with(func(t *oidcauthtest.AccessToken) { t.Scopes = []string{"read:data"} })), "", 403, `Bearer error="insufficient_scope", scope="write:data"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := a.call(tt.method, "/api/resource"+tt.target, tt.header())
			wantAnswer(t, w, tt.status, tt.challenge)
		})
	}
	// Only the token that verified (and lacked a scope) was cached, and
	// no log line holds a token.
	if n := a.bearer.cache.len(); n != 1 {
		t.Errorf("%d tokens cached, want 1", n)
	}
	if logs := a.logs.String(); strings.Contains(logs, "eyJ") {
		t.Errorf("a token reached the log:\n%s", logs)
	}
}

func header(tok func() string) func() http.Header {
	return func() http.Header { return bearerHeader(tok()) }
}

// codeFlowIDToken signs in at idp as its client would and returns the ID
// token, to present it where an access token belongs.
func codeFlowIDToken(t *testing.T, idp *oidcauthtest.Provider, secret string) string {
	t.Helper()
	hc := *idp.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	verifier := strings.Repeat("v", 43)
	q := url.Values{
		"client_id": {oidcauthtest.DefaultClientID}, "redirect_uri": {"https://app.example.com/callback"},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	resp, err := hc.Get(idp.Issuer() + "/auth?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"https://app.example.com/callback"}, "code_verifier": {verifier}}
	req, _ := http.NewRequest("POST", idp.Issuer()+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(oidcauthtest.DefaultClientID, secret)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.IDToken == "" {
		t.Fatalf("no ID token: %v", err)
	}
	return body.IDToken
}

func TestBearerExpiryCheckedOnCachedToken(t *testing.T) {
	t.Parallel()
	a := newAPI(t, oidcauthtest.Options{}, nil)
	tok := a.token(oidcauthtest.AccessToken{TTL: 10 * time.Minute})
	wantAnswer(t, a.call("GET", "/api/resource", bearerHeader(tok)), 200, "")
	if a.bearer.cache.len() != 1 {
		t.Fatal("verified token not cached")
	}
	a.clock.Advance(10*time.Minute + time.Minute - time.Second) // within the skew
	wantAnswer(t, a.call("GET", "/api/resource", bearerHeader(tok)), 200, "")
	a.clock.Advance(time.Second)
	wantAnswer(t, a.call("GET", "/api/resource", bearerHeader(tok)), 401, invalidToken)
	if a.bearer.cache.len() != 0 {
		t.Error("expired token still cached")
	}
}

func TestBearerProviderUnavailable(t *testing.T) {
	t.Parallel()
	a := newAPI(t, oidcauthtest.Options{}, nil)
	tok := a.token(oidcauthtest.AccessToken{})
	a.idp.Misbehave(oidcauthtest.Misbehavior{JWKSStatus: http.StatusInternalServerError})
	w := a.call("GET", "/api/resource", bearerHeader(tok))
	wantAnswer(t, w, http.StatusServiceUnavailable, "")
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	_, err := a.bearer.Verify(t.Context(), tok)
	if !errors.Is(err, ErrProviderUnavailable) {
		t.Errorf("Verify: %v, want ErrProviderUnavailable", err)
	}
}

func TestBearerRequirements(t *testing.T) {
	t.Parallel()
	a := newAPI(t, oidcauthtest.Options{}, func(c *BearerConfig) { c.Organizations = true })
	a.mux.Handle("GET /admin", a.bearer.Require(AnyRole("admin"))(principalEcho))
	a.mux.Handle("GET /orgs/org-1", a.bearer.Require(Organization("org-1"), Scope("read:data"))(principalEcho))
	a.mux.Handle("GET /orgs/org-1/admin", a.bearer.Require(OrganizationRole("org-1", "admin"))(principalEcho))
	a.mux.Handle("GET /verified", a.bearer.Require(Claim("email_verified", "true"))(principalEcho))
	tests := []struct {
		name, target string
		tok          oidcauthtest.AccessToken
		status       int
	}{
		{"role claim", "/admin", oidcauthtest.AccessToken{Claims: map[string]any{"roles": []string{"admin"}}}, 200},
		{"no role", "/admin", oidcauthtest.AccessToken{}, 403},
		{"organization token", "/orgs/org-1", oidcauthtest.AccessToken{Audience: "urn:logto:organization:org-1", Scopes: []string{"read:data"}}, 200},
		{"organization-level API token", "/orgs/org-1", oidcauthtest.AccessToken{OrganizationID: "org-1", Scopes: []string{"read:data"}}, 200},
		{"another organization", "/orgs/org-1", oidcauthtest.AccessToken{Audience: "urn:logto:organization:org-2", Scopes: []string{"read:data"}}, 403},
		{"no organization", "/orgs/org-1", oidcauthtest.AccessToken{Scopes: []string{"read:data"}}, 403},
		{"organization role claim", "/orgs/org-1/admin", oidcauthtest.AccessToken{Claims: map[string]any{"organization_roles": []string{"org-1:admin"}}}, 200},
		{"claim", "/verified", oidcauthtest.AccessToken{Claims: map[string]any{"email_verified": true}}, 200},
		{"claim false", "/verified", oidcauthtest.AccessToken{Claims: map[string]any{"email_verified": false}}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := a.call("GET", tt.target, bearerHeader(a.token(tt.tok)))
			challenge := ""
			if tt.status == 403 {
				challenge = `Bearer error="insufficient_scope"`
			}
			wantAnswer(t, w, tt.status, challenge)
		})
	}
	// An organization token whose organization_id claim names another
	// organization than its audience is refused outright.
	tok := a.token(oidcauthtest.AccessToken{Audience: "urn:logto:organization:org-1", OrganizationID: "org-2"})
	wantAnswer(t, a.call("GET", "/api/resource", bearerHeader(tok)), 401, invalidToken)
}

// TestBearerPrincipalIsolation: a handler changing its principal changes
// nothing the next request with the same token sees.
func TestBearerPrincipalIsolation(t *testing.T) {
	t.Parallel()
	a := newAPI(t, oidcauthtest.Options{}, nil)
	a.mux.Handle("GET /mutate", a.bearer.RequireToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFromContext(r.Context())
		tok, _ := BearerTokenFromContext(r.Context())
		io.WriteString(w, u.Subject)
		u.Subject = "someone-else"
		tok.Scopes = append(tok.Scopes, "admin")
	})))
	tok := a.token(oidcauthtest.AccessToken{Scopes: []string{"read:data"}})
	for range 2 {
		if w := a.call("GET", "/mutate", bearerHeader(tok)); w.Body.String() != "user-1" {
			t.Fatalf("body %q", w.Body.String())
		}
	}
	e := a.bearer.cache.get(tok, a.clock.Now().Unix())
	if len(e.token.Scopes) != 1 {
		t.Errorf("cached scopes changed: %v", e.token.Scopes)
	}
}

func TestBearerSharesAuthKeySet(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	b, err := f.auth.Bearer(BearerConfig{Resource: testAPI})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.idp.IssueAccessToken(oidcauthtest.AccessToken{Audience: testAPI})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Verify(t.Context(), tok)
	if err != nil || got.Subject != "user-1" {
		t.Fatalf("Verify: %v, %v", got, err)
	}
	f.signIn("/sign-in") // verifies an ID token with the same keys
	if n := f.idp.Calls("jwks"); n != 1 {
		t.Errorf("JWKS fetched %d times for an access token and an ID token, want 1", n)
	}
	if _, err := f.auth.Bearer(BearerConfig{Issuer: "https://other.example.com/oidc", Resource: testAPI}); err == nil {
		t.Error("Auth.Bearer accepted another issuer")
	}
}

func TestNewBearerRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]BearerConfig{
		"no issuer":       {Resource: testAPI},
		"http issuer":     {Issuer: "http://idp.example.com/oidc", Resource: testAPI},
		"no resource":     {Issuer: "https://idp.example.com/oidc"},
		"relative":        {Issuer: "https://idp.example.com/oidc", Resource: "api"},
		"fragment":        {Issuer: "https://idp.example.com/oidc", Resource: "https://api.example.com#x"},
		"HMAC":            {Issuer: "https://idp.example.com/oidc", Resource: testAPI, Algorithms: []string{"HS256"}},
		"none":            {Issuer: "https://idp.example.com/oidc", Resource: testAPI, Algorithms: []string{"none"}},
		"negative skew":   {Issuer: "https://idp.example.com/oidc", Resource: testAPI, ClockSkew: -time.Second},
		"introspection":   {Issuer: "https://idp.example.com/oidc", Resource: testAPI, Introspection: &Introspection{}},
		"http introspect": {Issuer: "https://idp.example.com/oidc", Resource: testAPI, Introspection: &Introspection{ClientID: "a", ClientSecret: "b", Endpoint: "http://idp.example.com/i"}},
	} {
		if _, err := NewBearer(cfg); err == nil {
			t.Errorf("%s: NewBearer accepted %+v", name, cfg)
		}
	}
	if _, err := NewBearer(BearerConfig{Issuer: "https://idp.example.com/oidc", Organizations: true}); err != nil {
		t.Errorf("organizations only: %v", err)
	}
}

func TestBearerLogsNoToken(t *testing.T) {
	t.Parallel()
	a := newAPI(t, oidcauthtest.Options{}, nil)
	tok := a.token(oidcauthtest.AccessToken{TTL: -time.Hour})
	a.call("GET", "/api/resource", bearerHeader(tok))
	logs := a.logs.String()
	if !strings.Contains(logs, "bearer_refused") || !strings.Contains(logs, "expired") {
		t.Errorf("log lacks the refusal and its reason:\n%s", logs)
	}
	if strings.Contains(logs, tok) || bytes.Contains([]byte(logs), []byte(strings.Split(tok, ".")[2])) {
		t.Error("the token reached the log")
	}
}

// Concurrent requests with the same and with different tokens share the
// cache safely (run under -race), each with its own principal.
func TestBearerConcurrent(t *testing.T) {
	t.Parallel()
	a := newAPI(t, oidcauthtest.Options{}, func(c *BearerConfig) { c.CacheSize = 4 })
	toks := make([]string, 8)
	for i := range toks {
		toks[i] = a.token(oidcauthtest.AccessToken{Subject: fmt.Sprintf("user-%d", i), Scopes: []string{"write:data"}})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				k := (g + i) % len(toks)
				w := a.call("POST", "/api/resource", bearerHeader(toks[k]))
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), fmt.Sprintf(`"sub":"user-%d"`, k)) {
					t.Errorf("token %d: %d %s", k, w.Code, w.Body.String())
					return
				}
			}
		})
	}
	wg.Wait()
	if n := a.bearer.cache.len(); n > len(toks) {
		t.Errorf("%d cached, more than the tokens seen", n)
	}
}
