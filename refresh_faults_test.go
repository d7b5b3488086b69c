package oidcauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// downCoordinator is a coordinator that cannot be reached.
type downCoordinator struct{}

var errDown = errors.New("coordinator unreachable")

func (downCoordinator) Acquire(context.Context, string, time.Duration) (int64, error) {
	return 0, errDown
}
func (downCoordinator) Publish(context.Context, string, int64, []byte, time.Duration) (bool, error) {
	return false, errDown
}
func (downCoordinator) Release(context.Context, string, int64) error { return errDown }
func (downCoordinator) Wait(context.Context, string) ([]byte, bool, error) {
	return nil, false, errDown
}

// With the coordinator unreachable no refresh grant is made (another
// instance may be spending the same refresh token): a token still valid
// inside the refresh leeway is served, an expired one fails with 502 and
// the session stays; RequireAuth is not affected.
func TestRefreshCoordinatorDown(t *testing.T) {
	t.Parallel()
	f := tokenFlow(t, oidcauthtest.Options{}, func(c *Config) { c.RefreshCoordinator = downCoordinator{} })
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	_, first := f.getToken("")
	calls := f.idp.Calls("token")

	f.clock.Advance(10*time.Minute - tokenLeeway + time.Second) // due, not expired
	if status, tok := f.getToken(""); status != http.StatusOK || tok != first {
		t.Errorf("inside the leeway: %d, same token %v", status, tok == first)
	}
	f.clock.Advance(tokenLeeway) // expired
	if status, body := f.getToken(""); status != http.StatusBadGateway || body != ErrTokenEndpoint.Error() {
		t.Errorf("expired: %d %s", status, body)
	}
	if got := f.idp.Calls("token") - calls; got != 0 {
		t.Errorf("%d refresh grants without coordination", got)
	}
	if !f.signedIn() {
		t.Error("the session was lost")
	}
	if !strings.Contains(f.logs.String(), "refresh coordinator unreachable") {
		t.Error("the outage was not logged")
	}
}
