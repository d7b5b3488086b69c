package oidcauth

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/internal/cookie"
	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// Cookies planted before sign-in (an attacker's own valid session, stale
// chunks, junk) never survive it: the victim ends up in a fresh session of
// their own, and the planted values are gone.
func TestPlantedCookiesDoNotSurvive(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.idp.SetUser(oidcauthtest.User{Subject: "attacker", Name: "Mallory"})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	planted := f.cookie(f.auth.sessionCookie)
	plantedID := f.sessionID()

	f.freshBrowser()
	u, _ := url.Parse(f.app.URL)
	f.jar.SetCookies(u, []*http.Cookie{
		{Name: f.auth.sessionCookie, Value: planted, Path: "/", Secure: true},
		{Name: cookie.ChunkName(f.auth.sessionCookie, 1), Value: "stale-chunk", Path: "/", Secure: true},
		{Name: f.auth.txPrefix + strings.Repeat("A", 16), Value: "forged-transaction", Path: "/", Secure: true},
	})
	f.idp.SetUser(oidcauthtest.User{Subject: "victim", Name: "Victor"})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if f.cookie(f.auth.sessionCookie) == planted || f.sessionID() == plantedID {
		t.Error("the planted session survived sign-in")
	}
	if f.cookie(cookie.ChunkName(f.auth.sessionCookie, 1)) != "" {
		t.Error("a stale session chunk survived sign-in")
	}
	if got := body(t, f.get("/profile")); got != "hello victim Victor" {
		t.Errorf("after sign-in: %q", got)
	}
}

// No single changed character, no cut, no value moved from another cookie
// name and nothing sealed under a dropped key opens as a session.
func TestSessionCookieForgeries(t *testing.T) {
	t.Parallel()
	a := testAuth(t, nil)
	s, _, _ := typicalSession(t, time.Now())
	good := a.codec.Seal(a.sessionCookie, s.marshal(nil))
	opens := func(v string) bool {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: a.sessionCookie, Value: v})
		got, _ := a.readSession(r)
		return got != nil
	}
	if !opens(good) {
		t.Fatal("the genuine cookie does not open")
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(good); i++ {
		if i > 48 && i < len(good)-4 && i%7 != 0 {
			continue // every character of the header, then a sample of the body
		}
		b := []byte(good)
		b[i] = alphabet[(strings.IndexByte(alphabet, b[i])+1)%len(alphabet)]
		// The last character carries spare bits that base64 decoding
		// ignores: a change there that decodes to the same bytes is the
		// same cookie, not a forgery.
		same, _ := base64.RawURLEncoding.DecodeString(string(b))
		orig, _ := base64.RawURLEncoding.DecodeString(good)
		if opens(string(b)) && !bytes.Equal(same, orig) {
			t.Fatalf("changing character %d still opens", i)
		}
	}
	for _, n := range []int{0, 1, 16, 28, len(good) / 2, len(good) - 1} {
		if opens(good[:n]) {
			t.Errorf("the first %d characters open", n)
		}
	}
	if opens(good + "A") {
		t.Error("an extended value opens")
	}
	if opens(a.codec.Seal(a.txPrefix+"x", s.marshal(nil))) {
		t.Error("a value sealed for another cookie name opens as the session")
	}
	rotated := testAuth(t, func(c *Config) { c.SessionKeys = [][]byte{testKey(2)} })
	if opens(rotated.codec.Seal(a.sessionCookie, s.marshal(nil))) {
		t.Error("a cookie sealed under a key this app does not hold opens")
	}
}

// Every spelling of "somewhere else" in returnTo lands on the app's own
// origin after a real sign-in.
func TestOpenRedirectList(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	app, _ := url.Parse(f.app.URL)
	for _, rt := range []string{
		"//evil.example", "///evil.example", "/\\evil.example", "\\/evil.example", "%2F%2Fevil.example",
		"/%2F/evil.example", "https:evil.example", "https://evil.example", "HTTPS://evil.example", "javascript:alert(1)",
		"java\tscript:alert(1)", "/\t/evil.example", "/\r\n/evil.example", "/\x00/evil.example", " //evil.example",
		"/\\\\evil.example", "//" + app.Host + "@evil.example", "/@evil.example", "//user:pass@evil.example/",
		"/..//evil.example", "/./\\evil.example", "https://" + app.Host + ".evil.example/", "data:text/html,x",
	} {
		resp := f.signIn("/sign-in?returnTo=" + url.QueryEscape(rt))
		wantStatus(t, resp, http.StatusSeeOther)
		raw := resp.Header.Get("Location")
		loc, err := url.Parse(raw)
		if err != nil || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.ContainsAny(raw, "\\\t\r\n") {
			t.Errorf("returnTo %q: Location %q", rt, raw)
			continue
		}
		if got := app.ResolveReference(loc); got.Host != app.Host || got.Scheme != app.Scheme || got.User != nil {
			t.Errorf("returnTo %q lands on %s", rt, got)
		}
	}
}

