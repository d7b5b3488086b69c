package oidcauth

import (
	"context"
	"errors"
	"net/http"
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
