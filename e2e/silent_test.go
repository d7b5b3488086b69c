package e2e

import (
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// forgetAppCookies drops the app's cookies from the browser, keeping the
// provider's: the app has forgotten the user, the provider has not.
func (p *page) forgetAppCookies() {
	p.t.Helper()
	for name := range p.appCookies() {
		if _, err := chromedp.Call(p.ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: name, URL: p.app + "/"}); err != nil {
			p.t.Fatalf("deleting cookie %s: %v", name, err)
		}
	}
}

// A silent sign-in (prompt=none) with no session at the provider comes
// back to the page it started from, signed out, with no error page; with a
// session there it signs in without showing anything.
func TestSilentSignIn(t *testing.T) {
	p := newPage(t)
	authorizations := len(received(t, "authorizations"))
	p.goTo("/sign-in?silent=1&returnTo=/")
	p.waitFor("#greeting")
	if loc := p.location(); loc != p.app+"/" {
		t.Errorf("a silent sign-in without a provider session ends at %s, want %s/", loc, p.app)
	}
	if got := p.text("#greeting"); got != "You are not signed in." {
		t.Errorf("home page says %q after a silent sign-in the provider refused", got)
	}
	asked := receivedSince(t, "authorizations", authorizations)
	if len(asked) != 1 || asked[0].Prompt != "none" {
		t.Fatalf("authorization requests %+v, want one with prompt=none", asked)
	}
	// Again at once: an interactive sign-in this time (no loop), which
	// the user completes.
	p.goTo("/sign-in?silent=1&returnTo=/profile")
	p.signInAtProvider("grace")
	if asked := receivedSince(t, "authorizations", authorizations); len(asked) != 2 || asked[1].Prompt == "none" {
		t.Fatalf("authorization requests %+v, want the second one interactive", asked)
	}
	p.waitFor("#user-name")
	p.forgetAppCookies()
	authorizations = len(received(t, "authorizations"))
	p.goTo("/sign-in?silent=1&returnTo=/profile")
	p.waitFor("#user-name")
	if got := p.text("#user-name"); got != "Grace Hopper" {
		t.Errorf("signed in silently as %q, want Grace Hopper", got)
	}
	if asked := receivedSince(t, "authorizations", authorizations); len(asked) != 1 || asked[0].Prompt != "none" {
		t.Errorf("authorization requests %+v, want one with prompt=none", asked)
	}
}
