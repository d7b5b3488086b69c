package oidcauth

// A plain OAuth 2.0 provider's session after sign-in: its access token,
// refresh, profile, and what ends or keeps it.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

func TestOAuth2AccessTokenRefresh(t *testing.T) {
	t.Parallel()
	gh := github()
	gh.opts.RefreshTokens = true
	f := newOAuth2Flow(t, true, []*fake{gh}, nil)
	var tokens []string
	var lastErr error
	f.mux.Handle("/token", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := f.auth.AccessToken(w, r, "")
		lastErr = err
		if err == nil {
			tokens = append(tokens, tok)
		}
		if _, err := f.auth.AccessToken(w, r, "https://api.example.com"); !errors.Is(err, ErrAccessDenied) {
			t.Errorf("resource token for an OAuth 2.0 session: %v", err)
		}
	})))
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	f.get("/token")
	f.get("/token")
	if gh.srv.Calls("token") != 1 || len(tokens) != 2 || tokens[0] != tokens[1] || !strings.HasPrefix(tokens[0], "gho_") {
		t.Fatalf("a valid token was not reused: %d token calls, %v", gh.srv.Calls("token"), lastErr)
	}
	f.clock.Advance(8 * time.Hour)
	f.get("/token")
	if lastErr != nil || len(tokens) != 3 || tokens[2] == tokens[0] {
		t.Fatalf("no refresh: %v", lastErr)
	}
	req := gh.srv.LastTokenRequest()
	if req.Get("grant_type") != "refresh_token" || req.Get("client_auth") != string(ClientSecretPost) || !strings.HasPrefix(req.Get("refresh_token"), "ghr_") {
		t.Errorf("refresh request %v", req)
	}
	// The rotated refresh token lives on in the cookie: another refresh works.
	f.clock.Advance(8 * time.Hour)
	f.get("/token")
	if lastErr != nil || len(tokens) != 4 {
		t.Fatalf("second refresh: %v", lastErr)
	}
	// GitHub's bad_refresh_token ends the session like invalid_grant.
	gh.srv.Misbehave(oidcauthtest.OAuth2Misbehavior{TokenError: "bad_refresh_token"})
	f.clock.Advance(8 * time.Hour)
	f.get("/token")
	if !errors.Is(lastErr, ErrNotSignedIn) || f.signedIn() {
		t.Errorf("a dead refresh token left the session: %v", lastErr)
	}
}

// TestOAuth2AccessTokenWithoutRefresh: a token without a stated expiry
// (GitHub OAuth apps') is returned as it is, without a token call.
func TestOAuth2AccessTokenWithoutRefresh(t *testing.T) {
	t.Parallel()
	gh := github()
	f := newOAuth2Flow(t, true, []*fake{gh}, nil)
	var got []string
	f.mux.Handle("/token", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := f.auth.AccessToken(w, r, "")
		if err != nil {
			t.Errorf("AccessToken: %v", err)
		}
		got = append(got, tok)
	})))
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	f.get("/token")
	f.clock.Advance(20 * time.Hour)
	f.get("/token")
	if len(got) != 2 || got[0] != got[1] || !strings.HasPrefix(got[0], "gho_") || gh.srv.Calls("token") != 1 {
		t.Errorf("tokens %d, token calls %d", len(got), gh.srv.Calls("token"))
	}
}

func TestOAuth2FetchUserInfo(t *testing.T) {
	t.Parallel()
	gh := github()
	f := newOAuth2Flow(t, true, []*fake{gh}, nil)
	var u *User
	var err error
	f.mux.Handle("/fresh", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err = f.auth.FetchUserInfo(w, r)
	})))
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	gh.srv.SetProfile(map[string]any{"id": 583231, "name": "Octo Renamed"})
	f.get("/fresh")
	if err != nil || u.Name != "Octo Renamed" || u.Subject != "583231" || u.OAuth2Provider != "github" {
		t.Fatalf("FetchUserInfo: %+v, %v", u, err)
	}
	gh.srv.SetProfile(map[string]any{"id": 1, "name": "Someone Else"})
	f.get("/fresh")
	if !errors.Is(err, ErrUserInfo) {
		t.Errorf("a profile of another user was accepted: %v", err)
	}
}

// TestOAuth2ProviderRemovedEndsSessions: a session of a provider taken out
// of the configuration is no session.
func TestOAuth2ProviderRemovedEndsSessions(t *testing.T) {
	t.Parallel()
	gh := github()
	f := newOAuth2Flow(t, true, []*fake{gh}, nil)
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	cfg := f.auth.cfg
	cfg.OAuth2Providers = nil
	without, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	appURL, _ := url.Parse(f.app.URL)
	for _, c := range f.jar.Cookies(appURL) {
		req.AddCookie(c)
	}
	if !f.auth.IsAuthenticated(req) {
		t.Fatal("the session does not read back")
	}
	if without.IsAuthenticated(req) {
		t.Error("a session of a removed provider is accepted")
	}
}

func TestOAuth2OnSignInKeepsIdentity(t *testing.T) {
	t.Parallel()
	gh := github()
	f := newOAuth2Flow(t, true, []*fake{gh}, func(c *Config) {
		c.OnSignIn = func(_ context.Context, u *User) error {
			u.Subject = u.Email // an app must not key users by e-mail
			return nil
		}
	})
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusInternalServerError)
	if f.signedIn() {
		t.Error("signed in with a rewritten subject")
	}
}

// TestOAuth2LargeProfileFits: a profile near the 16 KiB limit still fits
// the session's cookies, so the limit refuses before cookies would.
func TestOAuth2LargeProfileFits(t *testing.T) {
	t.Parallel()
	gh := github()
	f := newOAuth2Flow(t, true, []*fake{gh}, nil)
	// Random-looking text, as a profile's URLs and hashes are: it does not
	// compress, so it costs cookie space in full.
	pad := strings.Repeat(randomString(), (maxProfileBytes-512)/43)
	gh.srv.SetProfile(map[string]any{"id": 583231, "name": "Octo Dev", "bio": pad})
	resp := f.get(f.startAt("/sign-in?provider=github").String())
	wantStatus(t, resp, http.StatusSeeOther)
	var bio struct{ Bio string }
	if err := f.user().Claims(&bio); err != nil || bio.Bio != pad {
		t.Errorf("the large profile did not survive the cookies: %v", err)
	}
}
