package oidcauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

const apiResource = "https://api.example.com"

// tokenFlow is a flow whose app serves /token: the access token for
// ?resource= (or the organization token for ?org=), or the error's status
// and sentinel.
func tokenFlow(t *testing.T, opts oidcauthtest.Options, mutate func(*Config)) *flow {
	t.Helper()
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = 10 * time.Minute
	}
	f := newFlow(t, opts, func(c *Config) {
		c.Resources = []string{apiResource}
		if mutate != nil {
			mutate(c)
		}
	})
	f.mux.Handle("/token", tokenHandler(f.auth))
	return f
}

// tokenHandler serves the access token for ?resource= (or the
// organization token for ?org=), or the error's status and sentinel.
func tokenHandler(a *Auth) http.Handler {
	return a.RequireAuthAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var tok string
		var err error
		if org := r.URL.Query().Get("org"); org != "" {
			tok, err = a.OrganizationToken(w, r, org)
		} else {
			tok, err = a.AccessToken(w, r, r.URL.Query().Get("resource"))
		}
		if err != nil {
			w.WriteHeader(ErrorStatus(err))
			io.WriteString(w, sentinelName(err))
			return
		}
		io.WriteString(w, tok)
	}))
}

func sentinelName(err error) string {
	for _, e := range []error{ErrNotSignedIn, ErrNoRefreshToken, ErrAccessDenied, ErrTokenEndpoint, ErrInvalidIDToken, ErrProviderUnavailable, ErrUserInfo, ErrInternal} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "other: " + err.Error()
}

// getToken asks the app for a token and returns the status and body.
func (f *flow) getToken(query string) (int, string) {
	f.t.Helper()
	resp := f.get("/token" + query)
	return resp.StatusCode, body(f.t, resp)
}

// jwtClaims decodes a JWT's payload without verifying it.
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAccessTokenAndRefresh(t *testing.T) {
	t.Parallel()
	f := tokenFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if got := f.idp.LastAuthorizeRequest()["resource"]; !slices.Equal(got, []string{apiResource}) {
		t.Fatalf("authorization request resource = %q", got)
	}
	calls := f.idp.Calls("token")

	status, first := f.getToken("")
	if status != http.StatusOK || first == "" {
		t.Fatalf("token: %d %s", status, first)
	}
	if _, again := f.getToken(""); again != first || f.idp.Calls("token") != calls {
		t.Fatalf("a valid token was not reused: %d token calls", f.idp.Calls("token")-calls)
	}
	cookieBefore := f.cookie(f.auth.sessionCookie)

	// Within the leeway of the expiry: refreshed, once, and saved.
	f.clock.Advance(10*time.Minute - tokenLeeway + time.Second)
	status, second := f.getToken("")
	if status != http.StatusOK || second == first {
		t.Fatalf("after expiry: %d, same token %v", status, second == first)
	}
	if n := f.idp.Calls("token") - calls; n != 1 {
		t.Fatalf("refresh made %d token calls, want 1", n)
	}
	req := f.idp.LastTokenRequest()
	if req.Get("grant_type") != "refresh_token" || req.Has("resource") || req.Get("client_auth") != "client_secret_basic" {
		t.Errorf("refresh request = %v", req)
	}
	if f.cookie(f.auth.sessionCookie) == cookieBefore {
		t.Error("the refreshed tokens were not written to the session cookie")
	}
	if _, again := f.getToken(""); again != second || f.idp.Calls("token")-calls != 1 {
		t.Error("the refreshed token was not reused")
	}

	// An API resource: a JWT for it, cached after the first refresh grant.
	status, res := f.getToken("?resource=" + url.QueryEscape(apiResource))
	if status != http.StatusOK {
		t.Fatalf("resource token: %d %s", status, res)
	}
	if aud := jwtClaims(t, res)["aud"]; aud != apiResource {
		t.Errorf("resource token aud = %v", aud)
	}
	if got := f.idp.LastTokenRequest()["resource"]; !slices.Equal(got, []string{apiResource}) {
		t.Errorf("refresh grant resource = %q", got)
	}
	if _, again := f.getToken("?resource=" + url.QueryEscape(apiResource)); again != res || f.idp.Calls("token")-calls != 2 {
		t.Error("the resource token was not cached")
	}
	f.clock.Advance(10 * time.Minute)
	if _, renewed := f.getToken("?resource=" + url.QueryEscape(apiResource)); renewed == res || f.idp.Calls("token")-calls != 3 {
		t.Error("an expired resource token was not renewed")
	}
	if !f.signedIn() {
		t.Error("signed out after refreshes")
	}
	if strings.Contains(f.logs.String(), first) || strings.Contains(f.logs.String(), res) {
		t.Error("a token reached the log")
	}
}

