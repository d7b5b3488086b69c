package oidcauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

func TestOnSignIn(t *testing.T) {
	t.Parallel()
	deny := errors.New("not on the allow list")
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) {
		c.OnSignIn = func(ctx context.Context, u *User) error {
			if u.Email == "test.user@example.com" {
				u.Name = "Mapped Local Name"
				return nil
			}
			return deny
		}
	})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if got := body(t, f.get("/profile")); got != "hello user-1 Mapped Local Name" {
		t.Errorf("OnSignIn change not saved: %q", got)
	}
	f.idp.SetUser(oidcauthtest.User{Subject: "intruder", Email: "x@evil.example"})
	resp := f.signIn("/sign-in")
	wantStatus(t, resp, http.StatusForbidden)
	if f.signedIn() {
		t.Error("denied user has a session")
	}

	// The hook may map the user, never swap the subject.
	g := newFlow(t, oidcauthtest.Options{}, func(c *Config) {
		c.OnSignIn = func(ctx context.Context, u *User) error { u.Subject = "admin"; return nil }
	})
	wantStatus(t, g.signIn("/sign-in"), http.StatusInternalServerError)
	if g.signedIn() {
		t.Error("a hook that changed the subject left a session")
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
