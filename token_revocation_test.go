package oidcauth

import (
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
