package oidcauth

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// logEvents parses JSON log lines into their attributes.
func logEvents(t *testing.T, out string) []map[string]any {
	t.Helper()
	var events []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		events = append(events, e)
	}
	return events
}

// findEvent returns the first event named name, or fails.
func findEvent(t *testing.T, events []map[string]any, name string) map[string]any {
	t.Helper()
	for _, e := range events {
		if e["event"] == name {
			return e
		}
	}
	t.Fatalf("no %q event in the log", name)
	return nil
}

// A real sign-in, a replayed callback, a refused sign-in, a forbidden page
// and a sign-out log one structured event each, and no token, code, secret
// or cookie value reaches the log.
func TestLogEventsWithoutSecrets(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	const secret = "client-secret-4c1f9a0e7b"
	f := newFlow(t, oidcauthtest.Options{
		ClientSecret:    secret,
		DefaultResource: true,
		User:            oidcauthtest.User{Subject: "u-7", Name: "Lin", Email: "lin@example.com", Extra: map[string]any{"roles": []string{"viewer"}}},
	}, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Resources = []string{"https://api.example.com"}
	})
	mux := http.NewServeMux()
	mux.Handle("/admin", f.auth.Require(AnyRole("admin"))(protected))
	mux.Handle("/", f.app.Config.Handler)
	f.app.Config.Handler = mux

	cb := f.startSignIn("/sign-in")
	code := cb.Query().Get("code")
	wantStatus(t, f.get(cb.String()), http.StatusSeeOther)
	r, _ := http.NewRequest("GET", f.app.URL, nil)
	u, _ := url.Parse(f.app.URL)
	var cookies []string
	for _, c := range f.jar.Cookies(u) {
		r.AddCookie(c)
		cookies = append(cookies, c.Value)
	}
	s, _ := f.auth.readSession(r)
	if s == nil || s.accessToken.seg[0] == "" || s.refreshToken == "" {
		t.Fatal("the sign-in did not give a session with a JWT access token and a refresh token")
	}
	wantStatus(t, f.get(cb.String()), http.StatusBadRequest) // replayed: its state is spent
	wantStatus(t, f.get("/admin"), http.StatusForbidden)
	wantStatus(t, f.do("POST", "/sign-out", http.Header{"Sec-Fetch-Site": {"same-origin"}}), http.StatusSeeOther)
	f.idp.Misbehave(oidcauthtest.Misbehavior{AuthorizeError: "access_denied"})
	wantStatus(t, f.signIn("/sign-in"), http.StatusForbidden)

	out := logs.String()
	events := logEvents(t, out)
	findEvent(t, events, "sign_in_started")
	if e := findEvent(t, events, "sign_in_succeeded"); e["user"].(map[string]any)["sub"] != "u-7" {
		t.Errorf("sign_in_succeeded names user %v", e["user"])
	}
	var reasons []any
	for _, e := range events {
		if e["event"] == "sign_in_failed" {
			reasons = append(reasons, e["reason"])
			if e["level"] != "WARN" {
				t.Errorf("a refused sign-in logs at %v", e["level"])
			}
		}
	}
	if len(reasons) != 2 || reasons[0] != "invalid_state" || reasons[1] != "access_denied" {
		t.Errorf("sign_in_failed reasons %v, want [invalid_state access_denied]", reasons)
	}
	if e := findEvent(t, events, "forbidden"); e["path"] != "/admin" || e["reason"] != "forbidden" {
		t.Errorf("forbidden event %v", e)
	}
	findEvent(t, events, "sign_out")

	secrets := map[string]string{
		"ID token":      s.idToken.compact(),
		"access token":  s.accessToken.compact(),
		"refresh token": s.refreshToken,
		"code":          code,
		"client secret": secret,
		"e-mail":        "lin@example.com",
	}
	for i, v := range cookies {
		secrets["cookie "+string(rune('0'+i))] = v
	}
	for what, v := range secrets {
		if v == "" {
			t.Fatalf("%s is empty: the test would prove nothing", what)
		}
		if strings.Contains(out, v) {
			t.Errorf("the %s reached the log", what)
		}
		// A token's payload alone would leak its claims.
		if parts := strings.Split(v, "."); len(parts) == 3 && strings.Contains(out, parts[1]) {
			t.Errorf("the %s's payload reached the log", what)
		}
	}
}

func TestErrorReason(t *testing.T) {
	t.Parallel()
	for _, e := range errorStatuses {
		wrapped := fail(e.err, &ProviderError{Code: "x"})
		if got := ErrorReason(wrapped); got != e.reason {
			t.Errorf("ErrorReason(%v) = %q, want %q", e.err, got, e.reason)
		}
		if e.reason == "" || strings.ContainsAny(e.reason, " -") {
			t.Errorf("reason %q is not a short snake_case code", e.reason)
		}
	}
	if got := ErrorReason(errInternalForTest); got != "internal" {
		t.Errorf("unknown error: %q", got)
	}
}

var errInternalForTest = &ProviderError{Code: "not a sentinel"}
