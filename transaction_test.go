package oidcauth

import (
	"net/http"
	"net/url"
	"reflect"
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

func TestCallbackStateRejects(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	cb := f.startSignIn("/sign-in")
	q := cb.Query()
	call := func(mutate func(url.Values)) *http.Response {
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		mutate(v)
		u := *cb
		u.RawQuery = v.Encode()
		return f.get(u.String())
	}
	for _, tc := range []struct {
		name   string
		mutate func(url.Values)
		status int
	}{
		{"missing state", func(v url.Values) { v.Del("state") }, 400},
		{"unknown state", func(v url.Values) { v.Set("state", strings.Repeat("A", 43)) }, 400},
		{"malformed state", func(v url.Values) { v.Set("state", "../../x;y=z") }, 400},
		{"state of the right id but wrong tail", func(v url.Values) { v.Set("state", v.Get("state")[:16]+strings.Repeat("B", 27)) }, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, call(tc.mutate), tc.status)
		})
	}
	// The wrong-tail attempt consumed the transaction: the real response is
	// now refused too (single use, whatever the outcome).
	wantStatus(t, f.get(cb.String()), http.StatusBadRequest)
	if f.signedIn() {
		t.Error("signed in after state failures")
	}

	// Code missing, and code with error, behind a valid state.
	cb = f.startSignIn("/sign-in")
	q = cb.Query()
	wantStatus(t, call(func(v url.Values) { v.Del("code") }), http.StatusBadRequest)
	cb = f.startSignIn("/sign-in")
	q = cb.Query()
	wantStatus(t, call(func(v url.Values) { v.Set("error", "access_denied") }), http.StatusBadRequest)

	// Replay after success: refused, and no new session from it.
	cb = f.startSignIn("/sign-in")
	wantStatus(t, f.get(cb.String()), http.StatusSeeOther)
	wantStatus(t, f.get(cb.String()), http.StatusBadRequest)
	if !f.signedIn() {
		t.Error("a replayed (forged) callback signed the user out")
	}

	// Another browser with the same callback URL has no transaction.
	cb = f.startSignIn("/sign-in")
	resp, err := (&http.Client{Transport: f.client.Transport, CheckRedirect: f.client.CheckRedirect}).Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantStatus(t, resp, http.StatusBadRequest)

	// An expired transaction is refused before the code is redeemed.
	cb = f.startSignIn("/sign-in")
	f.clock.Advance(txLifetime + time.Second)
	calls := f.idp.Calls("token")
	wantStatus(t, f.get(cb.String()), http.StatusBadRequest)
	if f.idp.Calls("token") != calls {
		t.Error("an expired sign-in attempt reached the token endpoint")
	}
}

// The transaction payload decoder: the same properties.
func FuzzUnmarshalTransaction(f *testing.F) {
	f.Add(newTransaction("/profile?tab=1", time.Unix(1_700_000_000, 0)).marshal())
	f.Add([]byte{txFormat})
	f.Fuzz(func(t *testing.T, p []byte) {
		t1, err := unmarshalTransaction(p)
		if err != nil {
			return
		}
		t2, err := unmarshalTransaction(t1.marshal())
		if err != nil || !reflect.DeepEqual(t1, t2) {
			t.Fatalf("round trip: %+v -> %+v, %v", t1, t2, err)
		}
	})
}