// Host and forwarding headers change no redirect: not the redirect URI, not
// the challenge, not the landing page, not the sign-out target.
func TestHostHeaderSpoofing(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	spoof := func(r *http.Request) {
		r.Host = "evil.example"
		r.Header.Set("X-Forwarded-Host", "evil.example")
		r.Header.Set("X-Forwarded-Proto", "http")
		r.Header.Set("Forwarded", "host=evil.example;proto=http")
		r.Header.Set("X-Original-URL", "//evil.example/")
	}
	do := func(method, target string, header http.Header) *http.Response {
		t.Helper()
		if strings.HasPrefix(target, "/") {
			target = f.app.URL + target
		}
		req, _ := http.NewRequest(method, target, nil)
		spoof(req)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := f.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); strings.Contains(loc, "evil.example") {
			t.Errorf("%s %s redirects to %s", method, target, loc)
		}
		return resp
	}
	wantStatus(t, do("GET", "/profile", nil), http.StatusSeeOther)
	resp := do("GET", "/sign-in?returnTo=/profile", nil)
	wantStatus(t, resp, http.StatusSeeOther)
	if got := location(t, resp).Query().Get("redirect_uri"); got != f.app.URL+"/callback" {
		t.Errorf("redirect_uri = %q", got)
	}
	resp = f.get(location(t, resp).String())
	resp = do("GET", location(t, resp).String(), nil)
	wantStatus(t, resp, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != "/profile" {
		t.Errorf("landing = %q", got)
	}
	resp = do("POST", "/sign-out", http.Header{"Origin": {f.app.URL}})
	wantStatus(t, resp, http.StatusSeeOther)
	if end := location(t, resp); end.Query().Get("post_logout_redirect_uri") != f.app.URL+"/" {
		t.Errorf("post_logout_redirect_uri = %q", end.Query().Get("post_logout_redirect_uri"))
	}
	// With a spoofed Host, a same-origin claim must still name our origin.
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	wantStatus(t, do("POST", "/sign-out", http.Header{"Origin": {"https://evil.example"}}), http.StatusOK)
	if !f.signedIn() {
		t.Error("an Origin matching the spoofed Host signed the user out")
	}
}

// Sign-out CSRF through the real handler: what another site can make a
// browser send never signs the user out; the app's own pages do.
func TestSignOutCSRF(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	for _, tc := range []struct {
		name    string
		method  string
		header  http.Header
		signOut bool
	}{
		{"cross-site link", "GET", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Sec-Fetch-Mode": {"navigate"}}, false},
		{"cross-site form", "POST", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}, false},
		{"sibling subdomain", "POST", http.Header{"Sec-Fetch-Site": {"same-site"}}, false},
		{"sandboxed frame", "POST", http.Header{"Origin": {"null"}}, false},
		{"image tag, no metadata", "GET", nil, false},
		{"lookalike referer", "GET", http.Header{"Referer": {f.app.URL + ".evil.example/"}}, false},
		{"forged referer under fetch metadata", "GET", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Referer": {f.app.URL + "/"}}, false},
		{"own button", "POST", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {f.app.URL}}, true},
		{"own link", "GET", http.Header{"Sec-Fetch-Site": {"same-origin"}}, true},
		{"own link, old browser", "GET", http.Header{"Referer": {f.app.URL + "/profile"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
			resp := f.do(tc.method, "/sign-out", tc.header)
			if f.signedIn() == tc.signOut {
				t.Errorf("signed out = %v, want %v (status %d)", !tc.signOut, tc.signOut, resp.StatusCode)
			}
			if !tc.signOut && resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, want the confirmation page", resp.StatusCode)
			}
		})
	}
}
