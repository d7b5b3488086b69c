package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
)

// An anonymous visit to a protected page goes to the provider's sign-in
// form, through consent, and back to that page signed in as the person
// who typed their login; /api/me then answers their claims.
func TestSignInLandsOnProtectedPage(t *testing.T) {
	p := newPage(t)
	seen := len(received(t, "authorizations"))
	exchanged := len(received(t, "tokens"))

	p.goTo("/profile")
	p.atProviderLogin()

	// What the app sent the provider: the code flow with PKCE S256, a state
	// and a nonce, the registered redirect URI, and prompt=consent because
	// it asks for offline_access.
	auths := receivedSince(t, "authorizations", seen)
	if len(auths) != 1 {
		t.Fatalf("the provider got %d authorization requests, want 1: %+v", len(auths), auths)
	}
	a := auths[0]
	if a.ResponseType != "code" || a.CodeChallengeMethod != "S256" || !a.HasCodeChallenge || !a.HasState || !a.HasNonce {
		t.Errorf("authorization request = %+v, want response_type=code with S256 PKCE, a state and a nonce", a)
	}
	if a.RedirectURI != env.appURL+"/callback" {
		t.Errorf("redirect_uri = %q, want %q", a.RedirectURI, env.appURL+"/callback")
	}
	if scopes := strings.Fields(a.Scope); !slices.Contains(scopes, "openid") || !slices.Contains(scopes, "offline_access") || a.Prompt != "consent" {
		t.Errorf("scope %q with prompt %q: want openid and offline_access with prompt=consent", a.Scope, a.Prompt)
	}
	cookies := p.appCookies()
	if _, ok := cookies[appCookie]; ok {
		t.Errorf("a session cookie exists before signing in")
	}
	if tx := transactionCookies(cookies); len(tx) != 1 {
		t.Errorf("while at the provider the browser holds %d sign-in transaction cookies %v, want 1", len(tx), tx)
	}

	p.submitProviderLogin("ada")
	consent := p.atProviderConsent()
	for _, want := range []string{"profile", "email", "offline access"} {
		if !strings.Contains(consent, want) {
			t.Errorf("the consent screen does not mention %q:\n%s", want, consent)
		}
	}
	p.click(providerSubmit)

	p.landedSignedIn(signedIn{
		name: "Ada Lovelace", sub: "ada", email: "ada@example.com (verified)", issuer: env.issuer,
		claims: map[string]any{"username": "ada", "email": "ada@example.com", "email_verified": true},
	})
	p.screenshot("signed-in-profile")

	// The app redeemed the code once, with its PKCE verifier.
	tokens := receivedSince(t, "tokens", exchanged)
	if len(tokens) != 1 || tokens[0].GrantType != "authorization_code" || !tokens[0].HasCode || !tokens[0].HasCodeVerifier || tokens[0].Status != http.StatusOK {
		t.Errorf("token requests = %+v, want one successful authorization_code grant with a code_verifier", tokens)
	}
}

// signedIn is who a page should show after signing in.
type signedIn struct {
	name, sub, email, issuer string
	claims                   map[string]any // more claims /api/me must answer
}

// landedSignedIn asserts the tab is back on the app's /profile, on a clean
// URL, signed in as want: the page, the cookies, and /api/me.
func (p *page) landedSignedIn(want signedIn) {
	t := p.t
	t.Helper()
	p.waitFor("#user-name")
	if loc := p.location(); loc != p.app+"/profile" {
		t.Errorf("signed in at %s, want %s (the page asked for, on a clean URL)", loc, p.app+"/profile")
	}
	if doc := p.lastDocument(); doc.status != http.StatusOK {
		t.Errorf("the profile page answered %d, want 200", doc.status)
	}
	for css, v := range map[string]string{"#user-name": want.name, "#user-sub": want.sub, "#user-email": want.email} {
		if got := p.text(css); got != v {
			t.Errorf("profile %s shows %q, want %q", css, got, v)
		}
	}

	cookies := p.appCookies()
	session, ok := cookies[appCookie]
	if !ok {
		t.Fatalf("no session cookie %q after signing in; cookies: %v", appCookie, cookieNames(cookies))
	}
	if !session.HTTPOnly || session.SameSite != network.CookieSameSiteLax || session.Path != "/" || session.Domain != "127.0.0.1" {
		t.Errorf("session cookie HttpOnly=%v SameSite=%q Path=%q Domain=%q, want HttpOnly, Lax, / and host-only", session.HTTPOnly, session.SameSite, session.Path, session.Domain)
	}
	if tx := transactionCookies(cookies); len(tx) != 0 {
		t.Errorf("sign-in transaction cookies left after the callback: %v", tx)
	}

	status, claims := p.fetchJSON("/api/me")
	if status != http.StatusOK {
		t.Fatalf("/api/me answered %d signed in, want 200", status)
	}
	wantClaims := map[string]any{"sub": want.sub, "name": want.name, "iss": want.issuer}
	for k, v := range want.claims {
		wantClaims[k] = v
	}
	for k, v := range wantClaims {
		if claims[k] != v {
			t.Errorf("/api/me claim %q = %v, want %v", k, claims[k], v)
		}
	}
}

