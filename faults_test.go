package oidcauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/internal/jose"
	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// randomKidToken is a JWS whose header names a key nobody has.
func randomKidToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","kid":"` + enc.EncodeToString(b[:]) + `"}`))
	return header + "." + enc.EncodeToString([]byte(`{"iss":"x"}`)) + "." + enc.EncodeToString(b[:])
}

// A flood of tokens naming random key ids costs the provider one JWKS
// fetch per cooldown, however many arrive and however concurrently; a
// sign-in with the real key keeps working meanwhile.
func TestUnknownKeyFlood(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	m, err := f.auth.discovery.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	flood := func(n int) {
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := m.verifier.Verify(context.Background(), randomKidToken()); err == nil {
					t.Error("a token signed by an unknown key verified")
				}
			}()
		}
		wg.Wait()
	}
	jwks := f.idp.Calls("jwks")
	flood(500)
	if got := f.idp.Calls("jwks") - jwks; got != 1 {
		t.Errorf("500 unknown key ids caused %d JWKS fetches, want 1", got)
	}
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	f.clock.Advance(jose.RefetchCooldown - time.Second)
	flood(200)
	if got := f.idp.Calls("jwks") - jwks; got != 1 {
		t.Errorf("JWKS refetched within the cooldown (%d fetches)", got)
	}
	f.clock.Advance(time.Second)
	flood(200)
	if got := f.idp.Calls("jwks") - jwks; got != 2 {
		t.Errorf("%d JWKS fetches after the cooldown, want 2", got)
	}
}

// While the JWKS endpoint fails, cached keys keep verifying; a new key
// waits for the endpoint to come back and the cooldown to pass.
func TestJWKSFailingCachedKeysWork(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	f.idp.Misbehave(oidcauthtest.Misbehavior{JWKSStatus: http.StatusInternalServerError})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)

	rotate(f)
	wantStatus(t, f.signIn("/sign-in"), http.StatusBadGateway)
	f.idp.Misbehave(oidcauthtest.Misbehavior{})
	wantStatus(t, f.signIn("/sign-in"), http.StatusBadGateway) // cooldown
	f.clock.Advance(jose.RefetchCooldown)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
}

// Until a first JWKS loads, a failed fetch is retried after
// jose.RetryInterval, not after the full cooldown.
func TestJWKSDownAtFirstSignIn(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.idp.Misbehave(oidcauthtest.Misbehavior{JWKSStatus: http.StatusServiceUnavailable})
	wantStatus(t, f.signIn("/sign-in"), http.StatusBadGateway)
	f.idp.Misbehave(oidcauthtest.Misbehavior{})
	jwks := f.idp.Calls("jwks")
	wantStatus(t, f.signIn("/sign-in"), http.StatusBadGateway)
	if f.idp.Calls("jwks") != jwks {
		t.Error("JWKS refetched within the retry interval")
	}
	f.clock.Advance(jose.RetryInterval)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
}

// A provider that is not listening at all when the app starts: sign-in
// answers 503 at once, the app serves, and once the provider listens
// sign-in works with no restart.
func TestProviderUnreachableAtStart(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	f := newFlow(t, oidcauthtest.Options{}, nil)
	idp, err := oidcauthtest.New("http://"+addr+"/oidc", oidcauthtest.Options{ClientSecret: "s3cr3t-client-value", Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	a := testAuth(t, func(c *Config) {
		*c = f.auth.cfg
		c.Issuer, c.HTTPClient = idp.Issuer(), nil
	})
	mux := http.NewServeMux()
	a.Mount(mux)
	mux.Handle("/profile", a.RequireAuth(protected))
	f.app.Config.Handler = mux
	f.auth, f.idp = a, idp

	start := time.Now()
	wantStatus(t, f.get("/sign-in"), http.StatusServiceUnavailable)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("sign-in took %v with the provider down", d)
	}
	wantStatus(t, f.get("/profile"), http.StatusSeeOther) // the app serves

	srv := httptest.NewUnstartedServer(idp)
	if srv.Listener, err = net.Listen("tcp", addr); err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	srv.Start()
	defer srv.Close()
	f.clock.Advance(maxBackoff)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if !f.signedIn() {
		t.Error("not signed in once the provider was back")
	}
}

// goroutinesSettle waits until the goroutine count is back near base:
// timed-out calls must not leave goroutines behind.
func goroutinesSettle(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base+5 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond) // waiting for exits, not timing them
	}
}

