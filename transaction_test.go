package oidcauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// Several tabs may sign in at once; the pending transactions stay bounded.
func TestConcurrentSignInsAndBound(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	first := f.startSignIn("/sign-in?returnTo=/one")
	f.clock.Advance(time.Second)
	second := f.startSignIn("/sign-in?returnTo=/two")
	if f.txCookies() != 2 {
		t.Fatalf("%d pending transactions, want 2", f.txCookies())
	}
	resp := f.get(second.String())
	wantStatus(t, resp, http.StatusSeeOther)
	if location(t, resp).Path != "/two" {
		t.Errorf("second tab landed on %s", location(t, resp))
	}
	resp = f.get(first.String())
	wantStatus(t, resp, http.StatusSeeOther)
	if location(t, resp).Path != "/one" {
		t.Errorf("first tab landed on %s", location(t, resp))
	}

	var pending []*url.URL
	for i := 0; i < maxPendingTx+3; i++ {
		f.clock.Advance(time.Second)
		pending = append(pending, f.startSignIn("/sign-in"))
	}
	if n := f.txCookies(); n != maxPendingTx {
		t.Errorf("%d pending transactions after %d sign-ins, want the bound %d", n, maxPendingTx+3, maxPendingTx)
	}
	// The newest still completes; the oldest was evicted.
	wantStatus(t, f.get(pending[len(pending)-1].String()), http.StatusSeeOther)
	wantStatus(t, f.get(pending[0].String()), http.StatusBadRequest)
}

// Expired pending sign-ins are cleared at the next sign-in.
func TestExpiredTransactionsEvicted(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.startSignIn("/sign-in")
	f.clock.Advance(txLifetime + time.Second)
	resp := f.get("/sign-in")
	wantStatus(t, resp, http.StatusSeeOther)
	cleared := 0
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, f.auth.txPrefix) && c.MaxAge < 0 {
			cleared++
		}
	}
	if cleared != 1 || f.txCookies() != 1 {
		t.Errorf("%d expired transactions cleared, %d pending; want 1 and 1", cleared, f.txCookies())
	}
}