// Fifty requests with the same stale cookie: one refresh, everyone gets the
// new token, and the rotated refresh token is never spent twice (the
// provider would revoke the whole family, which the last step would show).
func TestRefreshConcurrentStaleCookie(t *testing.T) {
	t.Parallel()
	f := tokenFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	stale := f.auth.sessionCookie + "=" + f.cookie(f.auth.sessionCookie)
	f.clock.Advance(11 * time.Minute)
	calls := f.idp.Calls("token")

	const n = 50
	type result struct {
		status  int
		token   string
		cookies []*http.Cookie
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", f.app.URL+"/token", nil)
			req.Header.Set("Cookie", stale)
			resp, err := f.app.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			results[i] = result{resp.StatusCode, string(b), resp.Cookies()}
		}()
	}
	wg.Wait()
	if got := f.idp.Calls("token") - calls; got != 1 {
		t.Fatalf("%d token calls, want exactly 1", got)
	}
	var fresh *http.Cookie
	for i, r := range results {
		if r.status != http.StatusOK || r.token != results[0].token {
			t.Fatalf("request %d: %d %q", i, r.status, r.token)
		}
		for _, c := range r.cookies {
			if c.Name == f.auth.sessionCookie && c.MaxAge > 0 {
				fresh = c
			} else if c.Name == f.auth.sessionCookie {
				t.Fatalf("request %d cleared the session", i)
			}
		}
	}
	if fresh == nil {
		t.Fatal("no request wrote the refreshed session cookie")
	}

	// Later still, the old cookie is brought up to date, without a call.
	req, _ := http.NewRequest("GET", f.app.URL+"/profile", nil)
	req.Header.Set("Cookie", stale)
	resp, err := f.app.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantStatus(t, resp, http.StatusOK)
	if !slices.ContainsFunc(resp.Cookies(), func(c *http.Cookie) bool { return c.Name == f.auth.sessionCookie && c.MaxAge > 0 }) {
		t.Error("a stale cookie was not rewritten")
	}

	// The refresh token family is intact: the next refresh succeeds.
	f.clock.Advance(11 * time.Minute)
	req, _ = http.NewRequest("GET", f.app.URL+"/token", nil)
	req.AddCookie(fresh)
	resp, err = f.app.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	next := body(t, resp)
	if resp.StatusCode != http.StatusOK || next == results[0].token {
		t.Fatalf("second refresh: %d %q", resp.StatusCode, next)
	}
	if got := f.idp.Calls("token") - calls; got != 2 {
		t.Errorf("%d token calls in all, want 2", got)
	}
}

// A provider that does not rotate: the old cookie still holds a valid
// refresh token, and is brought up to date by the newer access token.
func TestRefreshWithoutRotation(t *testing.T) {
	t.Parallel()
	f := tokenFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	stale := f.auth.sessionCookie + "=" + f.cookie(f.auth.sessionCookie)
	f.idp.Misbehave(oidcauthtest.Misbehavior{KeepRefreshToken: true})
	f.clock.Advance(11 * time.Minute)
	calls := f.idp.Calls("token")
	_, tok := f.getToken("")
	req, _ := http.NewRequest("GET", f.app.URL+"/token", nil)
	req.Header.Set("Cookie", stale)
	resp, err := f.app.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, resp); resp.StatusCode != http.StatusOK || got != tok {
		t.Errorf("old cookie: %d, same token %v", resp.StatusCode, got == tok)
	}
	if n := f.idp.Calls("token") - calls; n != 1 {
		t.Errorf("%d token calls, want 1", n)
	}
}

