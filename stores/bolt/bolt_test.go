package bolt

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcauthtest"
	bbolt "go.etcd.io/bbolt"
)

func open(t *testing.T, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// app is one run of an app process: a fresh Auth over the state at its
// path, served at a URL that stays the same across restarts.
type app struct {
	t       *testing.T
	idp     *oidcauthtest.Provider
	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]
	db      *DB
}

func newApp(t *testing.T, idp *oidcauthtest.Provider) *app {
	a := &app{t: t, idp: idp}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*a.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

const apiResource = "https://api.example.com"

// start runs the app with its state in db (nil: in memory).
func (a *app) start(db *DB) {
	a.t.Helper()
	cfg := oidcauth.Config{
		Issuer:       a.idp.Issuer(),
		ClientID:     oidcauthtest.DefaultClientID,
		ClientSecret: "secret",
		RedirectURL:  a.srv.URL + "/callback",
		SessionKeys:  [][]byte{[]byte(strings.Repeat("k", 32))},
		HTTPClient:   a.idp.Client(),
		Resources:    []string{apiResource},
	}
	if db != nil {
		cfg.Revocations, cfg.RefreshCoordinator = db.Revocations(), db.Coordinator()
	}
	auth, err := oidcauth.New(cfg)
	if err != nil {
		a.t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux)
	mux.Handle("/me", auth.RequireAuthAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := oidcauth.UserFromContext(r.Context())
		io.WriteString(w, u.Subject)
	})))
	mux.Handle("/token", auth.RequireAuthAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := auth.AccessToken(w, r, apiResource); err != nil {
			http.Error(w, "no token", oidcauth.ErrorStatus(err))
		}
	})))
	var h http.Handler = mux
	a.handler.Store(&h)
}

// restart closes the database and opens it again under a new Auth, as a
// new process would.
func (a *app) restart(path string) {
	a.t.Helper()
	if a.db != nil {
		if err := a.db.Close(); err != nil {
			a.t.Fatal(err)
		}
	}
	a.db = open(a.t, path, Options{})
	a.start(a.db)
}

// browser is a cookie jar that stops at redirects.
type browser struct {
	t   *testing.T
	app *app
	c   *http.Client
}

func (a *app) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := a.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: a.t, app: a, c: c}
}

func (b *browser) do(method, target string, header http.Header) *http.Response {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.app.srv.URL + target
	}
	req, _ := http.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// signIn signs in (the provider approves at once) and returns a copy of
// the session's cookies, as a thief or a second tab would hold them.
func (b *browser) signIn() string {
	b.t.Helper()
	resp := b.do("GET", "/sign-in", nil)
	resp = b.do("GET", resp.Header.Get("Location"), nil)
	if resp = b.do("GET", resp.Header.Get("Location"), nil); resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("callback: %d", resp.StatusCode)
	}
	u, _ := url.Parse(b.app.srv.URL)
	var copied []string
	for _, c := range b.c.Jar.Cookies(u) {
		copied = append(copied, c.Name+"="+c.Value)
	}
	return strings.Join(copied, "; ")
}

// me is /me's status for a request carrying cookie (and no jar).
func (a *app) me(cookie string) int { return a.status("/me", cookie) }

