package oidcauth

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// recordingBackend is a MemoryBackend that lets a test see what it holds.
type recordingBackend struct{ *MemoryBackend }

func (b recordingBackend) all() map[string][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range b.records {
		out[k] = v.value
	}
	return out
}

func TestServerStoreFlow(t *testing.T) {
	t.Parallel()
	backend := recordingBackend{NewMemoryBackend()}
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) { c.Store = NewServerStore(backend, "app:session:") })
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if !f.signedIn() {
		t.Fatal("not signed in")
	}
	cookie := f.cookie(f.auth.sessionCookie)
	if len(cookie) != 86 {
		t.Errorf("cookie holds %d characters, want the 64-byte id and key only", len(cookie))
	}
	records := backend.all()
	if len(records) != 1 {
		t.Fatalf("%d records", len(records))
	}
	s := f.currentSession()
	for key, value := range records {
		if !strings.HasPrefix(key, "app:session:") || strings.Contains(key, cookie) {
			t.Errorf("record key %q", key)
		}
		for _, secret := range []string{s.refreshToken, s.user.Subject, s.idToken.seg[1], "Test User"} {
			if bytes.Contains(value, []byte(secret)) {
				t.Errorf("the record holds %q in the clear", secret)
			}
		}
	}

	// A tampered cookie is no session, not an error.
	tampered := []byte(cookie)
	tampered[10] ^= 1
	req, _ := http.NewRequest("GET", f.app.URL+"/api/me", nil)
	req.Header.Set("Cookie", f.auth.sessionCookie+"="+string(tampered))
	resp, err := f.app.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantStatus(t, resp, http.StatusUnauthorized)

	// Signing in again issues a new id and key; the old record is gone.
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if again := f.cookie(f.auth.sessionCookie); again == cookie || len(backend.all()) != 1 {
		t.Errorf("sign-in reused the session id (%v) or left records (%d)", again == cookie, len(backend.all()))
	}
	copied := f.auth.sessionCookie + "=" + f.cookie(f.auth.sessionCookie)
	wantStatus(t, f.do("POST", "/sign-out", http.Header{"Origin": {f.app.URL}}), http.StatusSeeOther)
	if n := len(backend.all()); n != 0 {
		t.Errorf("%d records after sign-out", n)
	}
	req, _ = http.NewRequest("GET", f.app.URL+"/api/me", nil)
	req.Header.Set("Cookie", copied)
	resp, err = f.app.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantStatus(t, resp, http.StatusUnauthorized)
}

func TestMemoryBackendExpiry(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	m := NewMemoryBackend()
	m.now = func() time.Time { return now }
	ctx := context.Background()
	if err := m.Store(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := m.Load(ctx, "k"); !ok || err != nil || string(v) != "v" {
		t.Fatalf("Load = %q %v %v", v, ok, err)
	}
	now = now.Add(time.Minute)
	if _, ok, _ := m.Load(ctx, "k"); ok {
		t.Error("an expired record was returned")
	}
	if err := m.Delete(ctx, "missing"); err != nil {
		t.Error(err)
	}
}
