package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

// The provider's API resources (provider.js), both in the app's
// OIDC_RESOURCES (scripts/e2e.sh). Tokens for the second live
// E2E_SHORT_TOKEN_TTL seconds (35 by default).
const (
	apiResource      = "https://api.example.com"
	shortAPIResource = "https://short-lived.api.example.com"
)

// tokenLeeway is how long before expiry oidcauth refreshes a token
// (tokens.go): a token is reused only while it has longer than that left.
const tokenLeeway = 30 * time.Second

// apiToken is what the app's /api/token shows of an access token: its
// format and, for a JWT, its claims (api_test.go uses the token itself,
// which the answer carries for an API resource).
type apiToken struct {
	resource, format string
	claims           map[string]any
}

func (a apiToken) jti() string { s, _ := a.claims["jti"].(string); return s }
func (a apiToken) sub() string { s, _ := a.claims["sub"].(string); return s }

// unix reads a NumericDate claim (JSON numbers decode as float64).
func (a apiToken) unix(claim string) time.Time {
	f, _ := a.claims[claim].(float64)
	return time.Unix(int64(f), 0)
}

// audiences reads aud, a string or an array of strings.
func (a apiToken) audiences() []string { return stringOrList(a.claims["aud"]) }

// accessToken asks the app for its access token for resource ("" for the
// sign-in's own) the way the app's own script would: a fetch from the
// page, with the page's cookies.
func (p *page) accessToken(resource string) apiToken {
	p.t.Helper()
	path := "/api/token"
	if resource != "" {
		path += "?resource=" + url.QueryEscape(resource)
	}
	status, body := p.fetchJSON(path)
	if status != http.StatusOK {
		p.t.Fatalf("%s answered %d %v, want 200", path, status, body)
	}
	tok := apiToken{}
	tok.resource, _ = body["resource"].(string)
	tok.format, _ = body["format"].(string)
	tok.claims, _ = body["claims"].(map[string]any)
	if tok.resource != resource {
		p.t.Errorf("%s names resource %q, want %q", path, tok.resource, resource)
	}
	return tok
}

// jwtFor asserts tok is a JWT for resource, issued to sub by the provider
// for this app, and answers how long it was issued for.
func jwtFor(t *testing.T, tok apiToken, resource, sub string) time.Duration {
	t.Helper()
	if tok.format != "jwt" {
		t.Fatalf("the token for %s is %q, want a JWT (claims %v)", resource, tok.format, tok.claims)
	}
	if aud := tok.audiences(); len(aud) != 1 || aud[0] != resource {
		t.Errorf("the token for %s has aud %v, want exactly that API", resource, aud)
	}
	if tok.sub() != sub {
		t.Errorf("the token for %s has sub %q, want %q", resource, tok.sub(), sub)
	}
	if iss, _ := tok.claims["iss"].(string); iss != env.issuer {
		t.Errorf("the token for %s has iss %q, want %q", resource, iss, env.issuer)
	}
	if client, _ := tok.claims["client_id"].(string); client != clientID {
		t.Errorf("the token for %s was issued to client %q, want %q", resource, client, clientID)
	}
	if tok.jti() == "" {
		t.Errorf("the token for %s has no jti", resource)
	}
	return tok.unix("exp").Sub(tok.unix("iat"))
}

// grants answers the refresh_token grants among token requests.
func grants(tokens []providerRequest) []providerRequest {
	var out []providerRequest
	for _, r := range tokens {
		if r.GrantType == "refresh_token" {
			out = append(out, r)
		}
	}
	return out
}

