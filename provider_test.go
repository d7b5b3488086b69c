package oidcauth

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
	"golang.org/x/oauth2"
)

func TestAuthStyle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		secret  string
		methods []string
		want    oauth2.AuthStyle
	}{
		{"confidential, nothing advertised", "s", nil, oauth2.AuthStyleInHeader},
		{"confidential, both", "s", []string{"client_secret_post", "client_secret_basic"}, oauth2.AuthStyleInHeader},
		{"confidential, post only", "s", []string{"client_secret_post", "private_key_jwt"}, oauth2.AuthStyleInParams},
		{"public client", "", []string{"client_secret_basic"}, oauth2.AuthStyleInParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := authStyle(tc.secret, tc.methods); got != tc.want {
				t.Errorf("authStyle = %v, want %v", got, tc.want)
			}
		})
	}
}

// Concurrent first requests share one discovery fetch.
func TestDiscoverySingleFlight(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", f.app.URL+"/sign-in", nil)
			resp, err := f.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if n := f.idp.Calls("discovery"); n != 1 {
		t.Errorf("discovery fetched %d times for 20 concurrent sign-ins, want 1", n)
	}
	if err := f.auth.Discover(context.Background()); err != nil {
		t.Errorf("Discover: %v", err)
	}
	if n := f.idp.Calls("discovery"); n != 1 {
		t.Errorf("Discover refetched fresh metadata")
	}
}

// Discover reports an unreachable provider without blocking past its
// context.
func TestDiscoverUnavailable(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.idp.Misbehave(oidcauthtest.Misbehavior{DiscoveryStatus: http.StatusInternalServerError})
	err := f.auth.Discover(context.Background())
	if err == nil || ErrorStatus(err) != http.StatusServiceUnavailable {
		t.Errorf("Discover = %v, want ErrProviderUnavailable", err)
	}
}

// ES384 ID tokens (Logto's default) verify like RS256 ones, and a
// signing-key rotation between sign-ins is picked up with one JWKS refetch,
// with no restart.
func TestSigningKeys(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{SigningAlg: "ES384"}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if !f.signedIn() {
		t.Fatal("ES384 sign-in failed")
	}
	jwks := f.idp.Calls("jwks")
	if err := f.idp.RotateKey(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if got := f.idp.Calls("jwks"); got != jwks+1 {
		t.Errorf("JWKS fetched %d more times after a rotation, want 1", got-jwks)
	}
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if got := f.idp.Calls("jwks"); got != jwks+1 {
		t.Errorf("JWKS refetched for a known key")
	}
}

// Endpoints from discovery meet the issuer's rules, or discovery fails:
// nothing is sent to an http endpoint and no javascript: URL becomes a
// redirect.
func TestDiscoveryEndpointsChecked(t *testing.T) {
	t.Parallel()
	for field, value := range map[string]string{
		"token_endpoint":         "http://idp.example/token",
		"authorization_endpoint": "http://idp.example/auth",
		"userinfo_endpoint":      "ftp://idp.example/me",
		"jwks_uri":               "https://user:pw@idp.example/jwks",
		"end_session_endpoint":   "javascript:alert(1)",
	} {
		t.Run(field, func(t *testing.T) {
			f := newFlow(t, oidcauthtest.Options{}, nil)
			f.idp.Misbehave(oidcauthtest.Misbehavior{DiscoveryFields: map[string]any{field: value}})
			wantStatus(t, f.get("/sign-in"), http.StatusServiceUnavailable)
			if !strings.Contains(f.logs.String(), field) {
				t.Errorf("the log does not name %s:\n%s", field, f.logs.String())
			}
		})
	}
}

// Discovery is lazy and retried: while the provider is down sign-in says
// 503 and the app keeps serving; when it is back sign-in works with no
// restart.
func TestProviderDownThenBack(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.idp.Misbehave(oidcauthtest.Misbehavior{DiscoveryStatus: http.StatusServiceUnavailable})
	resp := f.get("/sign-in")
	wantStatus(t, resp, http.StatusServiceUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	wantStatus(t, f.get("/"), http.StatusOK)

	// Within the backoff, no new discovery call.
	calls := f.idp.Calls("discovery")
	wantStatus(t, f.get("/sign-in"), http.StatusServiceUnavailable)
	if f.idp.Calls("discovery") != calls {
		t.Error("discovery retried within the backoff")
	}

	f.idp.Misbehave(oidcauthtest.Misbehavior{})
	f.clock.Advance(maxBackoff)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if !f.signedIn() {
		t.Error("not signed in after the provider came back")
	}

	// Once known, the metadata survives a later outage.
	f.idp.Misbehave(oidcauthtest.Misbehavior{DiscoveryStatus: http.StatusServiceUnavailable})
	f.clock.Advance(metadataTTL + time.Minute)
	wantStatus(t, f.get("/sign-in"), http.StatusSeeOther)
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.idp.Misbehave(oidcauthtest.Misbehavior{DiscoveryIssuer: "https://evil.example"})
	wantStatus(t, f.get("/sign-in"), http.StatusServiceUnavailable)
}
