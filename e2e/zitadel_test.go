package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The same sign-in and sign-out against a second, independent provider:
// the example OpenID Provider of github.com/zitadel/oidc/v3 (zitadelop/).
// It has a sign-in form and no consent screen, and it ends a session
// without asking.

// zitadelPassword is zitadelop's fixture password for every test user.
const zitadelPassword = "e2e-password"

// signInAtZitadel fills zitadelop's sign-in form.
func (p *page) signInAtZitadel(user string) {
	p.t.Helper()
	p.waitFor("#username")
	if loc := p.location(); !strings.HasPrefix(loc, env.zitadelIssuer+"/login/username?") {
		p.t.Fatalf("the sign-in form is at %s, not at %s/login/username", loc, env.zitadelIssuer)
	}
	p.do("signing in at zitadelop as "+user,
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), zitadelPassword),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
}

func TestZitadelSignInLandsOnProtectedPage(t *testing.T) {
	p := newZitadelPage(t)
	p.goTo("/profile")
	p.signInAtZitadel("ada")
	p.landedSignedIn(signedIn{
		name: "Ada Lovelace", sub: "ada", email: "ada@example.com (verified)", issuer: env.zitadelIssuer,
		claims: map[string]any{"given_name": "Ada", "family_name": "Lovelace", "email_verified": true},
	})
	p.screenshot("zitadel-signed-in-profile")
}

func TestZitadelSignOut(t *testing.T) {
	p := newZitadelPage(t)
	p.goTo("/profile")
	p.signInAtZitadel("grace")
	p.landedSignedIn(signedIn{name: "Grace Hopper", sub: "grace", email: "grace@example.com", issuer: env.zitadelIssuer})

	p.click("#sign-out")
	p.signedOut()

	// Signed out for good: the protected page sends the browser back to
	// the provider's sign-in form.
	p.goTo("/profile")
	p.waitFor("#username")
}
