package oidcauth

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// Native fuzz targets. `go test` runs each over its seeds (below and in
// testdata/fuzz/<name>); scripts/fuzz.sh runs each for a bounded time. A
// crash input found by fuzzing is added to testdata/fuzz/<name> as a
// regression case.

// The session payload decoder, behind the cookie's AEAD: whatever it
// accepts survives a round trip unchanged, and nothing makes it panic.
func FuzzUnmarshalSession(f *testing.F) {
	s, _, _ := typicalSession(f, time.Unix(1_700_000_000, 0))
	f.Add(s.marshal(nil))
	s.user.claims = `{"sub":"k3xq9pl2vz8m","roles":["admin"]}`
	f.Add(s.marshal(nil))
	f.Add([]byte{sessionFormat})
	f.Add([]byte{sessionFormat, 0x80, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, p []byte) {
		s1, err := unmarshalSession(string(p), "https://issuer.example")
		if err != nil {
			return
		}
		s2, err := unmarshalSession(string(s1.marshal(nil)), "https://issuer.example")
		if err != nil {
			t.Fatalf("a session that decoded does not decode after re-encoding: %v", err)
		}
		if !reflect.DeepEqual(s1, s2) {
			t.Fatalf("round trip changed the session:\n%+v\n%+v", s1, s2)
		}
	})
}

// The transaction payload decoder: the same properties.
func FuzzUnmarshalTransaction(f *testing.F) {
	f.Add(newTransaction("/profile?tab=1", time.Unix(1_700_000_000, 0)).marshal())
	f.Add([]byte{txFormat})
	f.Fuzz(func(t *testing.T, p []byte) {
		t1, err := unmarshalTransaction(p)
		if err != nil {
			return
		}
		t2, err := unmarshalTransaction(t1.marshal())
		if err != nil || !reflect.DeepEqual(t1, t2) {
			t.Fatalf("round trip: %+v -> %+v, %v", t1, t2, err)
		}
	})
}

// Whole Cookie headers, as a browser or an attacker sends them: reading the
// session and the pending sign-ins never panics, and nothing but a cookie
// this app sealed opens.
func FuzzCookieHeader(f *testing.F) {
	a := testAuth(f, nil)
	s, _, _ := typicalSession(f, time.Now())
	good := a.codec.Seal(a.sessionCookie, s.marshal(nil))
	f.Add(a.sessionCookie + "=" + good)
	f.Add(a.sessionCookie + "=" + good[:100] + "; " + a.sessionCookie + ".1=" + good[100:])
	f.Add(a.sessionCookie + "=x; " + a.sessionCookie + "=" + good)
	f.Add(a.txPrefix + "AAAAAAAAAAAAAAAA=" + good + "; other=1")
	f.Add(`a="b"; ` + a.sessionCookie + `=""; ;;=`)
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", header)
		// The only session ever sealed under this key is s (the seeds may
		// come from another process, with another nonce): anything else
		// that opens is a forgery.
		if got, _ := a.readSession(r); got != nil && (got.id != s.id || got.user != s.user || got.refreshToken != s.refreshToken) {
			t.Fatalf("a forged session opened: %+v", got.user)
		}
		// The pending sign-ins are read and evicted at sign-in.
		a.saveTransaction(httptest.NewRecorder(), r, newTransaction("/", time.Now()))
	})
}

// returnTo validation: whatever comes in, what goes out is a path on the
// app's own origin, and validating it again changes nothing.
func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{"/", "/profile?x=1", "//evil.example", "/\\evil", "%2F%2Fevil", "https:evil", "javascript:alert(1)",
		"/\t/evil", "/a/../..//evil", "/@evil", "/%2e%2e/x", "/caf%C3%A9", "/x#y", "/;@evil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example.com/callback")
	f.Fuzz(func(t *testing.T, in string) {
		out := safeReturnTo(in)
		if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.ContainsAny(out, "\\\t\r\n\x00") {
			t.Fatalf("safeReturnTo(%q) = %q", in, out)
		}
		ref, err := url.Parse(out)
		if err != nil {
			t.Fatalf("safeReturnTo(%q) = %q, unparseable: %v", in, out, err)
		}
		if got := base.ResolveReference(ref); got.Scheme != "https" || got.Host != "app.example.com" || got.User != nil {
			t.Fatalf("safeReturnTo(%q) = %q resolves to %s", in, out, got)
		}
		if again := safeReturnTo(out); again != out {
			t.Fatalf("safeReturnTo not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}

// The callback's query string, with this browser's real pending sign-in:
// every input answers 4xx/5xx with one of the fixed error pages (so none
// of the input is repeated), and leaves no session. "STATE" and "ISS" in the input stand for the real
// state and issuer, so the fuzzer reaches the checks behind them.
func FuzzCallbackQuery(f *testing.F) {
	idp := oidcauthtest.NewServer(f, oidcauthtest.Options{ClientSecret: "secret"})
	a := testAuth(f, func(c *Config) {
		c.Issuer, c.ClientID, c.ClientSecret, c.HTTPClient = idp.Issuer(), oidcauthtest.DefaultClientID, "secret", idp.Client()
		c.Logger = slog.New(slog.DiscardHandler)
	})
	signIn := httptest.NewRecorder()
	a.SignIn(signIn, httptest.NewRequest("GET", "/sign-in", nil))
	if signIn.Code != http.StatusSeeOther {
		f.Fatalf("sign-in: %d", signIn.Code)
	}
	loc, _ := url.Parse(signIn.Header().Get("Location"))
	state := loc.Query().Get("state")
	// Every page the default error handler can show: one per error class.
	fixedPages := map[string]bool{}
	for _, e := range errorStatuses {
		rec := httptest.NewRecorder()
		writeError(rec, httptest.NewRequest("GET", "/callback", nil), fail(e.err, nil))
		fixedPages[rec.Body.String()] = true
	}
	cancel := httptest.NewRecorder() // the user's own cancel has a page of its own
	writeError(cancel, httptest.NewRequest("GET", "/callback", nil), fail(ErrAccessDenied, &ProviderError{Code: "access_denied"}))
	fixedPages[cancel.Body.String()] = true
	for _, s := range []string{
		"state=STATE&iss=ISS&code=abc",
		"state=STATE&iss=ISS&error=access_denied&error_description=%3Cscript%3E",
		"state=STATE&iss=ISS&code=a&error=b",
		"state=STATE&code=abc",
		"state=STATE&iss=ISS&iss=ISS&code=abc",
		"state=STATE&iss=ISS&code=a&code=b",
		"state=STATE&iss=https%3A%2F%2Fevil.example&code=abc",
		"state=STATE&iss=ISS",
		"state=%00&code=x",
		"state=STATE;code=x",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if len(q) > 4096 {
			return
		}
		q = strings.ReplaceAll(strings.ReplaceAll(q, "STATE", state), "ISS", url.QueryEscape(a.cfg.Issuer))
		r := httptest.NewRequest("GET", "/callback", nil)
		r.URL.RawQuery = q
		for _, c := range signIn.Result().Cookies() {
			r.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		a.CallbackHandler().ServeHTTP(rec, r)
		if rec.Code < 400 || rec.Code > 599 {
			t.Fatalf("query %q answered %d", q, rec.Code)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Name == a.sessionCookie && c.Value != "" {
				t.Fatalf("query %q set a session cookie", q)
			}
		}
		if !fixedPages[rec.Body.String()] {
			t.Fatalf("query %q answered a page that is not one of the fixed error pages:\n%s", q, rec.Body.String())
		}
	})
}
