package e2e

import (
	"strings"

	"github.com/chromedp/chromedp"
)

// The pages of node-oidc-provider's development interactions, as a user
// meets them: a sign-in form taking any login and password, a consent
// screen, and a "[ Cancel ]" link on both that answers access_denied.
const (
	providerLogin      = `input[name="login"]`
	providerPassword   = `input[name="password"]`
	providerConsent    = `input[name="prompt"][value="consent"]`
	providerSubmit     = `button.login-submit`
	providerCancel     = `.login-help a`
	providerLogoutYes  = `button[name="logout"][value="yes"]`
	providerDebugBlock = `.grant-debug`
)

// atProviderLogin asserts the tab shows the provider's sign-in form.
func (p *page) atProviderLogin() {
	p.t.Helper()
	p.waitFor(providerLogin)
	if loc := p.location(); !strings.HasPrefix(loc, env.issuer+"/interaction/") {
		p.t.Fatalf("the sign-in form is at %s, not under %s/interaction/", loc, env.issuer)
	}
	if h := p.text("h1"); h != "Sign-in" {
		p.t.Fatalf("the provider's sign-in page is titled %q, want %q", h, "Sign-in")
	}
}

// submitProviderLogin types a login and a password into the provider's
// sign-in form and sends it.
func (p *page) submitProviderLogin(login string) {
	p.t.Helper()
	p.atProviderLogin()
	p.do("signing in at the provider as "+login,
		chromedp.SendKeys(chromedp.CSS(providerLogin), login),
		chromedp.SendKeys(chromedp.CSS(providerPassword), "any password"),
		chromedp.Click(chromedp.CSS(providerSubmit)),
	)
}

// atProviderConsent asserts the tab shows the provider's consent screen
// and answers its text.
func (p *page) atProviderConsent() string {
	p.t.Helper()
	p.do("waiting for the consent screen", chromedp.WaitReady(chromedp.CSS(providerConsent)))
	if h := p.text("h1"); h != "Authorize" {
		p.t.Fatalf("the provider's consent page is titled %q, want %q", h, "Authorize")
	}
	return p.text("ul")
}

// signInAtProvider signs in at the provider's form and accepts its consent
// screen; the browser then goes back to the app.
func (p *page) signInAtProvider(login string) {
	p.t.Helper()
	p.submitProviderLogin(login)
	p.atProviderConsent()
	p.click(providerSubmit)
}

// atProviderSignedOut waits for the provider's page saying the sign-out
// succeeded, which it shows once the session has ended.
func (p *page) atProviderSignedOut() {
	p.t.Helper()
	p.do("waiting for the provider's signed-out page",
		chromedp.WaitNotPresent(chromedp.CSS(providerLogoutYes)),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	)
	if loc := p.location(); !strings.HasPrefix(loc, env.issuer+"/session/end/success") {
		p.t.Fatalf("the signed-out page is at %s, not at %s/session/end/success", loc, env.issuer)
	}
	if h := p.text("h1"); h != "Sign-out Success" {
		p.t.Fatalf("the provider's signed-out page is titled %q, want %q", h, "Sign-out Success")
	}
}
