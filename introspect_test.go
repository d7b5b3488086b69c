package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

func newIntrospectingAPI(t *testing.T) *api {
	return newAPI(t, oidcauthtest.Options{}, func(c *BearerConfig) {
		c.Introspection = &Introspection{ClientID: oidcauthtest.DefaultClientID, ClientSecret: "s3cr3t-client-value", CacheTTL: time.Minute}
	})
}

func TestIntrospectionAcceptsOpaqueToken(t *testing.T) {
	t.Parallel()
	a := newIntrospectingAPI(t)
	tok := a.token(oidcauthtest.AccessToken{Opaque: true, Scopes: []string{"write:data"}, TTL: 10 * time.Minute})
	for range 2 {
		w := a.call("POST", "/api/resource", bearerHeader(tok))
		wantAnswer(t, w, http.StatusOK, "")
		var got map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &got)
		if got["sub"] != "user-1" || got["client_id"] != oidcauthtest.DefaultClientID {
			t.Fatalf("body %s", w.Body.String())
		}
	}
	if n := a.idp.Calls("introspection"); n != 1 {
		t.Errorf("introspected %d times, want 1 (cached)", n)
	}
	// The answer is asked again after CacheTTL, and never reused past exp.
	a.clock.Advance(time.Minute)
	wantAnswer(t, a.call("GET", "/api/resource", bearerHeader(tok)), http.StatusOK, "")
	if n := a.idp.Calls("introspection"); n != 2 {
		t.Errorf("introspected %d times after CacheTTL, want 2", n)
	}
	a.clock.Advance(10 * time.Minute)
	wantAnswer(t, a.call("GET", "/api/resource", bearerHeader(tok)), http.StatusUnauthorized, invalidToken)
	// A JWT is still verified locally.
	wantAnswer(t, a.call("GET", "/api/resource", bearerHeader(a.token(oidcauthtest.AccessToken{}))), http.StatusOK, "")
	if n := a.idp.Calls("introspection"); n != 3 {
		t.Errorf("introspected %d times, want 3", n)
	}
}

func TestIntrospectionRefuses(t *testing.T) {
	t.Parallel()
	a := newIntrospectingAPI(t)
	unknown := "made-up-token-0123456789"
	wantAnswer(t, a.call("GET", "/api/resource", bearerHeader(unknown)), http.StatusUnauthorized, invalidToken)
	wantAnswer(t, a.call("GET", "/api/resource", bearerHeader(unknown)), http.StatusUnauthorized, invalidToken)
	if n := a.idp.Calls("introspection"); n != 1 {
		t.Errorf("an inactive token was introspected %d times, want 1 (cached)", n)
	}
	other := a.token(oidcauthtest.AccessToken{Opaque: true, Audience: "https://other.example.com"})
	wantAnswer(t, a.call("GET", "/api/resource", bearerHeader(other)), http.StatusUnauthorized, invalidToken)
	noScope := a.token(oidcauthtest.AccessToken{Opaque: true})
	wantAnswer(t, a.call("POST", "/api/resource", bearerHeader(noScope)), http.StatusForbidden, `Bearer error="insufficient_scope", scope="write:data"`)

	a.idp.Misbehave(oidcauthtest.Misbehavior{IntrospectionStatus: http.StatusInternalServerError})
	fresh := a.token(oidcauthtest.AccessToken{Opaque: true})
	wantAnswer(t, a.call("GET", "/api/resource", bearerHeader(fresh)), http.StatusServiceUnavailable, "")
}

// checkIntrospected refuses what a provider might call active but this
// API must not take.
func TestIntrospectionAnswerChecks(t *testing.T) {
	t.Parallel()
	b, err := NewBearer(BearerConfig{Issuer: "https://idp.example.com/oidc", Resource: testAPI})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	for _, tt := range []struct {
		name, answer string
		ok           bool
	}{
		{"plain", `{"active":true,"aud":"` + testAPI + `","sub":"u","client_id":"c"}`, true},
		{"machine", `{"active":true,"aud":["` + testAPI + `"],"client_id":"c","token_type":"Bearer"}`, true},
		{"nobody", `{"active":true,"aud":"` + testAPI + `"}`, false},
		{"no audience", `{"active":true,"sub":"u","client_id":"c"}`, false},
		{"refresh token", `{"active":true,"aud":"` + testAPI + `","sub":"u","token_type":"refresh_token"}`, false},
		{"DPoP-bound", `{"active":true,"aud":"` + testAPI + `","sub":"u","token_type":"DPoP"}`, false},
		{"cnf", `{"active":true,"aud":"` + testAPI + `","sub":"u","cnf":{"x5t#S256":"abc"}}`, false},
		{"other issuer", `{"active":true,"aud":"` + testAPI + `","sub":"u","iss":"https://evil.example.com"}`, false},
		{"expired", `{"active":true,"aud":"` + testAPI + `","sub":"u","exp":1}`, false},
	} {
		var ans introspectionAnswer
		if err := json.Unmarshal([]byte(tt.answer), &ans); err != nil {
			t.Fatal(err)
		}
		e, err := b.checkIntrospected(&ans, []byte(tt.answer), now)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok=%v", tt.name, err, tt.ok)
		}
		if tt.name == "machine" && e != nil && e.token.Subject != "c" {
			t.Errorf("machine token's subject %q, want its client", e.token.Subject)
		}
	}
}

// The wait for one of the eight introspection slots is bounded like the
// call itself, by the HTTP client's timeout: behind a hung introspection
// endpoint, further opaque tokens get 503 instead of waiting for as long
// as their clients do.
func TestIntrospectionSlotWaitBounded(t *testing.T) {
	t.Parallel()
	a := newAPI(t, oidcauthtest.Options{}, func(c *BearerConfig) {
		c.Introspection = &Introspection{ClientID: oidcauthtest.DefaultClientID, ClientSecret: "s3cr3t-client-value"}
		hc := *c.HTTPClient
		hc.Timeout = time.Nanosecond // the slots below are never freed: only the bound can end the wait
		c.HTTPClient = &hc
	})
	for range cap(a.bearer.intro.slots) {
		a.bearer.intro.slots <- struct{}{}
	}
	a.bearer.intro.endpoint = a.idp.Issuer() + "/token/introspection" // no discovery under a 1 ns timeout
	_, err := a.bearer.Verify(context.Background(), "made-up-opaque-token-0123456789")
	if !errors.Is(err, ErrProviderUnavailable) {
		t.Errorf("err = %v, want ErrProviderUnavailable", err)
	}
}
