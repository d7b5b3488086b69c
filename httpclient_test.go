package oidcauth

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// A redirect from the token endpoint is not followed: the code, verifier
// and secret never reach its target.
func TestTokenRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	trap := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer trap.Close()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.idp.Misbehave(oidcauthtest.Misbehavior{TokenRedirect: trap.URL + "/steal"})
	cb := f.startSignIn("/sign-in")
	resp := f.get(cb.String())
	wantStatus(t, resp, http.StatusBadGateway)
	f.assertFailedCleanly(t, resp, body(t, resp), cb)
	if hits.Load() != 0 {
		t.Errorf("the redirect target received %d requests", hits.Load())
	}
}
