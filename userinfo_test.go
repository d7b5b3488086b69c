package oidcauth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// Userinfo claims merge over the ID token's exactly: big numbers and nested
// objects keep their form.
func TestFetchUserInfoMergesExactly(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{User: oidcauthtest.User{Subject: "u-1", Name: "N", Extra: map[string]any{
		"custom_data": map[string]any{"plan": "pro"},
		"big":         uint64(12345678901234567890),
	}}}, func(c *Config) { c.UserInfo = UserInfoAlways; c.Scopes = []string{"openid"} })
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if f.idp.Calls("userinfo") != 1 {
		t.Errorf("userinfo called %d times", f.idp.Calls("userinfo"))
	}
	r, _ := http.NewRequest("GET", f.app.URL, nil)
	for _, c := range f.jar.Cookies(r.URL) {
		r.AddCookie(c)
	}
	s, _ := f.auth.readSession(r)
	if s == nil {
		t.Fatal("not signed in")
	}
	var c struct {
		Sub        string                `json:"sub"`
		Nonce      string                `json:"nonce"`
		Big        json.RawMessage       `json:"big"`
		CustomData struct{ Plan string } `json:"custom_data"`
	}
	if err := s.user.Claims(&c); err != nil || c.Sub != "u-1" || c.Nonce == "" || string(c.Big) != "12345678901234567890" || c.CustomData.Plan != "pro" {
		t.Errorf("merged claims = %+v (%v)", c, err)
	}
}

// echoTransport answers the userinfo endpoint with an error page that
// echoes the request's Authorization header, as a misconfigured proxy may.
type echoTransport struct{ base http.RoundTripper }

func (e echoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/me") {
		return e.base.RoundTrip(r)
	}
	return &http.Response{
		StatusCode: http.StatusBadGateway,
		Header:     http.Header{"Content-Type": {"text/html"}, "Www-Authenticate": {`Bearer error="invalid_token"`}},
		Body:       io.NopCloser(strings.NewReader("<pre>Authorization: " + r.Header.Get("Authorization") + "</pre>")),
		Request:    r,
	}, nil
}

func TestUserInfoErrorLeaksNothing(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) {
		c.UserInfo = UserInfoAlways
		c.HTTPClient = &http.Client{Transport: echoTransport{c.HTTPClient.Transport}}
	})
	cb := f.startSignIn("/sign-in")
	resp := f.get(cb.String())
	wantStatus(t, resp, http.StatusBadGateway)
	page := body(t, resp)
	f.assertFailedCleanly(t, resp, page, cb)
	logs := f.logs.String()
	if strings.Contains(logs, "Bearer") || strings.Contains(page, "Bearer") || strings.Contains(logs, "<pre>") {
		t.Errorf("the echoed access token reached the logs or the page:\n%s", logs)
	}
	if !strings.Contains(logs, "invalid_token") || !strings.Contains(logs, "502") {
		t.Errorf("the log line lost the status and error code:\n%s", logs)
	}
}

// The one subject check: a string sub equal to the expected one, nothing
// else (OIDC Core §5.3.2; a number, null or an absent sub is refused).
func TestSameSubject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"sub":"u-1"}`, true},
		{`{"sub":"u-2"}`, false},
		{`{"sub":"U-1"}`, false},
		{`{"sub":1}`, false},
		{`{"sub":null}`, false},
		{`{"name":"u-1"}`, false},
		{`{"sub":""}`, false},
	} {
		var claims map[string]json.RawMessage
		if err := json.Unmarshal([]byte(tc.body), &claims); err != nil {
			t.Fatal(err)
		}
		err := sameSubject(claimsSubject(claims), "u-1")
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrUserInfo)) {
			t.Errorf("%s: %v", tc.body, err)
		}
	}
	if sameSubject("", "") == nil {
		t.Error("an empty subject matched")
	}
}

func TestFetchUserInfoOnDemand(t *testing.T) {
	t.Parallel()
	user := oidcauthtest.User{Subject: "u-9", Name: "Nine", Email: "nine@example.com", EmailVerified: true}
	f := tokenFlow(t, oidcauthtest.Options{User: user}, nil)
	f.mux.Handle("/userinfo", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := f.auth.FetchUserInfo(w, r)
		if err != nil {
			w.WriteHeader(ErrorStatus(err))
			io.WriteString(w, sentinelName(err))
			return
		}
		io.WriteString(w, u.Subject+" "+u.Name+" "+u.Email)
	})))
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	resp := f.get("/userinfo")
	if got := body(t, resp); resp.StatusCode != http.StatusOK || got != "u-9 Nine nine@example.com" {
		t.Errorf("userinfo: %d %q", resp.StatusCode, got)
	}
	f.idp.Misbehave(oidcauthtest.Misbehavior{UserInfoSubject: "u-other"})
	resp = f.get("/userinfo")
	if got := body(t, resp); resp.StatusCode != http.StatusBadGateway || got != ErrUserInfo.Error() {
		t.Errorf("another subject: %d %q", resp.StatusCode, got)
	}
	// After expiry, the token is refreshed first.
	f.idp.Misbehave(oidcauthtest.Misbehavior{})
	f.clock.Advance(11 * time.Minute)
	calls := f.idp.Calls("token")
	wantStatus(t, f.get("/userinfo"), http.StatusOK)
	if f.idp.Calls("token") != calls+1 {
		t.Error("an expired token was sent to userinfo")
	}
}
