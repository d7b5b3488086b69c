package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oidcauth/oidcauth/example/app"
	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// The app is restarted on the same STATE_DIR (a new App over the same
// environment, as a new process would be): a cookie copied before
// sign-out stays refused, with sessions in cookies and in the database;
// a session that did not sign out survives the restart.
func TestStateDirRestart(t *testing.T) {
	for _, store := range []string{"cookie", "bolt"} {
		t.Run(store, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(nil)
			base := "http://" + srv.Listener.Addr().String()
			idp, err := oidcauthtest.New(base+"/oidc", oidcauthtest.Options{ClientID: "app", ClientSecret: "app-secret"})
			if err != nil {
				t.Fatal(err)
			}
			var current atomic.Pointer[app.App]
			mux := http.NewServeMux()
			mux.Handle("/oidc/", idp)
			mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				current.Load().Handler().ServeHTTP(w, r)
			}))
			srv.Config.Handler = mux
			srv.Start()
			t.Cleanup(srv.Close)
			env := map[string]string{
				"OIDC_ISSUER": base + "/oidc", "OIDC_CLIENT_ID": "app", "OIDC_CLIENT_SECRET": "app-secret",
				"BASE_URL": base, "SESSION_SECRET": strings.Repeat("s", 32),
				"STATE_DIR": t.TempDir() + "/state", "SESSION_STORE": store,
			}
			start := func() {
				t.Helper()
				if old := current.Load(); old != nil {
					if err := old.Close(); err != nil {
						t.Fatal(err)
					}
				}
				a, err := app.New(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), stateStores)
				if err != nil {
					t.Fatal(err)
				}
				current.Store(a)
			}
			start()
			t.Cleanup(func() { current.Load().Close() })

			signedOut, stays := signIn(t, base), signIn(t, base)
			if me(t, base, signedOut.cookie) != http.StatusOK || me(t, base, stays.cookie) != http.StatusOK {
				t.Fatal("not signed in")
			}
			signedOut.signOut()
			if got := me(t, base, signedOut.cookie); got != http.StatusUnauthorized {
				t.Fatalf("after sign-out the copied cookie gets %d", got)
			}
			start()
			if got := me(t, base, signedOut.cookie); got != http.StatusUnauthorized {
				t.Errorf("after the restart the cookie copied before sign-out gets %d", got)
			}
			if got := me(t, base, stays.cookie); got != http.StatusOK {
				t.Errorf("after the restart a session that did not sign out gets %d", got)
			}
		})
	}
}

func TestStateDirConfig(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"server-side sessions without a directory": {"SESSION_STORE": "bolt"},
		"unknown session store":                    {"STATE_DIR": t.TempDir(), "SESSION_STORE": "redis"},
	} {
		if _, err := app.New(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler), stateStores); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type session struct {
	t      *testing.T
	base   string
	client *http.Client
	cookie string // a copy of the session's cookies
}

// signIn signs in with the provider, which approves at once.
func signIn(t *testing.T, base string) *session {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &session{t: t, base: base, client: &http.Client{Jar: jar}}
	resp, err := s.client.Get(base + "/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/" {
		t.Fatalf("sign-in ended at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	u, _ := url.Parse(base)
	var copied []string
	for _, c := range jar.Cookies(u) {
		copied = append(copied, c.Name+"="+c.Value)
	}
	s.cookie = strings.Join(copied, "; ")
	return s
}

func (s *session) signOut() {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.base+"/sign-out", nil)
	req.Header.Set("Origin", s.base)
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
}

// me is /api/me's status for a request carrying only cookie.
func me(t *testing.T, base, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/me", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
