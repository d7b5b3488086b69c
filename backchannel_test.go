package oidcauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// currentSession returns the session in the flow's cookie jar.
func (f *flow) currentSession() *session {
	f.t.Helper()
	r, _ := http.NewRequest("GET", f.app.URL, nil)
	u, _ := url.Parse(f.app.URL)
	for _, c := range f.jar.Cookies(u) {
		r.AddCookie(c)
	}
	s, _ := f.auth.readSession(r)
	if s == nil {
		f.t.Fatal("no session in the jar")
	}
	return s
}

// postLogout delivers a logout token as the provider would: a form POST
// from a server, with no cookie.
func (f *flow) postLogout(token string) *http.Response {
	f.t.Helper()
	resp, err := f.app.Client().PostForm(f.app.URL+"/backchannel-logout", url.Values{"logout_token": {token}})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (f *flow) logoutToken(o oidcauthtest.LogoutTokenOptions) string {
	f.t.Helper()
	tok, err := f.idp.LogoutToken(o)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func TestBackChannelLogoutBySID(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	s := f.currentSession()
	if s.sid == "" {
		t.Fatal("the session did not record the provider's sid")
	}
	copied := f.auth.sessionCookie + "=" + f.cookie(f.auth.sessionCookie)

	resp := f.postLogout(f.logoutToken(oidcauthtest.LogoutTokenOptions{Subject: s.user.Subject, SID: s.sid}))
	wantStatus(t, resp, http.StatusOK)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}
	// The browser's next request is refused and its cookie cleared; a copy
	// of the cookie is refused too.
	wantStatus(t, f.get("/profile"), http.StatusSeeOther)
	if f.cookie(f.auth.sessionCookie) != "" {
		t.Error("the revoked session's cookie was not cleared")
	}
	r2 := f.withCookie("/api/me", copied)
	wantStatus(t, r2, http.StatusUnauthorized)

	// Signing in again starts a new provider session, which is valid.
	f.clock.Advance(time.Second)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if !f.signedIn() {
		t.Error("a new sign-in after the logout is refused")
	}
}

// A token with sub and no sid ends every session of that user, in every
// browser, and none of another user's.
func TestBackChannelLogoutBySubject(t *testing.T) {
	t.Parallel()
	a := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, a.signIn("/sign-in"), http.StatusSeeOther)
	// A second browser of the same user, on the same app.
	b := *a
	b.jar = newJar()
	b.client = &http.Client{Jar: b.jar, Transport: a.client.Transport, CheckRedirect: a.client.CheckRedirect}
	wantStatus(t, b.signIn("/sign-in"), http.StatusSeeOther)
	// A third browser, another user.
	a.idp.SetUser(oidcauthtest.User{Subject: "other-user", Name: "Other"})
	c := *a
	c.jar = newJar()
	c.client = &http.Client{Jar: c.jar, Transport: a.client.Transport, CheckRedirect: a.client.CheckRedirect}
	wantStatus(t, c.signIn("/sign-in"), http.StatusSeeOther)

	sub := a.currentSession().user.Subject
	wantStatus(t, a.postLogout(a.logoutToken(oidcauthtest.LogoutTokenOptions{Subject: sub})), http.StatusOK)
	if a.signedIn() || b.signedIn() {
		t.Error("a session of the logged-out user survived")
	}
	if !c.signedIn() {
		t.Error("another user's session was ended")
	}
}

