package oidcauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// assertFailedCleanly checks what every failed callback must leave behind.
func (f *flow) assertFailedCleanly(t *testing.T, resp *http.Response, page string, cb *url.URL) {
	t.Helper()
	if f.cookie(f.auth.sessionCookie) != "" {
		t.Error("a session cookie exists after the failure")
	}
	if f.txCookies() != 0 {
		t.Error("the transaction cookie was not cleared")
	}
	if f.signedIn() {
		t.Error("signed in after the failure")
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("error Cache-Control = %q", cc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("error Content-Type = %q", ct)
	}
	secrets := []string{"s3cr3t-client-value", "oops", "hello", "evil.example", "someone-else"}
	if code := cb.Query().Get("code"); code != "" {
		secrets = append(secrets, code)
	}
	for _, s := range secrets {
		if strings.Contains(page, s) {
			t.Errorf("error page shows %q:\n%s", s, page)
		}
		if s != "evil.example" && strings.Contains(f.logs.String(), s) {
			t.Errorf("logs contain %q", s)
		}
	}
}

func TestCallbackStateRejects(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	cb := f.startSignIn("/sign-in")
	q := cb.Query()
	call := func(mutate func(url.Values)) *http.Response {
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		mutate(v)
		u := *cb
		u.RawQuery = v.Encode()
		return f.get(u.String())
	}
	for _, tc := range []struct {
		name   string
		mutate func(url.Values)
		status int
	}{
		{"missing state", func(v url.Values) { v.Del("state") }, 400},
		{"unknown state", func(v url.Values) { v.Set("state", strings.Repeat("A", 43)) }, 400},
		{"malformed state", func(v url.Values) { v.Set("state", "../../x;y=z") }, 400},
		{"state of the right id but wrong tail", func(v url.Values) { v.Set("state", v.Get("state")[:16]+strings.Repeat("B", 27)) }, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, call(tc.mutate), tc.status)
		})
	}
	// The wrong-tail attempt consumed the transaction: the real response is
	// now refused too (single use, whatever the outcome).
	wantStatus(t, f.get(cb.String()), http.StatusBadRequest)
	if f.signedIn() {
		t.Error("signed in after state failures")
	}

	// Code missing, and code with error, behind a valid state.
	cb = f.startSignIn("/sign-in")
	q = cb.Query()
	wantStatus(t, call(func(v url.Values) { v.Del("code") }), http.StatusBadRequest)
	cb = f.startSignIn("/sign-in")
	q = cb.Query()
	wantStatus(t, call(func(v url.Values) { v.Set("error", "access_denied") }), http.StatusBadRequest)

	// Replay after success: refused, and no new session from it.
	cb = f.startSignIn("/sign-in")
	wantStatus(t, f.get(cb.String()), http.StatusSeeOther)
	wantStatus(t, f.get(cb.String()), http.StatusBadRequest)
	if !f.signedIn() {
		t.Error("a replayed (forged) callback signed the user out")
	}

	// Another browser with the same callback URL has no transaction.
	cb = f.startSignIn("/sign-in")
	resp, err := (&http.Client{Transport: f.client.Transport, CheckRedirect: f.client.CheckRedirect}).Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantStatus(t, resp, http.StatusBadRequest)

	// An expired transaction is refused before the code is redeemed.
	cb = f.startSignIn("/sign-in")
	f.clock.Advance(txLifetime + time.Second)
	calls := f.idp.Calls("token")
	wantStatus(t, f.get(cb.String()), http.StatusBadRequest)
	if f.idp.Calls("token") != calls {
		t.Error("an expired sign-in attempt reached the token endpoint")
	}
}

// A repeated iss or code parameter is refused before anything is redeemed:
// which copy a component reads is a classic parser-differential.
func TestCallbackRepeatedParameters(t *testing.T) {
	t.Parallel()
	for _, param := range []string{"iss", "code"} {
		t.Run(param, func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{}, nil)
			cb := f.startSignIn("/sign-in")
			q := cb.Query()
			q.Add(param, "https://evil.example")
			u := *cb
			u.RawQuery = q.Encode()
			resp := f.get(u.String())
			wantStatus(t, resp, http.StatusBadRequest)
			f.assertFailedCleanly(t, resp, body(t, resp), cb)
			if f.idp.Calls("token") != 0 {
				t.Error("the code was redeemed")
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	for _, tc := range []struct{ method, path string }{{"POST", "/sign-in"}, {"POST", "/callback"}, {"PUT", "/sign-out"}} {
		resp := f.do(tc.method, tc.path, nil)
		wantStatus(t, resp, http.StatusMethodNotAllowed)
		if resp.Header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tc.method, tc.path)
		}
	}
}