// refreshChain asserts that tokens, the token requests of one session from
// its code exchange on, all succeeded and that each refresh presented the
// refresh token the request before it was issued: the rotating refresh
// token was spent once, never again (a reuse would be invalid_grant).
func refreshChain(t *testing.T, tokens []providerRequest) {
	t.Helper()
	if len(tokens) == 0 || tokens[0].GrantType != "authorization_code" {
		t.Fatalf("token requests = %+v, want the code exchange first", tokens)
	}
	spent := map[string]bool{}
	for i, r := range tokens {
		if r.Status != http.StatusOK {
			t.Errorf("token request %d (%s) answered %d, want 200", i, r.GrantType, r.Status)
		}
		if r.IssuedRefreshToken == "" {
			t.Errorf("token request %d (%s) issued no refresh token", i, r.GrantType)
		}
		if i == 0 {
			continue
		}
		if r.GrantType != "refresh_token" || !r.HasRefreshToken {
			t.Errorf("token request %d = %+v, want a refresh_token grant", i, r)
			continue
		}
		if r.RefreshToken != tokens[i-1].IssuedRefreshToken {
			t.Errorf("refresh %d presented refresh token %s, want %s, the one the request before it issued", i, r.RefreshToken, tokens[i-1].IssuedRefreshToken)
		}
		if spent[r.RefreshToken] {
			t.Errorf("refresh %d presented refresh token %s a second time", i, r.RefreshToken)
		}
		spent[r.RefreshToken] = true
	}
}

// signInForTokens signs a new browser in as ada and answers the tab with
// how many token requests the provider had had before.
func signInForTokens(t *testing.T) (*page, int) {
	t.Helper()
	p := newPage(t)
	before := len(received(t, "tokens"))
	seen := len(received(t, "authorizations"))
	p.goTo("/profile")
	p.signInAtProvider("ada")
	p.landedSignedIn(signedIn{name: "Ada Lovelace", sub: "ada", email: "ada@example.com (verified)", issuer: env.issuer})

	// The sign-in asked for both APIs (RFC 8707), or the provider would
	// refuse their tokens later.
	auths := receivedSince(t, "authorizations", seen)
	if len(auths) != 1 {
		t.Fatalf("the sign-in made %d authorization requests, want 1", len(auths))
	}
	if res := auths[0].resources(); !slices.Contains(res, apiResource) || !slices.Contains(res, shortAPIResource) {
		t.Errorf("the authorization request's resource = %v, want %s and %s", res, apiResource, shortAPIResource)
	}
	return p, before
}

// After sign-in, the app gets a JWT for the API by one refresh grant
// naming it, and serves the next request from its cache.
func TestAccessTokenForAPIResource(t *testing.T) {
	p, before := signInForTokens(t)

	// The code exchange gave an opaque token (for userinfo), as Logto does.
	if own := p.accessToken(""); own.format != "opaque" || own.claims != nil {
		t.Errorf("the sign-in's own token is %q with claims %v, want opaque", own.format, own.claims)
	}
	if tokens := receivedSince(t, "tokens", before); len(tokens) != 1 {
		t.Fatalf("after sign-in and the sign-in's own token the provider had %d token requests, want the code exchange only: %+v", len(tokens), tokens)
	}

	first := p.accessToken(apiResource)
	if lifetime := jwtFor(t, first, apiResource, "ada"); lifetime <= tokenLeeway {
		t.Fatalf("the API's tokens live %v: set E2E_ACCESS_TOKEN_TTL above %v, or every use refreshes", lifetime, tokenLeeway)
	}
	tokens := receivedSince(t, "tokens", before)
	refreshes := grants(tokens)
	if len(refreshes) != 1 || !slices.Equal(refreshes[0].resources(), []string{apiResource}) {
		t.Fatalf("refresh grants = %+v, want exactly one naming resource %s", refreshes, apiResource)
	}
	refreshChain(t, tokens)

	// Asked again, the app answers the same token with no grant.
	again := p.accessToken(apiResource)
	if again.jti() != first.jti() || !again.unix("exp").Equal(first.unix("exp")) {
		t.Errorf("the second call gave token %s (exp %v), want the cached %s (exp %v)", again.jti(), again.unix("exp"), first.jti(), first.unix("exp"))
	}
	if n := len(receivedSince(t, "tokens", before)); n != len(tokens) {
		t.Errorf("the second call made %d more token requests, want none", n-len(tokens))
	}
}