// signedOut asserts the tab shows the app's home page signed out, with no
// cookie of the app left and /api/me refusing.
func (p *page) signedOut() {
	t := p.t
	t.Helper()
	p.waitFor("#greeting")
	if loc := p.location(); loc != p.app+"/" {
		t.Errorf("after signing out the browser is at %s, want %s/", loc, p.app)
	}
	if got := p.text("#greeting"); got != "You are not signed in." {
		t.Errorf("home page says %q after signing out", got)
	}
	if cookies := p.appCookies(); len(cookies) != 0 {
		t.Errorf("app cookies left after signing out: %v", cookieNames(cookies))
	}
	status, body := p.fetchJSON("/api/me")
	if status != http.StatusUnauthorized || body["error"] == nil {
		t.Errorf("/api/me after signing out answered %d %v, want 401 with an error", status, body)
	}
}

// Signing out goes through the provider's end-session confirmation and
// back to the app signed out, at the app and at the provider.
func TestSignOutThroughProviderConfirmation(t *testing.T) {
	p := newPage(t)
	p.goTo("/profile")
	p.signInAtProvider("grace")
	p.waitFor("#user-name")
	if got := p.text("#user-name"); got != "Grace Hopper" {
		t.Fatalf("signed in as %q, want %q", got, "Grace Hopper")
	}
	ended := len(received(t, "end-sessions"))

	p.click("#sign-out")
	p.waitFor(providerLogoutYes)
	if loc := p.location(); !strings.HasPrefix(loc, env.issuer+"/session/end") {
		t.Errorf("the sign-out confirmation is at %s, want the provider's end-session endpoint", loc)
	}
	if _, ok := p.appCookies()[appCookie]; ok {
		t.Errorf("the app's session cookie is still there while the provider asks to confirm")
	}
	ends := receivedSince(t, "end-sessions", ended)
	if len(ends) != 1 || !ends[0].HasIDTokenHint || ends[0].PostLogoutRedirectURI != env.appURL+"/" {
		t.Errorf("end-session requests = %+v, want one with an id_token_hint and post_logout_redirect_uri %s/", ends, env.appURL)
	}

	p.click(providerLogoutYes)
	p.signedOut()

	// The provider's session ended too: signing in again asks for a login,
	// not only for consent.
	p.goTo("/profile")
	p.atProviderLogin()
}

// The sign-up entry (Logto's first_screen=register, or the older
// interaction_mode=signUp) reaches the provider's sign-in page.
func TestSignUpParameterReachesProvider(t *testing.T) {
	cases := []struct {
		name  string
		start func(p *page)
		check func(r providerRequest) bool
		param string
	}{
		{
			name:  "sign-up link on the home page",
			start: func(p *page) { p.goTo("/"); p.click("#sign-up") },
			check: func(r providerRequest) bool { return r.FirstScreen == "register" },
			param: "first_screen",
		},
		{
			name:  "first_screen=register",
			start: func(p *page) { p.goTo("/sign-in?first_screen=register") },
			check: func(r providerRequest) bool { return r.FirstScreen == "register" },
			param: "first_screen",
		},
		{
			name:  "interaction_mode=signUp",
			start: func(p *page) { p.goTo("/sign-in?interaction_mode=signUp") },
			check: func(r providerRequest) bool { return r.InteractionMode == "signUp" },
			param: "interaction_mode",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPage(t)
			seen := len(received(t, "authorizations"))
			tc.start(p)
			p.atProviderLogin()
			auths := receivedSince(t, "authorizations", seen)
			if len(auths) != 1 || !tc.check(auths[0]) {
				t.Fatalf("authorization requests = %+v, want one carrying %s", auths, tc.param)
			}
			// The provider kept it for its interaction: its sign-in page
			// lists the request's parameters in a debug block.
			if debug := p.textContent(providerDebugBlock); !strings.Contains(debug, tc.param) {
				t.Errorf("the provider's sign-in page does not list %s among the parameters:\n%s", tc.param, debug)
			}
		})
	}
}

