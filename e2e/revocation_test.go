package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// refreshTokenActive asks the provider whether the refresh token it issued
// with this fingerprint would still be redeemed.
func refreshTokenActive(t *testing.T, fingerprint string) bool {
	t.Helper()
	res, err := http.Get(env.debugURL + "/refresh-token?fingerprint=" + url.QueryEscape(fingerprint))
	if err != nil {
		t.Fatalf("asking the provider about a refresh token: %v", err)
	}
	defer res.Body.Close()
	var answer struct{ Known, Active bool }
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil || !answer.Known {
		t.Fatalf("the provider does not know the refresh token %s (%v)", fingerprint, err)
	}
	return answer.Active
}

// Signing out revokes the refresh token at the provider (RFC 7009), as
// Logto's own SDKs do: afterwards the provider refuses it.
func TestSignOutRevokesRefreshToken(t *testing.T) {
	p := newPage(t)
	tokens := len(received(t, "tokens"))
	revocations := len(received(t, "revocations"))
	p.goTo("/profile")
	p.signInAtProvider("grace")
	p.waitFor("#user-name")
	var issued string
	for _, r := range receivedSince(t, "tokens", tokens) {
		if r.GrantType == "authorization_code" && r.IssuedRefreshToken != "" {
			issued = r.IssuedRefreshToken
		}
	}
	if issued == "" {
		t.Fatal("the sign-in got no refresh token")
	}
	if !refreshTokenActive(t, issued) {
		t.Fatal("the refresh token is not active after sign-in")
	}

	p.click("#sign-out")
	p.waitFor(providerLogoutYes)
	// The revocation runs in the background of the app's sign-out; the
	// provider's confirmation page usually comes after it, but not always.
	deadline := time.Now().Add(5 * time.Second)
	for refreshTokenActive(t, issued) {
		if time.Now().After(deadline) {
			t.Fatal("the provider still accepts the refresh token after sign-out")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var refreshRevoked bool
	for _, r := range receivedSince(t, "revocations", revocations) {
		if r.TokenTypeHint == "refresh_token" && r.Token == issued && r.Status == http.StatusOK {
			refreshRevoked = true
		}
	}
	if !refreshRevoked {
		t.Errorf("no successful revocation request for the refresh token: %+v", receivedSince(t, "revocations", revocations))
	}
	p.click(providerLogoutYes)
	p.signedOut()
}