func TestOrganizationToken(t *testing.T) {
	t.Parallel()
	user := oidcauthtest.User{Subject: "u-org", Name: "Org Member", Extra: map[string]any{"organizations": []string{"org-1"}}}
	f := tokenFlow(t, oidcauthtest.Options{User: user}, func(c *Config) {
		c.Scopes = []string{"openid", "profile", "offline_access", OrganizationsScope}
	})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	if got := f.idp.LastAuthorizeRequest()["resource"]; !slices.Equal(got, []string{apiResource, organizationsResource}) {
		t.Errorf("authorization request resource = %q", got)
	}
	status, tok := f.getToken("?org=org-1")
	if status != http.StatusOK {
		t.Fatalf("organization token: %d %s", status, tok)
	}
	if aud := jwtClaims(t, tok)["aud"]; aud != "urn:logto:organization:org-1" {
		t.Errorf("aud = %v", aud)
	}
	if got := f.idp.LastTokenRequest().Get("organization_id"); got != "org-1" {
		t.Errorf("organization_id = %q", got)
	}
	if status, kind := f.getToken("?org=org-2"); status != http.StatusForbidden || kind != ErrAccessDenied.Error() {
		t.Errorf("foreign organization: %d %s", status, kind)
	}
	if !f.signedIn() {
		t.Error("a refused organization signed the user out")
	}
	if _, again := f.getToken("?org=org-1"); again != tok {
		t.Error("the organization token was not cached")
	}

	plain := tokenFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, plain.signIn("/sign-in"), http.StatusSeeOther)
	if status, kind := plain.getToken("?org=org-1"); status != http.StatusInternalServerError || kind != ErrInternal.Error() {
		t.Errorf("without the organizations scope: %d %s", status, kind)
	}
}

func TestAccessTokenSignedOut(t *testing.T) {
	t.Parallel()
	a := testAuth(t, nil)
	_, err := a.AccessToken(nopWriter{h: http.Header{}}, mustRequest(t, "GET", "https://app.example.com/"), "")
	if !errors.Is(err, ErrNotSignedIn) {
		t.Errorf("err = %v", err)
	}
}

func mustRequest(t testing.TB, method, target string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type cancelKey struct{}

// cancellingTransport cancels the request's context once the provider has
// answered, as a browser that navigates away mid-refresh does, and then
// reports the response lost if the context was the request's.
type cancellingTransport struct{ base http.RoundTripper }

func (c cancellingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if cancel, ok := req.Context().Value(cancelKey{}).(context.CancelFunc); ok {
		cancel()
	}
	if err == nil && req.Context().Err() != nil {
		resp.Body.Close()
		return nil, req.Context().Err()
	}
	return resp, err
}

// A browser that gives up while the refresh grant is under way does not
// cost the session: the grant finishes, the rotated refresh token is kept.
func TestRefreshSurvivesCancelledRequest(t *testing.T) {
	t.Parallel()
	f := tokenFlow(t, oidcauthtest.Options{}, func(c *Config) {
		c.HTTPClient = &http.Client{Transport: cancellingTransport{base: c.HTTPClient.Transport}}
	})
	f.mux.Handle("/token-abort", f.auth.RequireAuthAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		_, err := f.auth.AccessToken(w, r.WithContext(context.WithValue(ctx, cancelKey{}, cancel)), "")
		if err != nil {
			w.WriteHeader(ErrorStatus(err))
		}
	})))
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	f.clock.Advance(11 * time.Minute)
	f.get("/token-abort")
	f.clock.Advance(11 * time.Minute)
	if status, kind := f.getToken(""); status != http.StatusOK {
		t.Fatalf("the refresh after an abandoned one: %d %s", status, kind)
	}
	if !f.signedIn() {
		t.Error("signed out after an abandoned refresh")
	}
}
