package oidcauth

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// clock is a movable clock shared by the app and the provider.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// flow is an app on an httptest TLS server, signed in with an in-process
// provider, and a browser-like client: a cookie jar, redirects not followed.
type flow struct {
	t      *testing.T
	idp    *oidcauthtest.Provider
	auth   *Auth
	app    *httptest.Server
	jar    *cookiejar.Jar
	client *http.Client
	clock  *clock
	logs   *lockedBuffer
	mux    *http.ServeMux // the app's routes; tests may add their own
}

// protected answers with the signed-in user's subject.
var protected = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	u, ok := UserFromContext(r.Context())
	if !ok {
		http.Error(w, "no user in context", http.StatusInternalServerError)
		return
	}
	io.WriteString(w, "hello "+u.Subject+" "+u.Name)
})

func newFlow(t *testing.T, opts oidcauthtest.Options, mutate func(*Config)) *flow {
	t.Helper()
	f := &flow{t: t, clock: newClock(), logs: &lockedBuffer{}}
	opts.Now = f.clock.Now
	if opts.ClientSecret == "" {
		opts.ClientSecret = "s3cr3t-client-value"
	}
	f.idp = oidcauthtest.NewServer(t, opts)
	f.app = httptest.NewUnstartedServer(nil)
	f.app.StartTLS()
	t.Cleanup(f.app.Close)
	cfg := Config{
		Issuer:                f.idp.Issuer(),
		ClientID:              "test-client",
		ClientSecret:          opts.ClientSecret,
		RedirectURL:           f.app.URL + "/callback",
		PostLogoutRedirectURL: f.app.URL + "/",
		SessionKeys:           [][]byte{testKey(1)},
		HTTPClient:            f.idp.Client(),
		Now:                   f.clock.Now,
		Logger:                slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if opts.ClientID != "" {
		cfg.ClientID = opts.ClientID
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.auth = a
	mux := http.NewServeMux()
	a.Mount(mux)
	mux.Handle("/profile", a.RequireAuth(protected))
	mux.Handle("/api/me", a.RequireAuthAPI(protected))
	mux.Handle("/", a.LoadUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := UserFromContext(r.Context()); ok {
			io.WriteString(w, "home of "+u.Subject)
			return
		}
		io.WriteString(w, "home, anonymous")
	})))
	f.app.Config.Handler = mux
	f.mux = mux
	f.jar, _ = cookiejar.New(nil)
	f.client = &http.Client{
		Jar:       f.jar,
		Transport: f.app.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 10 * time.Second,
	}
	return f
}

// do sends a request; relative targets go to the app.
func (f *flow) do(method, target string, header http.Header) *http.Response {
	f.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = f.app.URL + target
	}
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (f *flow) get(target string) *http.Response { return f.do("GET", target, nil) }

// withCookie GETs path on the app with exactly the Cookie header given,
// outside the flow's cookie jar: a copied cookie presented later.
func (f *flow) withCookie(path, cookie string) *http.Response {
	f.t.Helper()
	req, err := http.NewRequest("GET", f.app.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Cookie", cookie)
	resp, err := f.app.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want)
	}
}

// location parses the Location header as sent, without resolving it against
// the request URL, so a test sees whether a redirect leaves the origin.
func location(t *testing.T, resp *http.Response) *url.URL {
	t.Helper()
	raw := resp.Header.Get("Location")
	u, err := url.Parse(raw)
	if raw == "" || err != nil {
		t.Fatalf("%s: no valid Location (status %d)", resp.Request.URL.Path, resp.StatusCode)
	}
	return u
}

// startSignIn follows /sign-in to the provider and returns the provider's
// redirect back to the callback (not yet visited).
func (f *flow) startSignIn(signInPath string) *url.URL {
	f.t.Helper()
	resp := f.get(signInPath)
	wantStatus(f.t, resp, http.StatusSeeOther)
	authz := location(f.t, resp)
	if !strings.HasPrefix(authz.String(), f.idp.Issuer()) {
		f.t.Fatalf("sign-in redirects to %s, not the provider", authz)
	}
	resp = f.get(authz.String())
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("provider authorize: status %d: %s", resp.StatusCode, body(f.t, resp))
	}
	return location(f.t, resp)
}

// signIn runs a whole sign-in and returns the callback's response.
func (f *flow) signIn(signInPath string) *http.Response {
	f.t.Helper()
	return f.get(f.startSignIn(signInPath).String())
}

// cookie returns the jar's value for name at the app, or "".
func (f *flow) cookie(name string) string {
	u, _ := url.Parse(f.app.URL)
	for _, c := range f.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (f *flow) txCookies() int {
	u, _ := url.Parse(f.app.URL)
	n := 0
	for _, c := range f.jar.Cookies(u) {
		if strings.HasPrefix(c.Name, f.auth.txPrefix) {
			n++
		}
	}
	return n
}

// signedIn reports whether the jar's session reaches a protected page.
func (f *flow) signedIn() bool {
	f.t.Helper()
	resp := f.get("/profile")
	return resp.StatusCode == http.StatusOK
}

// assertFailedCleanly checks what every failed callback must leave behind.
func (f *flow) assertFailedCleanly(t *testing.T, resp *http.Response, page string, cb *url.URL) {
	t.Helper()
	if f.cookie(f.auth.sessionCookie) != "" {
		t.Error("a session cookie exists after the failure")
	}
	if f.txCookies() != 0 {
		t.Error("the transaction cookie was not cleared")
	}
	if f.signedIn() {
		t.Error("signed in after the failure")
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("error Cache-Control = %q", cc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("error Content-Type = %q", ct)
	}
	secrets := []string{"s3cr3t-client-value", "oops", "hello", "evil.example", "someone-else"}
	if code := cb.Query().Get("code"); code != "" {
		secrets = append(secrets, code)
	}
	for _, s := range secrets {
		if strings.Contains(page, s) {
			t.Errorf("error page shows %q:\n%s", s, page)
		}
		if s != "evil.example" && strings.Contains(f.logs.String(), s) {
			t.Errorf("logs contain %q", s)
		}
	}
}