// A provider that answers slowly costs each request at most the client's
// timeout: handlers answer promptly and no goroutine is left waiting.
func TestSlowProvider(t *testing.T) {
	// Not parallel: it counts the goroutines of the whole process.
	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name   string
		m      oidcauthtest.Misbehavior
		warm   bool
		status int
	}{
		{"discovery", oidcauthtest.Misbehavior{Delay: map[string]time.Duration{"discovery": time.Minute}}, false, http.StatusServiceUnavailable},
		{"token", oidcauthtest.Misbehavior{TokenDelay: time.Minute}, true, http.StatusBadGateway},
		{"jwks", oidcauthtest.Misbehavior{Delay: map[string]time.Duration{"jwks": time.Minute}}, false, http.StatusBadGateway},
		{"userinfo", oidcauthtest.Misbehavior{Delay: map[string]time.Duration{"userinfo": time.Minute}}, true, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{}, func(c *Config) { c.UserInfo = UserInfoAlways })
			// The warm-up runs with the default timeout: on a busy
			// machine a cold start can take longer than the short one.
			switch {
			case tc.warm:
				wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
			case tc.name != "discovery":
				if err := f.auth.Discover(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			f.auth.cfg.HTTPClient.Timeout = timeout // every provider call from here on
			f.idp.Misbehave(tc.m)
			base := runtime.NumGoroutine()
			var wg sync.WaitGroup
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					jar, _ := cookiejar.New(nil)
					c := &http.Client{Jar: jar, Transport: f.client.Transport, CheckRedirect: f.client.CheckRedirect}
					start := time.Now()
					status, err := signInWith(c, f.app.URL)
					if err != nil {
						t.Error(err)
						return
					}
					if status != tc.status {
						t.Errorf("status %d, want %d", status, tc.status)
					}
					// Far below the provider's minute and the default 10 s
					// timeout, with room for a loaded machine.
					if d := time.Since(start); d > 8*time.Second {
						t.Errorf("answered after %v", d)
					}
				}()
			}
			wg.Wait()
			f.client.CloseIdleConnections()
			f.idp.Client().CloseIdleConnections()
			goroutinesSettle(t, base)
		})
	}
}

// signInWith runs a sign-in with client as far as it goes and returns the
// last status.
func signInWith(c *http.Client, app string) (int, error) {
	target := app + "/sign-in"
	for range 3 {
		resp, err := c.Get(target)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
			return resp.StatusCode, nil
		}
		target = resp.Header.Get("Location")
		if strings.HasPrefix(target, "/") {
			return resp.StatusCode, nil // back on the app: signed in
		}
	}
	return 0, fmt.Errorf("sign-in did not finish")
}

// Provider responses over 1 MiB are cut off and refused, whichever
// endpoint sends them.
func TestHugeProviderResponses(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", maxResponseBytes+1)
	for _, tc := range []struct {
		name   string
		m      oidcauthtest.Misbehavior
		status int
	}{
		{"discovery", oidcauthtest.Misbehavior{DiscoveryFields: map[string]any{"padding": huge}}, http.StatusServiceUnavailable},
		{"token", oidcauthtest.Misbehavior{TokenStatus: 200, TokenBody: `{"access_token":"` + huge + `","token_type":"Bearer"}`}, http.StatusBadGateway},
		{"jwks", oidcauthtest.Misbehavior{JWKSExtraKeys: []map[string]any{{"kty": "RSA", "n": huge}}}, http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{}, nil)
			if tc.name == "token" {
				wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
				f.freshBrowser()
			}
			f.idp.Misbehave(tc.m)
			resp := f.get("/sign-in")
			if resp.StatusCode == http.StatusSeeOther {
				resp = f.get(f.getLocation(resp))
				resp = f.get(f.getLocation(resp))
			}
			wantStatus(t, resp, tc.status)
			f.wantNoSession(t, resp)
		})
	}
}

