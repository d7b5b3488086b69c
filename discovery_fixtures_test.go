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
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

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
