package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The user ends their session at the provider itself, never visiting the
// app's /sign-out: the provider tells the app by a back-channel logout
// (its client has backchannel_logout_uri BASE_URL/backchannel-logout and
// backchannel_logout_session_required, as in Logto), and the app refuses
// the session cookie the browser still holds.
func TestBackChannelLogoutEndsAppSession(t *testing.T) {
	p := newPage(t)
	p.goTo("/profile")
	p.signInAtProvider("grace")
	p.landedSignedIn(signedIn{name: "Grace Hopper", sub: "grace", email: "grace@example.com", issuer: env.issuer})
	_, me := p.fetchJSON("/api/me")
	sid, _ := me["sid"].(string)
	if sid == "" {
		t.Fatalf("the ID token has no sid claim (/api/me: %v); the provider puts it there for clients that require it in back-channel logouts", me)
	}
	cookie, ok := p.appCookies()[appCookie]
	if !ok {
		t.Fatal("no session cookie after signing in")
	}
	ended := len(received(t, "end-sessions"))
	sent := len(received(t, "backchannel-logouts"))

	// The provider's own end-session endpoint, opened directly: no
	// id_token_hint, no client, and its confirmation button.
	p.do("opening the provider's end-session endpoint", chromedp.Navigate(env.issuer+"/session/end"))
	p.waitFor(providerLogoutYes)
	p.click(providerLogoutYes)
	p.atProviderSignedOut()
	if ends := receivedSince(t, "end-sessions", ended); len(ends) != 1 || ends[0].HasIDTokenHint || ends[0].ClientID != "" || ends[0].PostLogoutRedirectURI != "" {
		t.Errorf("end-session requests = %+v, want one with no id_token_hint, client_id or post_logout_redirect_uri (not the app's sign-out)", ends)
	}

	// The provider delivered one logout, for this provider session, to the
	// app, before it answered the browser.
	logouts := receivedSince(t, "backchannel-logouts", sent)
	if len(logouts) != 1 {
		t.Fatalf("the provider sent %d back-channel logouts, want 1: %+v", len(logouts), logouts)
	}
	if l := logouts[0]; l.ClientID != clientID || !l.Delivered || l.SID != sid || l.Sub != "grace" {
		t.Fatalf("back-channel logout = %+v, want one delivered to %s for sid %s and sub grace", l, clientID, sid)
	}

	// The browser still holds the app's cookie, untouched: the app never
	// saw this browser sign out.
	if now, ok := p.appCookies()[appCookie]; !ok || now.Value != cookie.Value {
		t.Fatalf("the app's session cookie changed while the browser was at the provider (present %v)", ok)
	}
	loads, redirects := p.history()

	// Its next request is refused: /profile sends it to sign in, and the
	// provider, whose session ended, asks for a login again.
	p.goTo("/profile")
	_, hops := p.visited(loads, redirects)
	if len(hops) == 0 || hops[0].url != env.appURL+"/profile" || hops[0].status != http.StatusSeeOther || hops[0].location != "/sign-in?returnTo=%2Fprofile" {
		t.Fatalf("redirects after the logout = %+v, want /profile first, 303 to /sign-in?returnTo=%%2Fprofile", hops)
	}
	p.atProviderLogin()
	docs, hops := p.visited(0, 0)
	for _, d := range append(docs, hops...) {
		if strings.HasPrefix(d.url, env.appURL+"/sign-out") {
			t.Errorf("the browser visited the app's %s", d.url)
		}
	}
	if _, ok := p.appCookies()[appCookie]; ok {
		t.Errorf("the app left the refused session cookie in the browser")
	}

	// Signing in again, from where the app sent the browser, starts a new
	// provider session, which the app accepts.
	p.signInAtProvider("grace")
	p.landedSignedIn(signedIn{name: "Grace Hopper", sub: "grace", email: "grace@example.com", issuer: env.issuer})
	if _, me := p.fetchJSON("/api/me"); me["sid"] == sid {
		t.Errorf("the new sign-in has the ended provider session's sid %s", sid)
	}

	// The old cookie put back, as someone who had copied it would: /api/me
	// refuses it too.
	httpOnly := cookie.HTTPOnly
	if _, err := chromedp.Call(p.ctx, network.SetCookie, network.SetCookieParams{
		Name: cookie.Name, Value: cookie.Value, URL: env.appURL + "/", Path: cookie.Path,
		HTTPOnly: &httpOnly, SameSite: cookie.SameSite,
	}); err != nil {
		t.Fatalf("putting the old session cookie back: %v", err)
	}
	if p.sessionCookie() != cookie.Value {
		t.Fatal("could not put the old session cookie back")
	}
	status, body := p.fetchJSON("/api/me")
	if status != http.StatusUnauthorized || body["error"] == nil {
		t.Errorf("/api/me with the logged-out session's cookie answered %d %v, want 401 with an error", status, body)
	}
}
