package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// realDiscovery describes one provider's discovery document in
// testdata/discovery and what discovery must make of it. In the want* URLs
// "{srv}" stands for the test server's URL; an endpoint on another host than
// the issuer's (Google's token endpoint) is not rewritten and is expected as
// the provider publishes it.
type realDiscovery struct {
	file           string
	issuer         string // the issuer exactly as the document states it
	wantAuthURL    string
	wantTokenURL   string
	wantEndSession string // "" when the provider has no end_session_endpoint
	wantIssParam   bool
	wantAuthStyle  oauth2.AuthStyle // for a confidential client (ClientSecret "s")
}

var realDiscoveries = []realDiscovery{
	{
		file:           "logto.json",
		issuer:         "https://a1b2c3.logto.app/oidc",
		wantAuthURL:    "{srv}/oidc/auth",
		wantTokenURL:   "{srv}/oidc/token",
		wantEndSession: "{srv}/oidc/session/end",
		wantIssParam:   true,
		wantAuthStyle:  oauth2.AuthStyleInHeader, // no auth methods listed: basic is the default
	},
	{
		file:           "auth0.json",
		issuer:         "https://a1b2c3.us.auth0.com/",
		wantAuthURL:    "{srv}/authorize",
		wantTokenURL:   "{srv}/oauth/token",
		wantEndSession: "{srv}/oidc/logout",
		wantIssParam:   false,
		wantAuthStyle:  oauth2.AuthStyleInHeader,
	},
	{
		file:           "keycloak.json",
		issuer:         "https://sso.example.com/realms/master",
		wantAuthURL:    "{srv}/realms/master/protocol/openid-connect/auth",
		wantTokenURL:   "{srv}/realms/master/protocol/openid-connect/token",
		wantEndSession: "{srv}/realms/master/protocol/openid-connect/logout",
		wantIssParam:   true,
		wantAuthStyle:  oauth2.AuthStyleInHeader,
	},
	{
		file:           "google.json",
		issuer:         "https://accounts.google.com",
		wantAuthURL:    "{srv}/o/oauth2/v2/auth",
		wantTokenURL:   "https://oauth2.googleapis.com/token",
		wantEndSession: "",
		wantIssParam:   false,
		wantAuthStyle:  oauth2.AuthStyleInHeader, // lists post first, but basic too
	},
	{
		file:           "zitadel.json",
		issuer:         "https://a1b2c3-x7y2kq.zitadel.cloud",
		wantAuthURL:    "{srv}/oauth/v2/authorize",
		wantTokenURL:   "{srv}/oauth/v2/token",
		wantEndSession: "{srv}/oidc/v1/end_session",
		wantIssParam:   false,
		wantAuthStyle:  oauth2.AuthStyleInHeader,
	},
	{
		file:           "dex.json",
		issuer:         "https://devtron.example.com/orchestrator/api/dex",
		wantAuthURL:    "{srv}/orchestrator/api/dex/auth",
		wantTokenURL:   "{srv}/orchestrator/api/dex/token",
		wantEndSession: "",
		wantIssParam:   false,
		wantAuthStyle:  oauth2.AuthStyleInHeader,
	},
}

// serveRealDiscovery serves the fixture at <issuer path>/.well-known/
// openid-configuration on a TLS test server, with the issuer's origin
// replaced by the server's URL everywhere, so the issuer and every endpoint
// on the issuer's host point at the server and keep their paths. edit, if
// set, changes the rewritten document before it is sent. It returns the
// server, the rewritten issuer and a count of discovery requests served.
func serveRealDiscovery(t *testing.T, file, issuer string, edit func(doc map[string]any)) (*httptest.Server, string, *atomic.Int32) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "discovery", file))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if doc["issuer"] != issuer {
		t.Fatalf("%s states issuer %q; the table says %q", file, doc["issuer"], issuer)
	}
	u, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	origin := u.Scheme + "://" + u.Host
	wellKnown := strings.TrimSuffix(u.Path, "/") + "/.well-known/openid-configuration"

	var served atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != wellKnown {
			http.NotFound(w, r)
			return
		}
		body := []byte(strings.ReplaceAll(string(raw), origin, "https://"+r.Host))
		if edit != nil {
			var d map[string]any
			if err := json.Unmarshal(body, &d); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			edit(d)
			if body, err = json.Marshal(d); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, srv.URL + u.Path, &served
}

