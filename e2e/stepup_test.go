package e2e

import "testing"

// A sensitive page (the example's /account: RequireStepUp with MaxAge 5
// minutes) takes a session whose ID token states no recent auth_time (a
// plain sign-in gets none from node-oidc-provider) through the provider
// with max_age=300 and back to the same page. The provider's session is
// recent enough, so it asks for no login, only for the consent that the
// app's prompt=consent (for a refresh token) always asks. A second visit
// needs no round trip.
func TestStepUpMaxAge(t *testing.T) {
	p := newPage(t)
	p.goTo("/profile")
	p.signInAtProvider("grace")
	p.waitFor("#user-name")
	authorizations := len(received(t, "authorizations"))

	p.goTo("/account?tab=security")
	p.atProviderConsent()
	p.click(providerSubmit)
	p.waitFor("#user-name")
	if loc := p.location(); loc != p.app+"/account?tab=security" {
		t.Errorf("after the step-up the browser is at %s, want %s/account?tab=security", loc, p.app)
	}
	asked := receivedSince(t, "authorizations", authorizations)
	if len(asked) != 1 || asked[0].MaxAge != "300" {
		t.Fatalf("authorization requests %+v, want one with max_age=300", asked)
	}
	p.goTo("/account")
	p.waitFor("#user-name")
	if n := len(receivedSince(t, "authorizations", authorizations)); n != 1 {
		t.Errorf("%d authorization requests after a second visit, want still 1", n)
	}
}
