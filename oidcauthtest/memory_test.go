package oidcauthtest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A long-running provider forgets what can no longer be used and holds
// each kind of grant to MaxGrants, however many sign-ins it serves.
func TestMemoryBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	p, err := New("https://idp.example.com/oidc", Options{ClientSecret: "s", MaxGrants: 300, Now: clock, AccessTokenTTL: time.Minute, SigningAlg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	var refresh []string
	for i := range 1500 {
		code := authorizeForCode(t, p)
		rt := redeem(t, p, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {"https://app.example.com/cb"}})
		if i%4 == 0 {
			// Some sessions refresh: the rotated token is kept for the
			// replay window only.
			rt = redeem(t, p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		}
		refresh = append(refresh, rt)
		now = now.Add(time.Second)
	}
	codes, access, refreshes := p.Grants()
	if codes > 300+sweepEvery || access > 300+sweepEvery || refreshes > 300+sweepEvery {
		t.Errorf("remembered %d codes, %d access tokens, %d refresh tokens; want at most %d each", codes, access, refreshes, 300+sweepEvery)
	}
	// The newest sessions still refresh; the oldest were forgotten.
	if !p.RefreshTokenActive(refresh[len(refresh)-1]) || p.RefreshTokenActive(refresh[0]) {
		t.Error("the newest refresh token was forgotten, or the oldest kept")
	}
	// Expiry drops the rest at the next sweep.
	now = now.Add(15 * 24 * time.Hour)
	p.mu.Lock()
	p.sweep(now)
	p.mu.Unlock()
	if c, a, r := p.Grants(); c+a+r != 0 {
		t.Errorf("after expiry: %d codes, %d access tokens, %d refresh tokens", c, a, r)
	}
}

// authorizeForCode runs an authorization request and returns the code.
func authorizeForCode(t *testing.T, p *Provider) string {
	t.Helper()
	q := url.Values{"client_id": {DefaultClientID}, "redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"},
		"scope": {"openid offline_access"}, "state": {"s"}, "nonce": {"n"}, "code_challenge_method": {"S256"},
		"code_challenge": {b64.EncodeToString(s256(verifier))}}
	rec := record(p, httptestRequest("GET", "https://idp.example.com/oidc/auth?"+q.Encode(), ""))
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	return loc.Query().Get("code")
}

// redeem posts a token request and returns the refresh token issued.
func redeem(t *testing.T, p *Provider, form url.Values) string {
	t.Helper()
	form.Set("client_id", DefaultClientID)
	form.Set("client_secret", "s")
	r := httptestRequest("POST", "https://idp.example.com/oidc/token", form.Encode())
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := record(p, r)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "refresh_token") {
		t.Fatalf("token: %d %s", rec.Code, rec.Body.String())
	}
	_, rest, _ := strings.Cut(rec.Body.String(), `"refresh_token":"`)
	rt, _, _ := strings.Cut(rest, `"`)
	return rt
}

func httptestRequest(method, target, body string) *http.Request {
	return httptest.NewRequest(method, target, strings.NewReader(body))
}

func record(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// The GitHub-like provider forgets too: expired codes and assertion ids,
// and all but the newest access and refresh tokens (GitHub's do not
// expire).
func TestOAuth2MemoryBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p, err := NewOAuth2("https://gh.example.com", OAuth2Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range defaultMaxGrants + 500 {
		k := strconv.Itoa(i)
		p.access[k] = now.Add(time.Duration(i) * time.Second)
		p.refresh[k] = now.Add(time.Duration(i) * time.Second)
		p.jtis[k] = now.Add(-time.Second)
		p.codes[k] = oauth2Code{expires: now.Add(-time.Second)}
	}
	p.writes = sweepEvery - 1
	p.recorded()
	if len(p.access) != defaultMaxGrants || len(p.refresh) != defaultMaxGrants || len(p.jtis) != 0 || len(p.codes) != 0 {
		t.Errorf("kept %d access, %d refresh tokens, %d jtis, %d codes", len(p.access), len(p.refresh), len(p.jtis), len(p.codes))
	}
	if _, ok := p.access["0"]; ok {
		t.Error("the oldest access token was kept")
	}
}