// status is path's status for a request carrying cookie (and no jar).
func (a *app) status(path, cookie string) int {
	a.t.Helper()
	req, _ := http.NewRequest("GET", a.srv.URL+path, nil)
	req.Header.Set("Cookie", cookie)
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (b *browser) signOut() {
	b.t.Helper()
	if resp := b.do("POST", "/sign-out", http.Header{"Origin": {b.app.srv.URL}}); resp.StatusCode >= 400 {
		b.t.Fatalf("sign-out: %d", resp.StatusCode)
	}
}

// A cookie copied before sign-out stays refused after the app restarts
// on the same database; in process memory the restart forgets the
// sign-out (what issue 13 saw), and a new sign-in works after either.
func TestSignOutSurvivesRestart(t *testing.T) {
	idp := oidcauthtest.NewServer(t, oidcauthtest.Options{ClientSecret: "secret"})
	path := filepath.Join(t.TempDir(), "oidcauth.db")

	a := newApp(t, idp)
	a.restart(path)
	b := a.browser()
	copied := b.signIn()
	if got := a.me(copied); got != http.StatusOK {
		t.Fatalf("signed in: /me %d", got)
	}
	b.signOut()
	if got := a.me(copied); got != http.StatusUnauthorized {
		t.Fatalf("after sign-out the copied cookie gets %d", got)
	}
	for i := range 2 {
		a.restart(path)
		if got := a.me(copied); got != http.StatusUnauthorized {
			t.Fatalf("after restart %d the copied cookie gets %d", i+1, got)
		}
	}
	if fresh := a.browser().signIn(); a.me(fresh) != http.StatusOK {
		t.Error("a new sign-in after the restart is refused")
	}

	// The same with revocations in process memory: the restart forgets.
	m := newApp(t, idp)
	m.start(nil)
	b = m.browser()
	copied = b.signIn()
	b.signOut()
	if got := m.me(copied); got != http.StatusUnauthorized {
		t.Fatalf("in memory, after sign-out: %d", got)
	}
	m.start(nil)
	if got := m.me(copied); got != http.StatusOK {
		t.Errorf("in memory, after a restart: %d; the contrast this test draws is gone", got)
	}
}

// The app refreshes (a resource token: one refresh grant, which rotates
// the refresh token) and restarts before the browser stores the new
// cookie: the old cookie catches up from the refresh's outcome in the
// file, with no second grant. In process memory the restart forgets the
// outcome, the old refresh token is spent again, and the provider ends
// the session.
func TestRefreshOutcomeSurvivesRestart(t *testing.T) {
	idp := oidcauthtest.NewServer(t, oidcauthtest.Options{ClientSecret: "secret"})
	path := filepath.Join(t.TempDir(), "oidcauth.db")
	a := newApp(t, idp)
	a.restart(path)
	b := a.browser()
	stale := b.signIn()
	grants := idp.Calls("token")
	if resp := b.do("GET", "/token", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("/token: %d", resp.StatusCode)
	}
	if idp.Calls("token") != grants+1 {
		t.Fatalf("the first resource token took %d token requests", idp.Calls("token")-grants)
	}
	a.restart(path)
	if got := a.status("/token", stale); got != http.StatusOK {
		t.Errorf("after the restart the cookie from before the refresh gets %d", got)
	}
	if n := idp.Calls("token") - grants; n != 1 {
		t.Errorf("the provider received %d token requests, want the one refresh", n)
	}

	m := newApp(t, idp)
	m.start(nil)
	b = m.browser()
	stale = b.signIn()
	b.do("GET", "/token", nil)
	m.start(nil)
	if got := m.status("/token", stale); got != http.StatusUnauthorized {
		t.Errorf("in memory, after a restart, the old cookie gets %d; the contrast this test draws is gone", got)
	}
}

// A back-channel logout holds across a restart, and its token, replayed
// after the restart, is refused.
func TestBackChannelLogoutSurvivesRestart(t *testing.T) {
	idp := oidcauthtest.NewServer(t, oidcauthtest.Options{ClientSecret: "secret"})
	path := filepath.Join(t.TempDir(), "oidcauth.db")
	a := newApp(t, idp)
	a.restart(path)
	copied := a.browser().signIn()
	tok, err := idp.LogoutToken(oidcauthtest.LogoutTokenOptions{Subject: "user-1"})
	if err != nil {
		t.Fatal(err)
	}
	post := func() int {
		resp, err := a.srv.Client().PostForm(a.srv.URL+"/backchannel-logout", url.Values{"logout_token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(); got != http.StatusOK {
		t.Fatalf("back-channel logout: %d", got)
	}
	a.restart(path)
	if got := a.me(copied); got != http.StatusUnauthorized {
		t.Errorf("after the restart the logged-out session gets %d", got)
	}
	if got := post(); got != http.StatusBadRequest {
		t.Errorf("the logout token replayed after the restart: %d", got)
	}
}

func TestRevocations(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	clock := now
	path := filepath.Join(t.TempDir(), "oidcauth.db")
	db := open(t, path, Options{Now: func() time.Time { return clock }})
	r := db.Revocations()

	if err := r.Revoke(ctx, oidcauth.Revocation{At: now}); err == nil {
		t.Error("a revocation naming nothing was accepted")
	}
	for _, rev := range []oidcauth.Revocation{
		{SessionID: "id-1", At: now, Until: now.Add(time.Hour)},
		{ProviderSID: "sid-1", At: now.Add(-time.Minute), Until: now.Add(time.Hour)},
		{ProviderSID: "sid-1", At: now.Add(-time.Hour), Until: now.Add(time.Minute)}, // earlier: kept later
		{Subject: "sub|1", At: now, Until: now.Add(2 * time.Hour)},
	} {
		if err := r.Revoke(ctx, rev); err != nil {
			t.Fatal(err)
		}
	}
	if first, err := r.FirstUse(ctx, "jti-1", now.Add(time.Minute)); !first || err != nil {
		t.Fatalf("FirstUse = %v, %v", first, err)
	}
	db.Close()

	// Reopened an hour and a half later: the Subject record alone is left.
	clock = now.Add(90 * time.Minute)
	db = open(t, path, Options{Now: func() time.Time { return clock }})
	r = db.Revocations()
	if !r.IsRevoked("", "", "sub|1", now) || r.IsRevoked("", "", "sub|1", now.Add(time.Second)) {
		t.Error("the subject's cut-off did not survive the reopen")
	}
	var left []string
	_ = db.db.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketRevocations, bucketJTIs} {
			_ = tx.Bucket(name).ForEach(func(k, _ []byte) error { left = append(left, string(k)); return nil })
		}
		return nil
	})
	if strings.Join(left, " ") != "usub|1" {
		t.Errorf("after the sweep the file holds %q", left)
	}
	if first, _ := r.FirstUse(ctx, "jti-1", clock.Add(time.Minute)); !first {
		t.Error("an expired jti is still refused")
	}
	if first, _ := r.FirstUse(ctx, "jti-1", clock.Add(time.Minute)); first {
		t.Error("a replayed jti was accepted")
	}
}

