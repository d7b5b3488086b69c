// Package smoke is the test every router example passes: signed out, its
// protected routes challenge; it signs in against an in-process provider,
// reaches a protected page, a protected JSON route and a role-guarded
// route; it signs out. Each example's main_test.go runs it on its router.
//
// Every example serves the same routes:
//
//	GET  /          public
//	GET  /profile   protected page: "Signed in as <name> (<sub>)"
//	GET  /api/me    protected JSON: the user's claims (401 when signed out)
//	GET  /admin     users with Logto's "admin" role only (403 otherwise)
//	/sign-in, /callback, /sign-out
package smoke

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// App builds an example's handler, as its main does. The callback is at
// /callback.
type App func(auth *oidcauth.Auth) http.Handler

// Run signs in to the app newApp builds and checks its routes, then runs
// extra checks while signed in: get returns the status of a GET. The user
// has the role "admin" and is a member of the organization "org-a".
func Run(t *testing.T, newApp App, extra ...func(get func(path string) int)) {
	t.Helper()
	b := serve(t, newApp, oidcauthtest.User{Subject: "user-7", Name: "Ada Lovelace", Email: "ada@example.com",
		EmailVerified: true, Extra: map[string]any{"roles": []string{"admin"}, "organizations": []string{"org-a"}}})

	// Signed out: the page redirects to sign in, the API answers 401.
	resp := b.get("/profile", nil)
	b.want(resp, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != "/sign-in?returnTo=%2Fprofile" {
		t.Fatalf("GET /profile signed out: Location %q", got)
	}
	b.want(b.get("/api/me", http.Header{"Accept": {"application/json"}}), http.StatusUnauthorized)
	b.want(b.get("/", nil), http.StatusOK)

	if got := b.signIn("/sign-in?returnTo=%2Fprofile"); got != "/profile" {
		t.Fatalf("callback lands on %q, want /profile", got)
	}
	resp = b.get("/profile", nil)
	b.want(resp, http.StatusOK)
	if got := b.body(resp); !strings.Contains(got, "Signed in as Ada Lovelace (user-7)") {
		t.Fatalf("GET /profile: %q", got)
	}
	resp = b.get("/api/me", http.Header{"Accept": {"application/json"}})
	b.want(resp, http.StatusOK)
	var claims map[string]any
	if err := json.Unmarshal([]byte(b.body(resp)), &claims); err != nil || claims["sub"] != "user-7" {
		t.Fatalf("GET /api/me: %v %v", claims, err)
	}
	b.want(b.get("/admin", nil), http.StatusOK)
	for _, check := range extra {
		check(func(path string) int { return b.get(path, nil).StatusCode })
	}

	// Sign out from the app's own page.
	b.want(b.do("POST", "/sign-out", http.Header{"Sec-Fetch-Site": {"same-origin"}}), http.StatusSeeOther)
	b.want(b.get("/profile", nil), http.StatusSeeOther)
}

// Forbidden checks that a signed-in user without the admin role gets 403
// at /admin, as a page and as JSON, and still reaches /profile.
func Forbidden(t *testing.T, newApp App) {
	t.Helper()
	b := serve(t, newApp, oidcauthtest.User{Subject: "user-8", Name: "Bob", Extra: map[string]any{"roles": []string{"viewer"}}})
	b.signIn("/sign-in")
	resp := b.get("/admin", nil)
	b.want(resp, http.StatusForbidden)
	if got := b.body(resp); strings.Contains(got, "admin area") {
		t.Fatalf("the admin handler ran after the 403: %q", got)
	}
	b.want(b.get("/admin", http.Header{"Accept": {"application/json"}}), http.StatusForbidden)
	b.want(b.get("/profile", nil), http.StatusOK)
}

// serve starts a provider that signs user in and the app on a TLS test
// server, and returns a browser for the app.
func serve(t *testing.T, newApp App, user oidcauthtest.User) *browser {
	t.Helper()
	idp := oidcauthtest.NewServer(t, oidcauthtest.Options{ClientSecret: "smoke-secret", User: user})
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	auth, err := oidcauth.New(oidcauth.Config{
		Issuer:                idp.Issuer(),
		ClientID:              oidcauthtest.DefaultClientID,
		ClientSecret:          "smoke-secret",
		HTTPClient:            idp.Client(),
		RedirectURL:           srv.URL + "/callback",
		PostLogoutRedirectURL: srv.URL + "/",
		SessionKeys:           [][]byte{[]byte("smoke-test-session-key-0123456789abcdef")},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = newApp(auth)
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: srv.URL, client: &http.Client{
		Jar:           jar,
		Transport:     srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}}
}

// signIn goes app → provider (which approves at once) → callback, and
// returns where the callback sends the browser.
func (b *browser) signIn(start string) string {
	b.t.Helper()
	resp := b.get(start, nil)
	b.want(resp, http.StatusSeeOther)
	resp = b.get(b.location(resp), nil)
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("provider answered %d", resp.StatusCode)
	}
	resp = b.get(b.location(resp), nil)
	b.want(resp, http.StatusSeeOther)
	return b.location(resp)
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (b *browser) get(target string, h http.Header) *http.Response { return b.do("GET", target, h) }

func (b *browser) do(method, target string, h http.Header) *http.Response {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.base + target
	}
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (b *browser) want(resp *http.Response, status int) {
	b.t.Helper()
	if resp.StatusCode != status {
		b.t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b.body(resp))
	}
}

// location is the redirect target, absolute when it leaves the app.
func (b *browser) location(resp *http.Response) string {
	b.t.Helper()
	loc := resp.Header.Get("Location")
	if _, err := url.Parse(loc); loc == "" || err != nil {
		b.t.Fatalf("%s: no Location", resp.Request.URL.Path)
	}
	return loc
}

func (b *browser) body(resp *http.Response) string {
	b.t.Helper()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return string(data)
}
