package oidcauth

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// hookBackend runs an armed function once, right after a Load: another
// instance's request lands between this instance's read and its write.
type hookBackend struct {
	ServerBackend
	mu   sync.Mutex
	hook func()
}

func (b *hookBackend) arm(f func()) {
	b.mu.Lock()
	b.hook = f
	b.mu.Unlock()
}

func (b *hookBackend) Load(ctx context.Context, key string) ([]byte, bool, error) {
	v, ok, err := b.ServerBackend.Load(ctx, key)
	b.mu.Lock()
	hook := b.hook
	b.hook = nil
	b.mu.Unlock()
	if hook != nil {
		hook()
	}
	return v, ok, err
}

// Two instances on one backend, without a shared coordinator: B reads the
// session record, A refreshes (rotating the refresh token) and saves, and
// then B's rolling re-issue saves what it read. It must not put the
// rotated-out refresh token back: B's next refresh would spend it, and the
// provider would revoke the grant and sign the user out.
func TestServerStoreReissueAfterRefreshElsewhere(t *testing.T) {
	t.Parallel()
	shared := NewMemoryBackend()
	f := tokenFlow(t, oidcauthtest.Options{}, func(c *Config) { c.Store = NewServerStore(shared, "s:") })
	hooked := &hookBackend{ServerBackend: shared}
	_, b := f.instance(func(c *Config) {
		c.Store = NewServerStore(hooked, "s:")
		c.RefreshCoordinator = nil // B's own: only the record is shared
	})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	name := f.auth.sessionCookie
	cookie := name + "=" + f.cookie(name)
	f.clock.Advance(f.auth.cfg.SessionIdleTimeout/8 + time.Minute) // re-issue due, access token expired
	calls := f.idp.Calls("token")

	hooked.arm(func() {
		if status, _, _ := fetch(t, f.client, f.app.URL+"/token", cookie, name); status != http.StatusOK {
			t.Errorf("refresh at A: %d", status)
		}
	})
	if status, _, _ := fetch(t, f.client, b.URL+"/profile", cookie, name); status != http.StatusOK {
		t.Fatalf("B: %d", status)
	}
	if got := f.idp.Calls("token") - calls; got != 1 {
		t.Fatalf("%d token calls, want the one refresh at A", got)
	}

	f.clock.Advance(11 * time.Minute)
	if status, body, _ := fetch(t, f.client, b.URL+"/token", cookie, name); status != http.StatusOK {
		t.Fatalf("refresh at B after its re-issue: %d %s", status, body)
	}
	if status, _, _ := fetch(t, f.client, f.app.URL+"/profile", cookie, name); status != http.StatusOK {
		t.Errorf("A after B's refresh: %d", status)
	}
}

// The other order: B reads the record and refreshes, while A's rolling
// re-issue saves the record B read (the old refresh token, a newer
// touch). B's save merges: its rotated tokens go over A's record, so A,
// which coordinates nothing with B, refreshes with the new token later.
func TestServerStoreRefreshAfterReissueElsewhere(t *testing.T) {
	t.Parallel()
	shared := NewMemoryBackend()
	f := tokenFlow(t, oidcauthtest.Options{}, func(c *Config) { c.Store = NewServerStore(shared, "s:") })
	hooked := &hookBackend{ServerBackend: shared}
	_, b := f.instance(func(c *Config) {
		c.Store = NewServerStore(hooked, "s:")
		c.RefreshCoordinator = nil
	})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	name := f.auth.sessionCookie
	cookie := name + "=" + f.cookie(name)
	f.clock.Advance(f.auth.cfg.SessionIdleTimeout/8 + time.Minute)
	calls := f.idp.Calls("token")

	hooked.arm(func() {
		if status, _, _ := fetch(t, f.client, f.app.URL+"/profile", cookie, name); status != http.StatusOK {
			t.Errorf("re-issue at A: %d", status)
		}
	})
	if status, body, _ := fetch(t, f.client, b.URL+"/token", cookie, name); status != http.StatusOK {
		t.Fatalf("refresh at B: %d %s", status, body)
	}
	f.clock.Advance(11 * time.Minute)
	if status, body, _ := fetch(t, f.client, f.app.URL+"/token", cookie, name); status != http.StatusOK {
		t.Fatalf("refresh at A after B's: %d %s", status, body)
	}
	if got := f.idp.Calls("token") - calls; got != 2 {
		t.Errorf("%d token calls, want 2", got)
	}
}
