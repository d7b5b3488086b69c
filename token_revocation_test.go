package oidcauth

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// signOut signs the flow's browser out from the app's own page and waits
// for the token revocations it started.
func (f *flow) signOut() *http.Response {
	f.t.Helper()
	resp := f.do("POST", "/sign-out", http.Header{"Origin": {f.app.URL}})
	f.auth.background.Wait()
	return resp
}

// Sign-out revokes the refresh token and the access token at the
// provider's revocation endpoint (RFC 7009), authenticated as the client:
// the old refresh token is refused afterwards.
func TestSignOutRevokesTokens(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	s := f.currentSession()
	if s.refreshToken == "" || !f.idp.RefreshTokenActive(s.refreshToken) {
		t.Fatal("no active refresh token after sign-in")
	}
	wantStatus(t, f.signOut(), http.StatusSeeOther)
	if n := f.idp.Calls("revocation"); n != 2 {
		t.Errorf("%d revocation requests, want 2 (refresh and access token)", n)
	}
	if f.idp.RefreshTokenActive(s.refreshToken) {
		t.Error("the refresh token is still active at the provider after sign-out")
	}
	last := f.idp.LastRevocationRequest()
	if got := last["client_auth"]; len(got) != 1 || got[0] != "client_secret_basic" {
		t.Errorf("revocation client authentication %v", got)
	}
	if got := last["token_type_hint"]; len(got) != 1 || got[0] != "access_token" {
		t.Errorf("last token_type_hint %v", got)
	}
	if strings.Contains(f.logs.String(), s.refreshToken) {
		t.Error("the refresh token reached the log")
	}
}

// A revocation endpoint that fails or hangs neither fails nor holds up the
// sign-out; one the provider does not advertise is not called.
func TestSignOutRevocationBestEffort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		m     oidcauthtest.Misbehavior
		calls int
	}{
		{"failing", oidcauthtest.Misbehavior{RevocationStatus: http.StatusInternalServerError}, 2},
		{"hanging", oidcauthtest.Misbehavior{Delay: map[string]time.Duration{"revocation": time.Hour}}, 1},
		{"not advertised", oidcauthtest.Misbehavior{NoRevocation: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{}, nil)
			f.auth.revocationTimeout = 50 * time.Millisecond
			f.idp.Misbehave(tc.m)
			wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
			rt := f.currentSession().refreshToken
			resp := f.do("POST", "/sign-out", http.Header{"Origin": {f.app.URL}})
			wantStatus(t, resp, http.StatusSeeOther)
			if f.signedIn() {
				t.Error("still signed in")
			}
			f.auth.background.Wait()
			if n := f.idp.Calls("revocation"); n != tc.calls {
				t.Errorf("%d revocation requests, want %d", n, tc.calls)
			}
			logs := f.logs.String()
			if tc.calls > 0 && !strings.Contains(logs, "token_revocation_failed") {
				t.Error("the failed revocation was not logged")
			}
			if strings.Contains(logs, rt) {
				t.Error("the refresh token reached the log")
			}
		})
	}
}

// A session ended by the provider (back-channel logout) or by
// SignOutEverywhere has its tokens revoked when its cookie next arrives:
// that is when they are at hand. Once per session in a process.
func TestEndedSessionTokensRevoked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(f *flow, s *session)
	}{
		{"back-channel logout", func(f *flow, s *session) {
			wantStatus(t, f.postLogout(f.logoutToken(oidcauthtest.LogoutTokenOptions{Subject: s.user.Subject, SID: s.sid})), http.StatusOK)
		}},
		{"sign out everywhere", func(f *flow, s *session) {
			if err := f.auth.SignOutEverywhere(context.Background(), f.auth.cfg.Issuer, s.user.Subject); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{}, nil)
			wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
			s := f.currentSession()
			copied := f.auth.sessionCookie + "=" + f.cookie(f.auth.sessionCookie)
			tc.end(f, s)
			if !f.idp.RefreshTokenActive(s.refreshToken) {
				t.Fatal("the refresh token was revoked before its cookie came back")
			}
			wantStatus(t, f.get("/profile"), http.StatusSeeOther)
			f.auth.background.Wait()
			if f.idp.RefreshTokenActive(s.refreshToken) {
				t.Error("the ended session's refresh token is still active at the provider")
			}
			calls := f.idp.Calls("revocation")
			f.withCookie("/api/me", copied)
			f.auth.background.Wait()
			if n := f.idp.Calls("revocation"); n != calls {
				t.Errorf("a copy of the ended cookie made %d more revocation requests", n-calls)
			}
		})
	}
}

// A copy of a signed-out session's cookie does not revoke its tokens again.
func TestSignedOutCopyNoSecondRevocation(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	copied := f.auth.sessionCookie + "=" + f.cookie(f.auth.sessionCookie)
	wantStatus(t, f.signOut(), http.StatusSeeOther)
	calls := f.idp.Calls("revocation")
	resp := f.withCookie("/api/me", copied)
	wantStatus(t, resp, http.StatusUnauthorized)
	f.auth.background.Wait()
	if n := f.idp.Calls("revocation"); n != calls {
		t.Errorf("%d more revocation requests", n-calls)
	}
}

// A sign-out that finds every revocation slot taken leaves its tokens for
// later, not forgotten: when a copy of its cookie comes back once slots
// are free, they are revoked then.
func TestRevocationSlotsFullNotForgotten(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	s := f.currentSession()
	copied := f.auth.sessionCookie + "=" + f.cookie(f.auth.sessionCookie)
	for range cap(f.auth.revoking) {
		f.auth.revoking <- struct{}{}
	}
	wantStatus(t, f.signOut(), http.StatusSeeOther)
	if n := f.idp.Calls("revocation"); n != 0 {
		t.Fatalf("%d revocation requests with every slot taken", n)
	}
	for range cap(f.auth.revoking) {
		<-f.auth.revoking
	}
	f.withCookie("/api/me", copied)
	f.auth.background.Wait()
	if f.idp.RefreshTokenActive(s.refreshToken) {
		t.Error("the refresh token was never revoked: the full slots marked it done")
	}
}