func TestBackChannelLogoutRejects(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	s := f.currentSession()
	sub, sid := s.user.Subject, s.sid
	now := f.clock.Now()
	edit := func(fn func(map[string]any)) oidcauthtest.LogoutTokenOptions {
		return oidcauthtest.LogoutTokenOptions{Subject: sub, SID: sid, Claims: fn}
	}
	cases := []struct {
		name string
		o    oidcauthtest.LogoutTokenOptions
	}{
		{"bad signature", oidcauthtest.LogoutTokenOptions{Subject: sub, SID: sid, Misbehavior: oidcauthtest.Misbehavior{CorruptSignature: true}}},
		{"alg none", oidcauthtest.LogoutTokenOptions{Subject: sub, SID: sid, Misbehavior: oidcauthtest.Misbehavior{AlgNone: true}}},
		{"HMAC with the client secret", oidcauthtest.LogoutTokenOptions{Subject: sub, SID: sid, Misbehavior: oidcauthtest.Misbehavior{HMACWithSecret: true}}},
		{"wrong typ", oidcauthtest.LogoutTokenOptions{Subject: sub, SID: sid, Typ: "JWT"}},
		{"wrong iss", edit(func(c map[string]any) { c["iss"] = "https://evil.example/oidc" })},
		{"wrong aud", edit(func(c map[string]any) { c["aud"] = "another-client" })},
		{"no exp", edit(func(c map[string]any) { delete(c, "exp") })},
		{"expired", edit(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })},
		{"no iat", edit(func(c map[string]any) { delete(c, "iat") })},
		{"iat too old", edit(func(c map[string]any) { c["iat"] = now.Add(-30 * time.Minute).Unix() })},
		{"iat in the future", edit(func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() })},
		{"no events", edit(func(c map[string]any) { delete(c, "events") })},
		{"other event", edit(func(c map[string]any) { c["events"] = map[string]any{"urn:example:other": map[string]any{}} })},
		{"event not an object", edit(func(c map[string]any) {
			c["events"] = map[string]any{oidcauthtest.BackChannelLogoutEvent: "yes"}
		})},
		{"nonce present", edit(func(c map[string]any) { c["nonce"] = "n-0S6_WzA2Mj" })},
		{"no sub nor sid", edit(func(c map[string]any) { delete(c, "sub"); delete(c, "sid") })},
		{"no jti", edit(func(c map[string]any) { delete(c, "jti") })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.postLogout(f.logoutToken(tc.o))
			wantStatus(t, resp, http.StatusBadRequest)
			if got := body(t, resp); !strings.Contains(got, `"error":"invalid_request"`) || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("answer: %s (Cache-Control %q)", got, resp.Header.Get("Cache-Control"))
			}
			if !f.signedIn() {
				t.Fatal("a rejected logout token ended the session")
			}
		})
	}

	// A key the provider does not publish (yet): no verdict on the token.
	// 503 makes the provider retry, once the key set may hold the key.
	t.Run("unknown key", func(t *testing.T) {
		resp := f.postLogout(f.logoutToken(oidcauthtest.LogoutTokenOptions{Subject: sub, SID: sid, Misbehavior: oidcauthtest.Misbehavior{SignWithUnknownKey: true}}))
		wantStatus(t, resp, http.StatusServiceUnavailable)
		if got := body(t, resp); !strings.Contains(got, `"error":"temporarily_unavailable"`) {
			t.Errorf("answer: %s", got)
		}
		if !f.signedIn() {
			t.Fatal("a token signed with an unknown key ended the session")
		}
	})
	t.Run("an ID token is not a logout token", func(t *testing.T) {
		wantStatus(t, f.postLogout(f.auth.readSessionForTest(t, f)), http.StatusBadRequest)
	})
	t.Run("replayed jti", func(t *testing.T) {
		tok := f.logoutToken(oidcauthtest.LogoutTokenOptions{Subject: "someone-else"})
		wantStatus(t, f.postLogout(tok), http.StatusOK)
		wantStatus(t, f.postLogout(tok), http.StatusBadRequest)
	})
	t.Run("request shape", func(t *testing.T) {
		tok := f.logoutToken(oidcauthtest.LogoutTokenOptions{SID: sid})
		for _, req := range []*http.Request{
			mustRequest(t, "GET", f.app.URL+"/backchannel-logout?logout_token="+tok),
			formRequest(t, f.app.URL+"/backchannel-logout", "application/json", `{"logout_token":"`+tok+`"}`),
			formRequest(t, f.app.URL+"/backchannel-logout", "application/x-www-form-urlencoded", "other=1"),
			formRequest(t, f.app.URL+"/backchannel-logout", "application/x-www-form-urlencoded", "logout_token="+tok+"&logout_token="+tok),
			formRequest(t, f.app.URL+"/backchannel-logout", "application/x-www-form-urlencoded", "logout_token="+tok+"&pad="+strings.Repeat("a", maxLogoutRequestBytes)),
		} {
			resp, err := f.app.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d", req.Method, req.Header.Get("Content-Type"), resp.StatusCode)
			}
		}
		if !f.signedIn() {
			t.Error("a malformed request ended the session")
		}
	})
}