// A token is reused while it is valid for longer than the leeway, then
// refreshed with the rotated refresh token: a new token, the session
// cookie rewritten with the new refresh token, the user still signed in.
//
// There is no clock to move in the app or the provider, so this waits in
// real time until the short-lived API's token (E2E_SHORT_TOKEN_TTL, 35 s
// by default) is within the 30 s leeway: about 5 seconds.
func TestExpiredAPITokenIsRefreshed(t *testing.T) {
	p, before := signInForTokens(t)
	signedInCookie := p.sessionCookie()

	first := p.accessToken(shortAPIResource)
	lifetime := jwtFor(t, first, shortAPIResource, "ada")
	if lifetime <= tokenLeeway || lifetime > tokenLeeway+30*time.Second {
		t.Fatalf("the short-lived API's tokens live %v: set E2E_SHORT_TOKEN_TTL above %v (and not far above, this test waits for it)", lifetime, tokenLeeway)
	}
	refreshedCookie := p.sessionCookie()
	if refreshedCookie == signedInCookie {
		t.Errorf("the session cookie is unchanged after a refresh grant rotated the refresh token")
	}

	// Still valid for longer than the leeway: reused, nothing rewritten.
	reused := p.accessToken(shortAPIResource)
	if reused.jti() != first.jti() {
		t.Errorf("a call %v into the token's life gave a new token %s, want %s reused", time.Since(first.unix("iat")).Round(time.Millisecond), reused.jti(), first.jti())
	}
	if n := len(grants(receivedSince(t, "tokens", before))); n != 1 {
		t.Fatalf("%d refresh grants before the token expired, want 1", n)
	}
	if p.sessionCookie() != refreshedCookie {
		t.Errorf("the session cookie was rewritten by a call that refreshed nothing")
	}

	// Within the leeway of its expiry, the token is refreshed.
	due := first.unix("exp").Add(-tokenLeeway)
	t.Logf("waiting %v for the token to come within %v of its expiry", time.Until(due).Round(time.Millisecond), tokenLeeway)
	time.Sleep(time.Until(due) + 200*time.Millisecond)
	refreshed := p.accessToken(shortAPIResource)
	jwtFor(t, refreshed, shortAPIResource, "ada")
	if refreshed.jti() == first.jti() || !refreshed.unix("exp").After(first.unix("exp")) {
		t.Errorf("after expiry the app gave token %s (exp %v), want a new one expiring after %s (exp %v)", refreshed.jti(), refreshed.unix("exp"), first.jti(), first.unix("exp"))
	}
	tokens := receivedSince(t, "tokens", before)
	refreshes := grants(tokens)
	if len(refreshes) != 2 || !slices.Equal(refreshes[1].resources(), []string{shortAPIResource}) {
		t.Fatalf("refresh grants = %+v, want a second one naming %s", refreshes, shortAPIResource)
	}
	refreshChain(t, tokens)
	if p.sessionCookie() == refreshedCookie {
		t.Errorf("the session cookie still holds the spent refresh token after the second refresh")
	}

	// The new token is reused in turn, and the user is still signed in.
	if again := p.accessToken(shortAPIResource); again.jti() != refreshed.jti() {
		t.Errorf("the refreshed token %s was not reused: got %s", refreshed.jti(), again.jti())
	}
	if n := len(receivedSince(t, "tokens", before)); n != len(tokens) {
		t.Errorf("%d more token requests after the refresh, want none", n-len(tokens))
	}
	status, me := p.fetchJSON("/api/me")
	if status != http.StatusOK || me["sub"] != "ada" {
		t.Errorf("/api/me after the refresh answered %d %v, want 200 for ada", status, me)
	}
	p.goTo("/profile")
	p.waitFor("#user-name")
	if got := p.text("#user-name"); got != "Ada Lovelace" {
		t.Errorf("the profile after the refresh shows %q, want Ada Lovelace", got)
	}
}

// sessionCookie is the value of the app's session cookie ("" for none):
// sealed, so only whether it changed tells anything.
func (p *page) sessionCookie() string {
	p.t.Helper()
	if c, ok := p.appCookies()[appCookie]; ok {
		return c.Value
	}
	return ""
}