func (f *flow) getLocation(resp *http.Response) string {
	f.t.Helper()
	return location(f.t, resp).String()
}

// A thousand signed-in users at once: each request sees its own user, under
// the race detector.
func TestManyConcurrentUsers(t *testing.T) {
	t.Parallel()
	const users = 1000
	a := testAuth(t, nil)
	now := time.Now()
	cookies := make([]*http.Cookie, users)
	typical, _, _ := typicalSession(t, now)
	for i := range cookies {
		s := *typical
		s.id = fmt.Sprintf("%016d", i)
		s.user.Subject = fmt.Sprintf("user-%d", i)
		rec := httptest.NewRecorder()
		if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), &s, true); err != nil {
			t.Fatal(err)
		}
		cookies[i] = rec.Result().Cookies()[0]
	}
	h := a.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFromContext(r.Context())
		fmt.Fprint(w, u.Subject)
	}))
	var wg sync.WaitGroup
	for i, c := range cookies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", "/profile", nil)
			r.AddCookie(c)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if want := fmt.Sprintf("user-%d", i); rec.Code != http.StatusOK || rec.Body.String() != want {
				t.Errorf("user %d: %d %q", i, rec.Code, rec.Body.String())
			}
		}()
	}
	wg.Wait()
}

// A burst of sign-ins from many browsers at once: every one completes with
// its own session.
func TestSignInBurst(t *testing.T) {
	t.Parallel()
	const browsers = 50
	f := newFlow(t, oidcauthtest.Options{}, nil)
	ids := make(chan string, browsers)
	var wg sync.WaitGroup
	for range browsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Transport: f.client.Transport, CheckRedirect: f.client.CheckRedirect}
			status, err := signInWith(c, f.app.URL)
			if err != nil || status != http.StatusSeeOther {
				t.Errorf("sign-in: %d %v", status, err)
				return
			}
			r, _ := http.NewRequest("GET", f.app.URL, nil)
			for _, ck := range jar.Cookies(r.URL) {
				r.AddCookie(ck)
			}
			s, _ := f.auth.readSession(r)
			if s == nil {
				t.Error("no session after sign-in")
				return
			}
			ids <- s.id
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Error("two browsers got the same session id")
		}
		seen[id] = true
	}
	if len(seen) != browsers {
		t.Errorf("%d sessions for %d browsers", len(seen), browsers)
	}
	if n := f.idp.Calls("discovery"); n != 1 {
		t.Errorf("discovery fetched %d times during the burst", n)
	}
}

// The provider's clock may differ from ours by up to ClockSkew (1 minute
// by default, documented on Config.ClockSkew); beyond it, tokens are
// refused. A larger ClockSkew admits larger differences.
func TestClockSkew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		ahead  time.Duration // the provider's clock against ours
		skew   time.Duration // Config.ClockSkew; 0 is the default
		status int
	}{
		{"provider 50s ahead", 50 * time.Second, 0, http.StatusSeeOther},
		{"provider 2m ahead", 2 * time.Minute, 0, http.StatusBadGateway},
		{"provider 2m ahead, 3m allowed", 2 * time.Minute, 3 * time.Minute, http.StatusSeeOther},
		{"provider 50s behind", -50 * time.Second, 0, http.StatusSeeOther},
		{"provider 2m behind", -2 * time.Minute, 0, http.StatusBadGateway},
		{"provider 4m behind, 5m allowed", -4 * time.Minute, 5 * time.Minute, http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{IDTokenTTL: time.Minute}, func(c *Config) { c.ClockSkew = tc.skew })
			f.idp.Misbehave(oidcauthtest.Misbehavior{IDTokenClaims: func(c map[string]any) {
				theirs := f.clock.Now().Add(tc.ahead)
				c["iat"], c["exp"] = theirs.Unix(), theirs.Add(time.Minute).Unix()
			}})
			wantStatus(t, f.signIn("/sign-in"), tc.status)
		})
	}
}
