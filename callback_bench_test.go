package oidcauth

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// logtoUser is the typical Logto user of testdata/logto-session.json, for
// the in-process provider: its ID token carries the same claims.
func logtoUser(tb testing.TB) oidcauthtest.User {
	tb.Helper()
	c := loadLogtoFixture(tb).IDTokenClaims
	u := oidcauthtest.User{
		Subject: c["sub"].(string), Name: c["name"].(string), Email: c["email"].(string),
		EmailVerified: c["email_verified"].(bool), Picture: c["picture"].(string), Username: c["username"].(string),
		Extra: map[string]any{},
	}
	// What the provider sets itself (and the profile claims above) stays
	// out of Extra.
	for _, k := range []string{"sub", "name", "email", "email_verified", "picture", "username", "iss", "aud", "exp", "iat", "nonce", "at_hash", "sid"} {
		delete(c, k)
	}
	for k, v := range c {
		u.Extra[k] = v
	}
	// The code exchange gives an opaque access token (Logto issues a JWT
	// one per API resource, on a refresh); Logto's custom_data stands in
	// for the fixture's 0.8 KB JWT access token, so the session is as big.
	u.Extra["custom_data"] = map[string]any{
		"plan": "business", "seats": 25, "region": "eu-central-1",
		"preferences": map[string]any{"theme": "dark", "locale": "en-GB", "timezone": "Europe/Berlin", "digest": "weekly"},
		"onboarding":  strings.Repeat("step-completed;", 26),
	}
	return u
}

// memTransport serves a provider in memory, with no socket. With replay
// set it answers the token endpoint with the first response it recorded,
// so a benchmark measures the relying party and not the provider's RSA
// signing.
type memTransport struct {
	h      http.Handler
	mu     sync.Mutex
	replay bool
	token  []byte
}

func (t *memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	isToken := strings.HasSuffix(r.URL.Path, "/token")
	t.mu.Lock()
	body := t.token
	t.mu.Unlock()
	if isToken && t.replay && body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		return &http.Response{
			StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"Content-Type": {"application/json"}},
			Body:    io.NopCloser(bytes.NewReader(body)),
			Request: r, ContentLength: int64(len(body)),
		}, nil
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	res := rec.Result()
	if isToken && res.StatusCode == http.StatusOK {
		t.mu.Lock()
		t.token = rec.Body.Bytes()
		t.mu.Unlock()
	}
	res.Request = r
	return res, nil
}

// statusWriter is a ResponseWriter that keeps the status and headers only.
type statusWriter struct {
	h    http.Header
	code int
}

func (w *statusWriter) Header() http.Header         { return w.h }
func (w *statusWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *statusWriter) WriteHeader(code int)        { w.code = code }

// logtoSignIn starts a sign-in with a typical Logto user against an
// in-process provider reached through memory, and returns the callback
// request the provider redirected the browser to, with the browser's
// transaction cookie.
func logtoSignIn(tb testing.TB) (*Auth, *oidcauthtest.Provider, *memTransport, *http.Request) {
	tb.Helper()
	const secret = "s3cr3t-client-value"
	idp, err := oidcauthtest.New("https://idp.example.com/oidc", oidcauthtest.Options{ClientSecret: secret, User: logtoUser(tb)})
	if err != nil {
		tb.Fatal(err)
	}
	tr := &memTransport{h: idp}
	a, err := New(Config{
		Issuer:       idp.Issuer(),
		ClientID:     oidcauthtest.DefaultClientID,
		ClientSecret: secret,
		RedirectURL:  "https://app.example.com/callback",
		SessionKeys:  [][]byte{testKey(1)},
		Resources:    []string{apiResource}, // a JWT access token, as Logto issues for an API
		HTTPClient:   &http.Client{Transport: tr},
		// Log lines are formatted as in production, then dropped.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	start := httptest.NewRecorder()
	a.SignIn(start, httptest.NewRequest("GET", "https://app.example.com/sign-in", nil))
	authz := httptest.NewRecorder()
	idp.ServeHTTP(authz, httptest.NewRequest("GET", start.Header().Get("Location"), nil))
	back := authz.Header().Get("Location")
	if !strings.HasPrefix(back, "https://app.example.com/callback?") {
		tb.Fatalf("provider redirected to %q", back)
	}
	return a, idp, tr, sessionRequest("GET", back, start)
}

// sessionCookieSize is the size of the session cookie a response set, or 0
// when it set none or split it.
func sessionCookieSize(a *Auth, h http.Header) int {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == a.sessionCookie && c.MaxAge > 0 {
			return len(c.Name) + 1 + len(c.Value)
		}
	}
	return 0
}

// BenchmarkCallback is the callback's own CPU work for a typical Logto
// sign-in: transaction, code exchange (request built, response parsed),
// RS256 ID token verification, session encoding and sealing. The provider
// answers from memory with a recorded token response, so its network and
// signing time are excluded. Target: under 150 µs; discovery and the JWKS
// are fetched once, not per sign-in.
//
//	go test -run '^$' -bench BenchmarkCallback -count 10 . | benchstat -
func BenchmarkCallback(b *testing.B) {
	a, idp, tr, cb := logtoSignIn(b)
	h := a.CallbackHandler()
	w := &statusWriter{h: http.Header{}}
	h.ServeHTTP(w, cb) // records the token response; fetches discovery and keys
	size := sessionCookieSize(a, w.h)
	if w.code != http.StatusSeeOther || size == 0 {
		b.Fatalf("sign-in failed: %d", w.code)
	}
	tr.replay = true
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		w.h = http.Header{}
		w.code = 0
		h.ServeHTTP(w, cb)
		if w.code != http.StatusSeeOther {
			b.Fatalf("callback answered %d", w.code)
		}
	}
	cpu.report(b)
	if d, k := idp.Calls("discovery"), idp.Calls("jwks"); d != 1 || k != 1 {
		b.Fatalf("discovery fetched %d times, JWKS %d times; want once each", d, k)
	}
	b.ReportMetric(float64(size), "cookie-B")
}

