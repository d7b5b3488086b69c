package oidcauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// newBrowser gives f an empty cookie jar: the next sign-in is another
// browser's (another device's) session.
func (f *flow) newBrowser() {
	f.jar, _ = cookiejar.New(nil)
	f.client.Jar = f.jar
}

// A user signed in on two devices, and another user, on two instances
// sharing the revocation store: signing the first user out everywhere on
// B refuses both of their sessions on A and B at once, leaves the other
// user alone, and lets the user sign in again.
func TestSignOutEverywhere(t *testing.T) {
	t.Parallel()
	f := tokenFlow(t, oidcauthtest.Options{}, nil)
	bAuth, b := f.instance(nil)
	name := f.auth.sessionCookie
	var devices []string
	for range 2 {
		f.newBrowser()
		wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
		devices = append(devices, name+"="+f.cookie(name))
	}
	user := f.currentSession().user
	f.idp.SetUser(oidcauthtest.User{Subject: "someone-else", Name: "Someone Else"})
	f.newBrowser()
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	other := name + "=" + f.cookie(name)
	status := func(cookie, target string) int {
		s, _, _ := fetch(t, f.client, target+"/profile", cookie, name)
		return s
	}
	for _, c := range append(devices, other) {
		if status(c, f.app.URL) != http.StatusOK || status(c, b.URL) != http.StatusOK {
			t.Fatal("not signed in before")
		}
	}

	if err := bAuth.SignOutEverywhere(context.Background(), user.Issuer, user.Subject); err != nil {
		t.Fatal(err)
	}
	for i, c := range devices {
		for _, target := range []string{f.app.URL, b.URL} {
			if got := status(c, target); got != http.StatusSeeOther {
				t.Errorf("device %d at %s: %d, want a redirect to sign in", i, target, got)
			}
		}
	}
	if status(other, f.app.URL) != http.StatusOK || status(other, b.URL) != http.StatusOK {
		t.Error("another user was signed out")
	}

	// A sign-in after it (and after ClockSkew, see
	// TestSignOutEverywhereHoldsWithSkewedClocks) is valid.
	f.clock.Advance(f.auth.cfg.ClockSkew + time.Second)
	f.idp.SetUser(oidcauthtest.User{Subject: user.Subject, Name: user.Name})
	f.newBrowser()
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if !f.signedIn() {
		t.Error("a sign-in after signing out everywhere is refused")
	}

	if err := f.auth.SignOutEverywhere(context.Background(), "https://elsewhere.example", "x"); !errors.Is(err, ErrUnknownProvider) {
		t.Errorf("unknown issuer: %v", err)
	}
}

// A plain OAuth 2.0 provider's user is signed out by the provider's issuer
// (its authorization endpoint) and id; the same id at the OpenID provider
// is another user.
func TestSignOutEverywhereOAuth2(t *testing.T) {
	t.Parallel()
	gh := github()
	f := newOAuth2Flow(t, true, []*fake{gh}, nil)
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	u := f.user()
	if err := f.auth.SignOutEverywhere(context.Background(), f.idp.Issuer(), u.Subject); err != nil {
		t.Fatal(err)
	}
	if !f.signedIn() {
		t.Error("signing out an OpenID subject ended a GitHub user's session")
	}
	if err := f.auth.SignOutEverywhere(context.Background(), u.Issuer, u.Subject); err != nil {
		t.Fatal(err)
	}
	if f.signedIn() {
		t.Error("the GitHub user is still signed in")
	}
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusForbidden)
	f.clock.Advance(f.auth.cfg.ClockSkew + time.Second)
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	if !f.signedIn() {
		t.Error("a GitHub sign-in after the window is refused")
	}
}

// Signing out everywhere holds whatever the instances' clocks say: a
// session opened moments before on an instance whose clock runs 30 s
// ahead is ended on every instance. A sign-in within ClockSkew afterwards
// cannot be told from such a session: it is refused at the callback (no
// session, no redirect loop through RequireAuth), and one after that
// window is valid.
func TestSignOutEverywhereHoldsWithSkewedClocks(t *testing.T) {
	t.Parallel()
	ahead, behind, copied := signedInAhead(t)
	user := ahead.currentSession().user
	if err := behind.SignOutEverywhere(context.Background(), user.Issuer, user.Subject); err != nil {
		t.Fatal(err)
	}
	refusedOnBoth(t, ahead, behind, copied)

	ahead.newBrowser()
	wantStatus(t, ahead.signIn("/sign-in"), http.StatusForbidden)
	if ahead.cookie(ahead.auth.sessionCookie) != "" {
		t.Error("a sign-in within ClockSkew of signing out everywhere left a session cookie")
	}
	ahead.clock.Advance(behind.cfg.ClockSkew)
	ahead.newBrowser()
	wantStatus(t, ahead.signIn("/sign-in"), http.StatusSeeOther)
	if !ahead.signedIn() {
		t.Error("a sign-in after the window is refused")
	}
}
