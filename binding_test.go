package oidcauth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Two deployments of one app (staging and production) that share
// SESSION_SECRET and offer only plain OAuth 2.0 providers: a session
// signed in on one is foreign to the other.
func TestOAuth2OnlyCookiesBoundToDeployment(t *testing.T) {
	t.Parallel()
	gh := github()
	staging := newOAuth2Flow(t, false, []*fake{gh}, nil)
	wantStatus(t, staging.get(staging.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	if !staging.signedIn() {
		t.Fatal("staging sign-in failed")
	}

	cfg := staging.auth.cfg
	cfg.RedirectURL = "https://app.example.com/callback"
	cfg.OAuth2Providers = nil
	for _, p := range staging.auth.cfg.OAuth2Providers {
		p.RedirectURL = "https://app.example.com/callback/" + p.Name
		p.ClientID = "production-" + p.ClientID
		cfg.OAuth2Providers = append(cfg.OAuth2Providers, p)
	}
	production, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "https://app.example.com/profile", nil)
	r.AddCookie(&http.Cookie{Name: staging.auth.sessionCookie, Value: staging.cookie(staging.auth.sessionCookie)})
	if production.sessionCookie != staging.auth.sessionCookie {
		t.Fatalf("cookie names differ: %s, %s", production.sessionCookie, staging.auth.sessionCookie)
	}
	rec := httptest.NewRecorder()
	production.RequireAuth(protected).ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		t.Errorf("production accepted staging's session: %s", rec.Body)
	}
}

// A provider configured anew under the same name with other endpoints
// (GitHub Enterprise instead of GitHub) does not inherit the sessions.
func TestOAuth2SessionBoundToProviderEndpoints(t *testing.T) {
	t.Parallel()
	gh := github()
	f := newOAuth2Flow(t, false, []*fake{gh}, nil)
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	cfg := f.auth.cfg
	cfg.OAuth2Providers = nil
	for _, p := range f.auth.cfg.OAuth2Providers {
		p.AuthorizationEndpoint = "https://github.example.com/login/oauth/authorize"
		cfg.OAuth2Providers = append(cfg.OAuth2Providers, p)
	}
	moved, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", f.app.URL+"/profile", nil)
	r.AddCookie(&http.Cookie{Name: f.auth.sessionCookie, Value: f.cookie(f.auth.sessionCookie)})
	rec := httptest.NewRecorder()
	moved.RequireAuth(protected).ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		t.Error("a session of the provider's former endpoints was accepted")
	}
}