// Sign-out revokes the session: a copy of its cookie taken before is
// refused afterwards.
func TestSignOutRevokesCopies(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	copied := f.auth.sessionCookie + "=" + f.cookie(f.auth.sessionCookie)
	wantStatus(t, f.do("POST", "/sign-out", http.Header{"Origin": {f.app.URL}}), http.StatusSeeOther)
	resp := f.withCookie("/api/me", copied)
	wantStatus(t, resp, http.StatusUnauthorized)
}

func TestMemoryRevocations(t *testing.T) {
	t.Parallel()
	m := NewMemoryRevocations()
	ctx := context.Background()
	at := time.Unix(1_000_000, 0)
	until := time.Now().Add(time.Hour)
	if err := m.Revoke(ctx, Revocation{At: at, Until: until}); err == nil {
		t.Error("an empty revocation was accepted")
	}
	if err := m.Revoke(ctx, Revocation{ProviderSID: "s", Subject: "u", At: at, Until: until}); err == nil {
		t.Error("a revocation naming two kinds was accepted")
	}
	for _, r := range []Revocation{{SessionID: "id-1"}, {ProviderSID: "sid-1"}, {Subject: "sub-1"}} {
		r.At, r.Until = at, until
		if err := m.Revoke(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		id, sid, sub string
		signedIn     time.Time
		want         bool
	}{
		{"id-1", "", "", at, true},
		{"id-2", "sid-1", "", at.Add(-time.Hour), true},
		{"id-2", "", "sub-1", at, true},
		{"id-2", "", "sub-1", at.Add(time.Second), false}, // signed in after the cut-off
		{"id-2", "sid-2", "sub-2", at, false},
	} {
		if got := m.IsRevoked(c.id, c.sid, c.sub, c.signedIn); got != c.want {
			t.Errorf("IsRevoked(%q, %q, %q, %v) = %v", c.id, c.sid, c.sub, c.signedIn.Sub(at), got)
		}
	}
	n := 0
	m.Range(func(Revocation) bool { n++; return true })
	if n != 3 || m.len() != 3 {
		t.Errorf("Range saw %d records, Len %d", n, m.len())
	}
	// Expired records are swept.
	old := &MemoryRevocations{now: func() time.Time { return until.Add(time.Hour) }}
	_ = old.Revoke(ctx, Revocation{ProviderSID: "gone", At: at, Until: until})
	_ = old.Revoke(ctx, Revocation{ProviderSID: "kept", At: at, Until: until.Add(2 * time.Hour)})
	if old.len() != 1 || old.IsRevoked("", "gone", "", at) {
		t.Errorf("an expired record was kept (%d records)", old.len())
	}
	if first, _ := m.FirstUse(ctx, "j", until); !first {
		t.Error("first jti use refused")
	}
	if again, _ := m.FirstUse(ctx, "j", until); again {
		t.Error("a replayed jti was accepted")
	}
}

func formRequest(t *testing.T, target, ctype, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", ctype)
	return r
}

func newJar() *cookiejar.Jar {
	j, _ := cookiejar.New(nil)
	return j
}

// A back-channel logout speaks for the OpenID provider: a subject it names
// never ends the session of a plain OAuth 2.0 user with the same id.
func TestBackChannelLogoutLeavesOAuth2Sessions(t *testing.T) {
	t.Parallel()
	gh := github()
	f := newOAuth2Flow(t, true, []*fake{gh}, nil)
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	sub := f.user().Subject
	wantStatus(t, f.postLogout(f.logoutToken(oidcauthtest.LogoutTokenOptions{Subject: sub})), http.StatusOK)
	if !f.signedIn() {
		t.Error("an OIDC logout token for the same id ended a GitHub session")
	}
}

// An app with only plain OAuth 2.0 providers has no back-channel endpoint.
func TestNoBackChannelWithoutIssuer(t *testing.T) {
	t.Parallel()
	for _, oidc := range []bool{true, false} {
		f := newOAuth2Flow(t, oidc, []*fake{github()}, nil)
		mux := http.NewServeMux()
		f.auth.Mount(mux)
		_, pattern := mux.Handler(mustRequest(t, "POST", f.app.URL+"/backchannel-logout"))
		if mounted := pattern != ""; mounted != oidc {
			t.Errorf("with an OpenID provider %v, back-channel logout mounted %v", oidc, mounted)
		}
	}
}

// failingRevocations fails its first Revoke, as a shared store does during
// a blip.
type failingRevocations struct {
	*MemoryRevocations
	failures int
}

func (f *failingRevocations) Revoke(ctx context.Context, r Revocation) error {
	if f.failures > 0 {
		f.failures--
		return errors.New("store unreachable")
	}
	return f.MemoryRevocations.Revoke(ctx, r)
}

// A logout that could not be recorded answers 500, and the provider's
// retry of the same token is taken, not refused as a replay.
func TestBackChannelLogoutRetryAfterFailure(t *testing.T) {
	t.Parallel()
	store := &failingRevocations{MemoryRevocations: NewMemoryRevocations(), failures: 1}
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) { c.Revocations = store })
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	s := f.currentSession()
	tok := f.logoutToken(oidcauthtest.LogoutTokenOptions{Subject: s.user.Subject, SID: s.sid})
	wantStatus(t, f.postLogout(tok), http.StatusInternalServerError)
	wantStatus(t, f.postLogout(tok), http.StatusOK)
	if f.signedIn() {
		t.Error("the retried logout did not end the session")
	}
	wantStatus(t, f.postLogout(tok), http.StatusBadRequest) // a replay after success
}