// Discovery is lazy and retried: while the provider is down sign-in says
// 503 and the app keeps serving; when it is back sign-in works with no
// restart.
func TestProviderDownThenBack(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.idp.Misbehave(oidcauthtest.Misbehavior{DiscoveryStatus: http.StatusServiceUnavailable})
	resp := f.get("/sign-in")
	wantStatus(t, resp, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	wantStatus(t, f.get("/"), http.StatusOK)

	// Within the backoff, no new discovery call.
	calls := f.idp.Calls("discovery")
	wantStatus(t, f.get("/sign-in"), http.StatusServiceUnavailable)
	if f.idp.Calls("discovery") != calls {
		t.Error("discovery retried within the backoff")
	}

	f.idp.Misbehave(oidcauthtest.Misbehavior{})
	f.clock.Advance(maxBackoff)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if !f.signedIn() {
		t.Error("not signed in after the provider came back")
	}

	// Once known, the metadata survives a later outage.
	f.idp.Misbehave(oidcauthtest.Misbehavior{DiscoveryStatus: http.StatusServiceUnavailable})
	f.clock.Advance(metadataTTL + time.Minute)
	wantStatus(t, f.get("/sign-in"), http.StatusSeeOther)
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.idp.Misbehave(oidcauthtest.Misbehavior{DiscoveryIssuer: "https://evil.example"})
	wantStatus(t, f.get("/sign-in"), http.StatusServiceUnavailable)
}

// Tampered, foreign, expired and idle sessions are "signed out": a redirect,
// never a 5xx; the bad cookie is cleared.
func TestSessionValidity(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	good := f.cookie(f.auth.sessionCookie)
	u, _ := url.Parse(f.app.URL)
	set := func(v string) {
		f.jar.SetCookies(u, []*http.Cookie{{Name: f.auth.sessionCookie, Value: v, Path: "/", Secure: true}})
	}
	foreign := testAuth(t, func(c *Config) { c.SessionKeys = [][]byte{testKey(7)} })
	for name, v := range map[string]string{
		"tampered":    good[:40] + string(rune('A'+(good[40]-'A'+1)%26)) + good[41:],
		"truncated":   good[:len(good)/2],
		"garbage":     "not-a-session",
		"foreign key": foreign.codec.Seal(f.auth.sessionCookie, []byte{sessionFormat}),
	} {
		t.Run(name, func(t *testing.T) {
			set(v)
			resp := f.get("/profile")
			wantStatus(t, resp, http.StatusSeeOther)
			if f.cookie(f.auth.sessionCookie) != "" {
				t.Error("invalid cookie not cleared")
			}
		})
	}

	// An optional-auth page clearing a bad cookie keeps the answer out of
	// shared caches.
	set("not-a-session")
	resp := f.get("/")
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "private") || !strings.Contains(cc, "no-store") {
		t.Errorf("clearing response Cache-Control = %q", cc)
	}

	set(good)
	if !f.signedIn() {
		t.Fatal("good cookie refused")
	}

	// A payload whose last activity precedes its creation is not a session
	// we wrote, whatever its times say.
	s, _, _ := typicalSession(t, f.clock.Now())
	s.touched = s.created - 1
	set(f.auth.codec.Seal(f.auth.sessionCookie, s.marshal(nil)))
	if f.signedIn() {
		t.Error("a session touched before it was created was accepted")
	}
}

