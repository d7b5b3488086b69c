package oidcauth

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// Providers that keep profile and e-mail claims for userinfo when they
// issue an access token (node-oidc-provider, zitadel) still show the user:
// by default, sign-in fetches userinfo when the ID token lacks what the
// scopes asked for, and only then.
func TestUserInfoModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		mode          UserInfoMode
		userInfoOnly  bool // the provider keeps profile and e-mail claims for userinfo
		scopes        []string
		wantCalls     int
		wantName      string
		wantEmail     string
		wantVerified  bool
		wantStatusNot int
	}{
		{name: "auto, claims only in userinfo", userInfoOnly: true, wantCalls: 1, wantName: "Ada", wantEmail: "ada@example.com", wantVerified: true},
		{name: "auto, claims in the ID token", wantCalls: 0, wantName: "Ada", wantEmail: "ada@example.com", wantVerified: true},
		{name: "auto, nothing asked", userInfoOnly: true, scopes: []string{"openid", "offline_access"}, wantCalls: 0},
		{name: "auto, e-mail only asked", userInfoOnly: true, scopes: []string{"openid", "email"}, wantCalls: 1, wantEmail: "ada@example.com", wantVerified: true},
		{name: "never", mode: UserInfoNever, userInfoOnly: true, wantCalls: 0},
		{name: "always", mode: UserInfoAlways, wantCalls: 1, wantName: "Ada", wantEmail: "ada@example.com", wantVerified: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{
				ClaimsInUserInfoOnly: tc.userInfoOnly,
				User:                 oidcauthtest.User{Subject: "u-1", Name: "Ada", Email: "ada@example.com", EmailVerified: true},
			}, func(c *Config) { c.UserInfo, c.Scopes, c.ExactScopes = tc.mode, tc.scopes, tc.scopes != nil })
			wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
			if got := f.idp.Calls("userinfo"); got != tc.wantCalls {
				t.Errorf("userinfo called %d times, want %d", got, tc.wantCalls)
			}
			u := f.user()
			if u.Subject != "u-1" || u.Name != tc.wantName || u.Email != tc.wantEmail || u.EmailVerified != tc.wantVerified {
				t.Errorf("user = %+v, want name %q, e-mail %q", u, tc.wantName, tc.wantEmail)
			}
		})
	}
}

// In the automatic mode a failing userinfo (an access token issued for an
// API resource, a provider fault, another subject) costs the merge, not the
// sign-in; with UserInfoAlways it fails the sign-in.
func TestUserInfoFailureAutoKeepsIDTokenClaims(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		m    oidcauthtest.Misbehavior
	}{
		{"provider fault", oidcauthtest.Misbehavior{UserInfoStatus: http.StatusInternalServerError}},
		{"another subject", oidcauthtest.Misbehavior{UserInfoSubject: "someone-else"}},
	} {
		t.Run(tc.name+", auto", func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{ClaimsInUserInfoOnly: true, User: oidcauthtest.User{Subject: "u-1", Name: "Ada", Extra: map[string]any{"roles": []string{"admin"}}}}, nil)
			f.idp.Misbehave(tc.m)
			wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
			u := f.user()
			if u.Subject != "u-1" || u.Name != "" || len(u.Roles()) != 1 {
				t.Errorf("user = %+v; want the ID token's claims only", u)
			}
			if f.idp.Calls("userinfo") != 1 || !strings.Contains(f.logs.String(), "userinfo_failed") {
				t.Errorf("userinfo calls %d; logs:\n%s", f.idp.Calls("userinfo"), f.logs.String())
			}
		})
		t.Run(tc.name+", always", func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{ClaimsInUserInfoOnly: true}, func(c *Config) { c.UserInfo = UserInfoAlways })
			f.idp.Misbehave(tc.m)
			cb := f.startSignIn("/sign-in")
			resp := f.get(cb.String())
			wantStatus(t, resp, http.StatusBadGateway)
			f.assertFailedCleanly(t, resp, body(t, resp), cb)
		})
	}
}

// Userinfo adds and updates the user's claims but never replaces the ID
// token's protocol claims: a "sid" from userinfo would otherwise decide
// which back-channel logout ends the session.
func TestMergeClaimsKeepsProtocolClaims(t *testing.T) {
	t.Parallel()
	id := json.RawMessage(`{"sub":"u-1","iss":"https://idp","aud":"c","sid":"s-1","nonce":"n","exp":2,"iat":1,"name":"old"}`)
	extra := map[string]json.RawMessage{
		"sub": json.RawMessage(`"u-1"`), "iss": json.RawMessage(`"https://evil"`), "sid": json.RawMessage(`"s-2"`),
		"aud": json.RawMessage(`"x"`), "nonce": json.RawMessage(`"m"`), "exp": json.RawMessage(`9`),
		"name": json.RawMessage(`"new"`), "big": json.RawMessage(`12345678901234567890`),
	}
	out, err := mergeClaims(id, extra)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"iss": `"https://idp"`, "sid": `"s-1"`, "aud": `"c"`, "nonce": `"n"`, "exp": `2`, "name": `"new"`, "big": `12345678901234567890`} {
		if string(got[k]) != want {
			t.Errorf("%s = %s, want %s", k, got[k], want)
		}
	}
}

// Nor does userinfo add a protocol claim the ID token lacks: sid, acr,
// amr and auth_time describe the sign-in the ID token signed, and a sid
// taken from userinfo would decide which back-channel logout ends the
// session, an acr or amr what a Claim requirement reads as the strength
// of the sign-in.
func TestMergeClaimsAddsNoProtocolClaims(t *testing.T) {
	t.Parallel()
	id := json.RawMessage(`{"sub":"u-1","iss":"https://idp","aud":"c","exp":2,"iat":1}`)
	extra := map[string]json.RawMessage{
		"sub": json.RawMessage(`"u-1"`), "sid": json.RawMessage(`"s-2"`), "acr": json.RawMessage(`"urn:mfa"`),
		"amr": json.RawMessage(`["mfa"]`), "auth_time": json.RawMessage(`9`), "nbf": json.RawMessage(`1`),
		"email": json.RawMessage(`"u@example.com"`),
	}
	out, err := mergeClaims(id, extra)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sid", "acr", "amr", "auth_time", "nbf"} {
		if v, ok := got[k]; ok {
			t.Errorf("%s = %s taken from userinfo", k, v)
		}
	}
	if string(got["email"]) != `"u@example.com"` {
		t.Errorf("email = %s: userinfo's profile claims are still added", got["email"])
	}
}

// A userinfo answer larger than the limit is refused, not read into memory.
func TestUserInfoSizeLimited(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{User: oidcauthtest.User{Subject: "u-1", Extra: map[string]any{"blob": strings.Repeat("x", maxUserInfoBytes)}}}, func(c *Config) { c.UserInfo = UserInfoAlways })
	cb := f.startSignIn("/sign-in")
	resp := f.get(cb.String())
	wantStatus(t, resp, http.StatusBadGateway)
}