// Two tabs of one browser start signing in before either finishes; each
// completes and lands where it started.
func TestTwoTabsSignInAtOnce(t *testing.T) {
	first := newPage(t)
	second := first.anotherTab()

	first.goTo("/profile")
	first.atProviderLogin()
	second.goTo("/sign-in?returnTo=/")
	second.atProviderLogin()
	if tx := transactionCookies(first.appCookies()); len(tx) != 2 {
		t.Fatalf("with two sign-ins under way the browser holds %d transaction cookies %v, want 2", len(tx), tx)
	}

	first.signInAtProvider("ada")
	first.waitFor("#user-name")
	if got := first.text("#user-name"); got != "Ada Lovelace" {
		t.Errorf("first tab signed in as %q", got)
	}

	second.signInAtProvider("ada")
	second.waitFor("#greeting")
	if loc := second.location(); loc != env.appURL+"/" {
		t.Errorf("second tab landed on %s, want %s/ (its own returnTo)", loc, env.appURL)
	}
	if got := second.text("#user-name"); got != "Ada Lovelace" {
		t.Errorf("second tab signed in as %q", got)
	}

	cookies := first.appCookies()
	if _, ok := cookies[appCookie]; !ok {
		t.Errorf("no session cookie after both tabs signed in: %v", cookieNames(cookies))
	}
	if tx := transactionCookies(cookies); len(tx) != 0 {
		t.Errorf("transaction cookies left after both sign-ins: %v", tx)
	}
}

// Cancelling at the provider brings the user back to the app's clear error
// page: 403, a fixed message, no session and no transaction left.
func TestCancelAtProviderShowsErrorPage(t *testing.T) {
	cases := []struct {
		name   string
		cancel func(p *page)
	}{
		{"at consent", func(p *page) {
			p.submitProviderLogin("ada")
			p.atProviderConsent()
			p.click(providerCancel)
		}},
		{"at sign-in", func(p *page) {
			p.atProviderLogin()
			p.click(providerCancel)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPage(t)
			p.goTo("/profile")
			tc.cancel(p)

			p.waitFor("#error-message")
			doc := p.lastDocument()
			if !strings.HasPrefix(doc.url, env.appURL+"/callback?") || doc.status != http.StatusForbidden {
				t.Errorf("the error page came from %s with %d, want the app's callback with 403", doc.url, doc.status)
			}
			if got := p.text("#error-message"); got != "The sign-in was cancelled, so you are not signed in." {
				t.Errorf("error message %q", got)
			}
			if got := p.text("#error-title"); got != "Sign-in cancelled" {
				t.Errorf("error title %q", got)
			}
			// The provider's own words (error_description) stay off the page.
			if body := p.text("body"); strings.Contains(body, "aborted") || strings.Contains(body, "access_denied") {
				t.Errorf("the error page shows the provider's text:\n%s", body)
			}
			if tc.name == "at consent" {
				p.screenshot("cancelled-sign-in-error")
			}
			if cookies := p.appCookies(); len(cookies) != 0 {
				t.Errorf("app cookies after a cancelled sign-in: %v", cookieNames(cookies))
			}
			// The error page allows no scripts (its CSP); the way on is its
			// link home, where the user is still signed out.
			p.click("main a")
			p.waitFor("#greeting")
			if got := p.text("#greeting"); got != "You are not signed in." {
				t.Errorf("the home page says %q after a cancelled sign-in", got)
			}
			status, _ := p.fetchJSON("/api/me")
			if status != http.StatusUnauthorized {
				t.Errorf("/api/me after a cancelled sign-in answered %d, want 401", status)
			}
		})
	}
}

func cookieNames(cookies map[string]*network.Cookie) []string {
	var names []string
	for name := range cookies {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