func newRealDiscoveryAuth(t *testing.T, srv *httptest.Server, issuer string) *Auth {
	t.Helper()
	a, err := New(Config{
		Issuer:       issuer,
		ClientID:     "c",
		ClientSecret: "s",
		RedirectURL:  "https://app.example.com/callback",
		SessionKeys:  [][]byte{testKey(1)},
		HTTPClient:   srv.Client(),
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// TestRealDiscoveryDocuments feeds discovery the documents real providers
// publish and checks what it reads from each, then that it refuses one whose
// issuer is not the configured one.
func TestRealDiscoveryDocuments(t *testing.T) {
	t.Parallel()
	for _, tt := range realDiscoveries {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			srv, issuer, served := serveRealDiscovery(t, tt.file, tt.issuer, nil)
			a := newRealDiscoveryAuth(t, srv, issuer)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()

			m, err := a.discovery.get(ctx)
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			if n := served.Load(); n != 1 {
				t.Errorf("discovery document fetched %d times, want 1", n)
			}
			expand := func(s string) string { return strings.ReplaceAll(s, "{srv}", srv.URL) }
			if got, want := m.oauth2.Endpoint.AuthURL, expand(tt.wantAuthURL); got != want {
				t.Errorf("AuthURL = %q, want %q", got, want)
			}
			if got, want := m.oauth2.Endpoint.TokenURL, expand(tt.wantTokenURL); got != want {
				t.Errorf("TokenURL = %q, want %q", got, want)
			}
			if got, want := m.endSession, expand(tt.wantEndSession); got != want {
				t.Errorf("endSession = %q, want %q", got, want)
			}
			if m.issParam != tt.wantIssParam {
				t.Errorf("issParam = %v, want %v", m.issParam, tt.wantIssParam)
			}
			if m.oauth2.Endpoint.AuthStyle != tt.wantAuthStyle {
				t.Errorf("AuthStyle = %v, want %v", m.oauth2.Endpoint.AuthStyle, tt.wantAuthStyle)
			}
			if m.provider == nil || m.verifier == nil {
				t.Errorf("metadata lacks provider or verifier")
			}
		})
	}
	t.Run("issuer_mismatch", testRealDiscoveryIssuerMismatch)
}

// testRealDiscoveryIssuerMismatch serves a real document whose issuer field
// is left as the provider states it while everything else points at the test
// server: discovery must refuse it (OIDC Discovery §4.3).
func testRealDiscoveryIssuerMismatch(t *testing.T) {
	const file, original = "keycloak.json", "https://sso.example.com/realms/master"
	srv, issuer, served := serveRealDiscovery(t, file, original, func(doc map[string]any) {
		doc["issuer"] = original
	})
	a := newRealDiscoveryAuth(t, srv, issuer)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	m, err := a.discovery.get(ctx)
	if err == nil {
		t.Fatalf("discovery accepted a document naming issuer %q for %q", original, issuer)
	}
	if !errors.Is(err, ErrProviderUnavailable) {
		t.Errorf("error %v does not wrap ErrProviderUnavailable", err)
	}
	if m != nil {
		t.Errorf("metadata returned with the error")
	}
	if n := served.Load(); n != 1 {
		t.Errorf("discovery document fetched %d times, want 1 (the refusal must come from the document)", n)
	}
	if a.discovery.cached() != nil {
		t.Errorf("refused metadata was cached")
	}
}
