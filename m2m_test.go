package oidcauth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
	"golang.org/x/oauth2"
)

// newM2M returns a client credentials source for testAPI at a provider
// that defines its scopes, on a shared clock.
func newM2M(t *testing.T, mutate func(*ClientCredentialsConfig)) (*ClientCredentials, *oidcauthtest.Provider, *clock) {
	t.Helper()
	c := newClock()
	idp := oidcauthtest.NewServer(t, oidcauthtest.Options{
		ClientSecret:   "m2m-secret",
		Now:            c.Now,
		AccessTokenTTL: 10 * time.Minute,
		APIResources:   map[string][]string{testAPI: {"read:data", "write:data"}},
	})
	cfg := ClientCredentialsConfig{
		Issuer:       idp.Issuer(),
		ClientID:     oidcauthtest.DefaultClientID,
		ClientSecret: "m2m-secret",
		Resource:     testAPI,
		Scopes:       []string{"write:data", "not:defined"},
		HTTPClient:   idp.Client(),
		Now:          c.Now,
		Logger:       slog.New(slog.DiscardHandler),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m2m, err := NewClientCredentials(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m2m, idp, c
}

func TestClientCredentialsRequest(t *testing.T) {
	t.Parallel()
	m2m, idp, _ := newM2M(t, func(c *ClientCredentialsConfig) { c.OrganizationID = "org-1" })
	tok, err := m2m.TokenContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := idp.LastTokenRequest()
	for k, want := range map[string]string{
		"grant_type": "client_credentials", "resource": testAPI, "scope": "write:data not:defined",
		"organization_id": "org-1", "client_auth": "client_secret_basic",
	} {
		if got.Get(k) != want {
			t.Errorf("token request %s = %q, want %q", k, got.Get(k), want)
		}
	}
	if got.Has("client_secret") {
		t.Error("secret sent in the body as well")
	}
	// The token is one an API with this resource accepts: the client is
	// its subject, the resource's scopes it asked for are granted.
	b, err := NewBearer(BearerConfig{Issuer: idp.Issuer(), Resource: testAPI, HTTPClient: idp.Client()})
	if err != nil {
		t.Fatal(err)
	}
	bt, err := b.Verify(t.Context(), tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if bt.Subject != oidcauthtest.DefaultClientID || bt.ClientID != oidcauthtest.DefaultClientID || !bt.HasScope("write:data") || bt.HasScope("not:defined") || bt.OrganizationID != "org-1" {
		t.Errorf("token grants %+v", bt)
	}
}

// TestClientCredentialsConcurrent: many callers at once cause one token
// request; the token is reused until EarlyExpiry before it expires.
func TestClientCredentialsConcurrent(t *testing.T) {
	t.Parallel()
	m2m, idp, c := newM2M(t, nil)
	idp.Misbehave(oidcauthtest.Misbehavior{TokenDelay: 50 * time.Millisecond}) // keeps the request in flight while all callers arrive
	var wg sync.WaitGroup
	toks := make([]string, 64)
	for i := range toks {
		wg.Go(func() {
			tok, err := m2m.Token()
			if err != nil {
				t.Error(err)
				return
			}
			toks[i] = tok.AccessToken
		})
	}
	wg.Wait()
	idp.Misbehave(oidcauthtest.Misbehavior{})
	if n := idp.Calls("token"); n != 1 {
		t.Fatalf("%d token requests for %d concurrent callers, want 1", n, len(toks))
	}
	for _, tok := range toks {
		if tok != toks[0] {
			t.Fatal("callers got different tokens")
		}
	}
	c.Advance(10*time.Minute - 31*time.Second)
	if tok, _ := m2m.Token(); tok.AccessToken != toks[0] || idp.Calls("token") != 1 {
		t.Error("token replaced before EarlyExpiry")
	}
	c.Advance(2 * time.Second)
	if tok, _ := m2m.Token(); tok.AccessToken == toks[0] || idp.Calls("token") != 2 {
		t.Error("token not replaced within EarlyExpiry of its expiry")
	}
}

func TestClientCredentialsFailures(t *testing.T) {
	t.Parallel()
	m2m, idp, _ := newM2M(t, func(c *ClientCredentialsConfig) { c.ClientSecret = "wrong" })
	_, err := m2m.Token()
	var pe *ProviderError
	if !errors.Is(err, ErrTokenEndpoint) || !errors.As(err, &pe) || pe.Code != "invalid_client" {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := m2m.Token(); err == nil || idp.Calls("token") != 2 {
		t.Error("a failure was cached")
	}

	// A token endpoint failing while the current token is only within
	// EarlyExpiry: the current token serves until it expires.
	m2m, idp, c := newM2M(t, nil)
	first, err := m2m.Token()
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(10*time.Minute - 10*time.Second)
	idp.Misbehave(oidcauthtest.Misbehavior{TokenStatus: http.StatusServiceUnavailable})
	if tok, err := m2m.Token(); err != nil || tok.AccessToken != first.AccessToken {
		t.Fatalf("within EarlyExpiry, failing endpoint: %v", err)
	}
	c.Advance(10 * time.Second)
	if _, err := m2m.Token(); !errors.Is(err, ErrTokenEndpoint) {
		t.Errorf("expired token handed out: %v", err)
	}

	// A caller that gives up gets its context's error; the request goes on.
	idp.Misbehave(oidcauthtest.Misbehavior{TokenDelay: time.Second})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m2m.TokenContext(ctx); !errors.Is(err, ctx.Err()) {
		t.Errorf("cancelled caller: %v", err)
	}
}

func TestClientCredentialsClient(t *testing.T) {
	t.Parallel()
	m2m, idp, c := newM2M(t, nil)
	b, err := NewBearer(BearerConfig{Issuer: idp.Issuer(), Resource: testAPI, HTTPClient: idp.Client(), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(b.Require(Scope("write:data"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFromContext(r.Context())
		io.WriteString(w, "hello "+u.Subject)
	})))
	defer api.Close()
	hc := m2m.Client(t.Context())
	for i := range 4 {
		if i == 3 {
			// Within EarlyExpiry of the 10-minute token: the client asks
			// for a new one (no second cache with a rule of its own).
			c.Advance(10*time.Minute - 20*time.Second)
		}
		resp, err := hc.Get(api.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello "+oidcauthtest.DefaultClientID {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	if n := idp.Calls("token"); n != 2 {
		t.Errorf("%d token requests for 4 API calls, the last within EarlyExpiry, want 2", n)
	}
	var _ oauth2.TokenSource = m2m
}

func TestNewClientCredentialsRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]ClientCredentialsConfig{
		"no endpoint":  {ClientID: "a", ClientSecret: "b"},
		"both":         {Issuer: "https://idp.example.com/oidc", TokenURL: "https://idp.example.com/oidc/token", ClientID: "a", ClientSecret: "b"},
		"http":         {TokenURL: "http://idp.example.com/token", ClientID: "a", ClientSecret: "b"},
		"no secret":    {Issuer: "https://idp.example.com/oidc", ClientID: "a"},
		"bad resource": {Issuer: "https://idp.example.com/oidc", ClientID: "a", ClientSecret: "b", Resource: "api"},
	} {
		if _, err := NewClientCredentials(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