// A real sign-in of the typical Logto user fits in one cookie of at most
// 3.2 KB, with every token in it.
func TestTypicalSignIn(t *testing.T) {
	t.Parallel()
	a, _, _, cb := logtoSignIn(t)
	w := &statusWriter{h: http.Header{}}
	a.CallbackHandler().ServeHTTP(w, cb)
	if w.code != http.StatusSeeOther {
		t.Fatalf("callback answered %d", w.code)
	}
	size := sessionCookieSize(a, w.h)
	if size == 0 || size > 3200 {
		t.Fatalf("typical Logto session cookie is %d bytes, want one cookie of at most 3200", size)
	}
	rec := httptest.NewRecorder()
	for _, v := range w.h.Values("Set-Cookie") {
		rec.Header().Add("Set-Cookie", v)
	}
	s, _ := a.readSession(sessionRequest("GET", "/", rec))
	if s == nil || s.refreshToken == "" || s.accessToken.empty() || s.idToken.seg[0] == "" {
		t.Fatal("session lacks an access token, RS256 ID token or refresh token")
	}
	t.Logf("typical Logto session cookie: %d bytes", size)
}

// Sign-ins after the first reuse the provider's metadata and keys.
func TestCallbackFetchesMetadataOnce(t *testing.T) {
	t.Parallel()
	a, idp, _, cb := logtoSignIn(t)
	h := a.CallbackHandler()
	for i := range 3 {
		if i > 0 {
			// A new sign-in through the same Auth.
			start := httptest.NewRecorder()
			a.SignIn(start, httptest.NewRequest("GET", "https://app.example.com/sign-in", nil))
			authz := httptest.NewRecorder()
			idp.ServeHTTP(authz, httptest.NewRequest("GET", start.Header().Get("Location"), nil))
			cb = sessionRequest("GET", authz.Header().Get("Location"), start)
		}
		w := &statusWriter{h: http.Header{}}
		h.ServeHTTP(w, cb)
		if w.code != http.StatusSeeOther {
			t.Fatalf("sign-in %d: callback answered %d", i, w.code)
		}
	}
	if d, k, tok := idp.Calls("discovery"), idp.Calls("jwks"), idp.Calls("token"); d != 1 || k != 1 || tok != 3 {
		t.Errorf("three sign-ins: discovery %d, JWKS %d, token %d calls; want 1, 1, 3", d, k, tok)
	}
}

// BenchmarkSessionEncode is the cost of writing the typical session:
// "sign-in" a fresh cookie, "refresh" the re-issue of one the request
// carries (rolling idle timeout, new tokens), which also looks for stale
// chunks to clear.
//
//	go test -run '^$' -bench BenchmarkSessionEncode -count 10 . | benchstat -
func BenchmarkSessionEncode(b *testing.B) {
	for _, bc := range []struct {
		name  string
		fresh bool
	}{{"sign-in", true}, {"refresh", false}} {
		b.Run(bc.name, func(b *testing.B) {
			a, r, _ := typicalRequest(b)
			if bc.fresh {
				r = httptest.NewRequest("GET", "https://app.example.com/callback", nil)
			}
			s, _, _ := typicalSession(b, time.Now())
			w := nopWriter{http.Header{}}
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				clear(w.h)
				if err := a.writeSession(w, r, s, bc.fresh); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
			b.ReportMetric(float64(sessionCookieSize(a, w.h)), "cookie-B")
		})
	}
}