func TestSessionLifetimes(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) {
		c.SessionIdleTimeout = 8 * time.Hour
		c.SessionMaxAge = 24 * time.Hour
	})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	first := f.cookie(f.auth.sessionCookie)

	// Within an eighth of the idle window: no re-issue.
	f.clock.Advance(30 * time.Minute)
	resp := f.get("/profile")
	wantStatus(t, resp, http.StatusOK)
	if len(resp.Cookies()) != 0 {
		t.Error("cookie re-issued before an eighth of the idle window")
	}
	// Past it: re-issued, with no-store.
	f.clock.Advance(40 * time.Minute)
	resp = f.get("/profile")
	wantStatus(t, resp, http.StatusOK)
	if f.cookie(f.auth.sessionCookie) == first {
		t.Error("cookie not re-issued after an eighth of the idle window")
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") || !strings.Contains(cc, "private") {
		t.Errorf("re-issue Cache-Control = %q", cc)
	}
	// Activity every 7 hours keeps it alive past the idle timeout...
	for i := 0; i < 3; i++ {
		f.clock.Advance(7 * time.Hour)
		if !f.signedIn() {
			t.Fatalf("rolling session ended after %d active periods", i+1)
		}
	}
	// ...but not past the absolute lifetime, though idle only 2 hours.
	f.clock.Advance(2 * time.Hour) // 24h10m since sign-in
	if f.signedIn() {
		t.Error("session outlived SessionMaxAge")
	}

	// Idle: a fresh session unused for longer than the idle timeout. The
	// expired cookie is cleared, so the browser stops sending it.
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	f.clock.Advance(8*time.Hour + time.Second)
	if f.signedIn() {
		t.Error("session outlived SessionIdleTimeout")
	}
	if f.cookie(f.auth.sessionCookie) != "" {
		t.Error("the expired session cookie was not cleared")
	}

	// A copy of an old cookie replayed after expiry is refused as well:
	// the times are inside the encrypted payload.
	u, _ := url.Parse(f.app.URL)
	f.jar.SetCookies(u, []*http.Cookie{{Name: f.auth.sessionCookie, Value: first, Path: "/", Secure: true}})
	if f.signedIn() {
		t.Error("an expired cookie value was accepted")
	}
}

func TestKeyRotationAcrossRestart(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	r, _ := http.NewRequest("GET", f.app.URL, nil)
	u, _ := url.Parse(f.app.URL)
	for _, c := range f.jar.Cookies(u) {
		r.AddCookie(c)
	}
	rotated := testAuth(t, func(c *Config) {
		*c = f.auth.cfg
		c.SessionKeys = [][]byte{testKey(5), testKey(1)}
	})
	if s, _ := rotated.readSession(r); s == nil {
		t.Error("session sealed with the previous key refused after rotation")
	}
	dropped := testAuth(t, func(c *Config) {
		*c = f.auth.cfg
		c.SessionKeys = [][]byte{testKey(5)}
	})
	if s, _ := dropped.readSession(r); s != nil {
		t.Error("session accepted after its key was dropped")
	}
}

// A provider's error response leaves an earlier session alone: with Prompt
// "none", another site could otherwise start a sign-in that fails with
// login_required and so sign the user out (a silent sign-in's
// login_required is no error page at all: it falls back). A failure after
// the code was issued still ends it.
func TestCallbackFailureAndEarlierSession(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) { c.Prompt = "none" })
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	for _, tc := range []struct {
		m      oidcauthtest.Misbehavior
		status int
	}{{oidcauthtest.Misbehavior{AuthorizeError: "access_denied"}, http.StatusForbidden}, {oidcauthtest.Misbehavior{AuthorizeError: "login_required"}, http.StatusSeeOther}} {
		f.idp.Misbehave(tc.m)
		resp := f.signIn("/sign-in")
		wantStatus(t, resp, tc.status)
		if f.txCookies() != 0 {
			t.Error("transaction not cleared")
		}
		if !f.signedIn() {
			t.Fatalf("%s signed the user out", tc.m.AuthorizeError)
		}
	}
	f.jar.SetCookies(f.request("/").URL, []*http.Cookie{{Name: f.auth.silentCookie(), Value: "", MaxAge: -1}})
	f.idp.Misbehave(oidcauthtest.Misbehavior{CorruptSignature: true})
	wantStatus(t, f.signIn("/sign-in"), http.StatusBadGateway)
	if f.signedIn() {
		t.Error("an invalid ID token left the earlier session in place")
	}
}