// Before expiry the records survive a reopen with their later cut-off.
func TestRevocationsReopen(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	path := filepath.Join(t.TempDir(), "oidcauth.db")
	db := open(t, path, Options{})
	r := db.Revocations()
	_ = r.Revoke(ctx, oidcauth.Revocation{ProviderSID: "sid-1", At: now, Until: now.Add(time.Hour)})
	_ = r.Revoke(ctx, oidcauth.Revocation{ProviderSID: "sid-1", At: now.Add(-time.Hour), Until: now.Add(time.Minute)})
	_ = r.Revoke(ctx, oidcauth.Revocation{SessionID: "id-1", At: now, Until: now.Add(time.Hour)})
	db.Close()
	r = open(t, path, Options{}).Revocations()
	if !r.IsRevoked("", "sid-1", "", now) || r.IsRevoked("", "sid-1", "", now.Add(time.Second)) {
		t.Error("sid cut-off lost or moved back")
	}
	if !r.IsRevoked("id-1", "", "", now) || r.IsRevoked("id-2", "", "", now) {
		t.Error("session id record lost")
	}
	n := 0
	r.Mirror().Range(func(oidcauth.Revocation) bool { n++; return true })
	if n != 2 {
		t.Errorf("mirror holds %d records, want 2", n)
	}
}

// RequireAuth calls IsRevoked on every request: memory only, no
// allocation.
func TestIsRevokedAllocations(t *testing.T) {
	r := open(t, filepath.Join(t.TempDir(), "oidcauth.db"), Options{}).Revocations()
	now := time.Now()
	_ = r.Revoke(context.Background(), oidcauth.Revocation{Subject: "sub", At: now, Until: now.Add(time.Hour)})
	if n := testing.AllocsPerRun(100, func() { r.IsRevoked("id", "sid", "other", now) }); n != 0 {
		t.Errorf("IsRevoked allocates %v times", n)
	}
}

func BenchmarkIsRevoked(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "oidcauth.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := db.Revocations()
	now := time.Now()
	_ = r.Revoke(context.Background(), oidcauth.Revocation{Subject: "sub", At: now, Until: now.Add(time.Hour)})
	b.ReportAllocs()
	for b.Loop() {
		r.IsRevoked("id", "sid", "other", now)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	clock := time.Unix(1_800_000_000, 0)
	path := filepath.Join(t.TempDir(), "oidcauth.db")
	db := open(t, path, Options{Now: func() time.Time { return clock }})
	s := db.Sessions()
	if _, ok, err := s.Load(ctx, "missing"); ok || err != nil {
		t.Errorf("missing key: %v %v", ok, err)
	}
	if err := s.Store(ctx, "k", []byte("sealed"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Store(ctx, "short", []byte("x"), time.Second); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = open(t, path, Options{Now: func() time.Time { return clock }})
	s = db.Sessions()
	if v, ok, err := s.Load(ctx, "k"); !ok || err != nil || string(v) != "sealed" {
		t.Errorf("after reopen Load = %q %v %v", v, ok, err)
	}
	clock = clock.Add(2 * time.Second)
	if _, ok, _ := s.Load(ctx, "short"); ok {
		t.Error("an expired record was loaded")
	}
	if ok, err := s.CompareAndSwap(ctx, "k", []byte("other"), []byte("new"), time.Minute); ok || err != nil {
		t.Errorf("CompareAndSwap over another value: %v %v", ok, err)
	}
	if ok, err := s.CompareAndSwap(ctx, "k", []byte("sealed"), []byte("new"), time.Minute); !ok || err != nil {
		t.Errorf("CompareAndSwap over the value read: %v %v", ok, err)
	}
	if v, _, _ := s.Load(ctx, "k"); string(v) != "new" {
		t.Errorf("after CompareAndSwap Load = %q", v)
	}
	if ok, _ := s.CompareAndSwap(ctx, "short", []byte("x"), []byte("y"), time.Minute); ok {
		t.Error("CompareAndSwap over an expired record")
	}
	if ok, _ := s.CompareAndSwap(ctx, "missing", nil, []byte("y"), time.Minute); ok {
		t.Error("CompareAndSwap over a missing record")
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Load(ctx, "k"); ok {
		t.Error("a deleted record was loaded")
	}
}

// One process at a time: a second Open of the same file fails clearly.
func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oidcauth.db")
	open(t, path, Options{})
	_, err := Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "open in another process") {
		t.Errorf("second Open: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing-dir", "x.db"), Options{}); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

func TestCloseTwice(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "oidcauth.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err == nil {
		t.Error("second Close reported no error")
	}
}