// A refresh of the provider's metadata keeps the cached signing keys:
// they work through a JWKS outage that outlasts the metadata's lifetime.
func TestMetadataRefreshKeepsKeys(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	old := f.auth.discovery.cached()
	f.clock.Advance(metadataTTL + time.Minute)
	f.idp.Misbehave(oidcauthtest.Misbehavior{JWKSStatus: http.StatusInternalServerError})
	_ = f.auth.Discover(context.Background()) // the stale copy; a refresh starts
	f.auth.discovery.waitFetch()
	now := f.auth.discovery.cached()
	if now == old {
		t.Fatal("the metadata was not refreshed")
	}
	if now.keys != old.keys {
		t.Error("the refreshed metadata dropped the cached signing keys")
	}
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
}

// waitFetch waits for the end of the background fetch running now, if any
// (it ends within discoveryTimeout).
func (d *discovery) waitFetch() {
	d.mu.Lock()
	ch := d.inflight
	d.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// The back-channel logout endpoint, fed arbitrary logout_token values
// derived from tokens signed with a key the provider never published: no
// input may panic, be accepted, or revoke anything, since no mutation can
// forge the signature.
func FuzzLogoutToken(f *testing.F) {
	idp := oidcauthtest.NewServer(f, oidcauthtest.Options{ClientSecret: "s3cr3t"})
	a, err := New(Config{
		Issuer: idp.Issuer(), ClientID: oidcauthtest.DefaultClientID, ClientSecret: "s3cr3t",
		RedirectURL: "https://app.example.com/callback", SessionKeys: [][]byte{testKey(1)},
		HTTPClient: idp.Client(), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	h := a.BackChannelLogoutHandler()
	for _, o := range []oidcauthtest.LogoutTokenOptions{
		{Subject: "u-1", SID: "sid-1"},
		{SID: "sid-2", Typ: "JWT"},
		{Subject: "u-3", Claims: func(c map[string]any) { c["nonce"] = "n" }},
	} {
		o.Misbehavior = oidcauthtest.Misbehavior{SignWithUnknownKey: true}
		tok, err := idp.LogoutToken(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1In0.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		body := url.Values{"logout_token": {tok}}.Encode()
		r := httptest.NewRequest("POST", "https://app.example.com/backchannel-logout", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		// 400, or 503 for a key the key set does not hold (the provider
		// would retry): never 200, never a fault.
		if w.Code != http.StatusBadRequest && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d for a token no key signed", w.Code)
		}
		if n := a.cfg.Revocations.(*MemoryRevocations).len(); n != 0 {
			t.Fatalf("%d revocations recorded from an unsigned token", n)
		}
	})
}
