package redis

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcauthtest"
	goredis "github.com/redis/go-redis/v9"
)

// server is a real redis-server on a free loopback port, without
// persistence, so a restart loses everything (the worst case).
type server struct {
	t    testing.TB
	addr string
	args []string // beyond the defaults: a cluster node's
	cmd  *exec.Cmd
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startRedis(t testing.TB) *server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: run scripts/redis-tests.sh, which installs it from Debian's packages")
	}
	s := &server{t: t, addr: freeAddr(t)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.addr)
	args := append([]string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--protected-mode", "yes"}, s.args...)
	s.cmd = exec.Command("redis-server", args...)
	s.cmd.SysProcAttr = procAttr()
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: s.addr})
	defer c.Close()
	for i := 0; i < 200; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		time.Sleep(10 * time.Millisecond) // waiting for a process to listen
	}
	s.t.Fatal("redis-server did not start")
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func (s *server) client() *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: s.addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second})
	s.t.Cleanup(func() { c.Close() })
	return c
}

func newRevocations(t testing.TB, c goredis.UniversalClient, opts Options) *Revocations {
	t.Helper()
	if opts.ResyncInterval == 0 {
		opts.ResyncInterval = time.Hour // tests call Sync themselves
	}
	r, err := NewRevocations(context.Background(), c, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// instance is one app process: its own Auth, revocation mirror and server,
// sharing Redis and the session keys with the others.
type instance struct {
	auth *oidcauth.Auth
	srv  *httptest.Server
	rev  *Revocations
}

// instanceOptions vary an instance: cookie sessions instead of
// server-side ones, a clock.
type instanceOptions struct {
	cookies bool
	now     func() time.Time
	// coordinator wraps the instance's coordinator, to inject faults.
	coordinator func(oidcauth.RefreshCoordinator) oidcauth.RefreshCoordinator
}

// newInstances starts n instances of one app: the same configuration,
// including the redirect URL (the first instance's; the app's public URL
// behind a load balancer, which session cookies are bound to).
func newInstances(t *testing.T, n int, idp *oidcauthtest.Provider, c goredis.UniversalClient, opts instanceOptions) []*instance {
	t.Helper()
	var out []*instance
	for i := range n {
		redirect := ""
		if i > 0 {
			redirect = out[0].srv.URL + "/callback"
		}
		out = append(out, newInstance(t, idp, c, opts, redirect))
	}
	return out
}

// newInstance starts an instance on c: Redis revocations, refresh
// coordination and server-side sessions (or cookie sessions).
func newInstance(t testing.TB, idp *oidcauthtest.Provider, c goredis.UniversalClient, opts instanceOptions, redirect string) *instance {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if redirect == "" {
		redirect = srv.URL + "/callback"
	}
	rev := newRevocations(t, c, Options{})
	cfg := oidcauth.Config{
		Issuer:             idp.Issuer(),
		ClientID:           oidcauthtest.DefaultClientID,
		ClientSecret:       "secret",
		RedirectURL:        redirect,
		SessionKeys:        [][]byte{[]byte(strings.Repeat("k", 32))},
		HTTPClient:         idp.Client(),
		Revocations:        rev,
		RefreshCoordinator: NewCoordinator(c, "test:"),
		Now:                opts.now,
	}
	if opts.coordinator != nil {
		cfg.RefreshCoordinator = opts.coordinator(cfg.RefreshCoordinator)
	}
	if !opts.cookies {
		cfg.Store = oidcauth.NewServerStore(NewBackend(c), "test:session:")
	}
	auth, err := oidcauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux)
	mux.Handle("/me", auth.RequireAuthAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := oidcauth.UserFromContext(r.Context())
		var c struct {
			Sid string `json:"sid"`
		}
		_ = u.Claims(&c)
		io.WriteString(w, u.Subject+" "+c.Sid)
	})))
	mux.Handle("/token", auth.RequireAuthAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := auth.AccessToken(w, r, "")
		if err != nil {
			http.Error(w, err.Error(), oidcauth.ErrorStatus(err))
			return
		}
		io.WriteString(w, tok)
	})))
	srv.Config.Handler = mux
	return &instance{auth: auth, srv: srv, rev: rev}
}

// browser holds the session cookie and sends it to any instance.
type browser struct {
	t      testing.TB
	client *http.Client
	cookie string
}

func newBrowser(t testing.TB, tr http.RoundTripper) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(target string) *http.Response {
	b.t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	if b.cookie != "" {
		req.Header.Set("Cookie", b.cookie)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// signIn signs in on inst and keeps the session cookie for every instance.
func (b *browser) signIn(inst *instance) {
	b.t.Helper()
	resp := b.get(inst.srv.URL + "/sign-in")
	authz, _ := url.Parse(resp.Header.Get("Location"))
	resp = b.get(authz.String())
	cb := resp.Header.Get("Location")
	req, _ := http.NewRequest("GET", cb, nil)
	u, _ := url.Parse(inst.srv.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("callback: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "oidcauth") && c.MaxAge > 0 {
			b.cookie = c.Name + "=" + c.Value
		}
	}
	if b.cookie == "" {
		b.t.Fatal("no session cookie")
	}
}

func (b *browser) status(inst *instance) int {
	b.t.Helper()
	return b.get(inst.srv.URL + "/me").StatusCode
}

func logout(t *testing.T, inst *instance, token string) int {
	t.Helper()
	resp, err := inst.srv.Client().PostForm(inst.srv.URL+"/backchannel-logout", url.Values{"logout_token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Sign in on A, the provider's back-channel logout reaches B: the session
// is refused on both, promptly (pub/sub) and after a resync either way; on
// a single node and on a cluster.
func TestTwoInstancesBackChannelLogout(t *testing.T) {
	backends(t, testTwoInstancesBackChannelLogout)
}

func testTwoInstancesBackChannelLogout(t *testing.T, c goredis.UniversalClient) {
	idp := oidcauthtest.NewServer(t, oidcauthtest.Options{ClientSecret: "secret"})
	two := newInstances(t, 2, idp, c, instanceOptions{})
	a, b := two[0], two[1]
	user := newBrowser(t, a.srv.Client().Transport)
	user.signIn(a)
	if user.status(a) != http.StatusOK || user.status(b) != http.StatusOK {
		t.Fatal("the session is not shared through Redis")
	}

	sub, sid := user.whoAmI(a)
	tok, err := idp.LogoutToken(oidcauthtest.LogoutTokenOptions{Subject: sub, SID: sid})
	if err != nil {
		t.Fatal(err)
	}
	if got := logout(t, b, tok); got != http.StatusOK {
		t.Fatalf("back-channel logout at B: %d", got)
	}
	if user.status(b) != http.StatusUnauthorized {
		t.Error("B serves the session it revoked")
	}
	// A learns by pub/sub within moments; Sync is the resync's bound.
	deadline := time.Now().Add(5 * time.Second)
	for mirrorLen(a.rev.Mirror()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if mirrorLen(a.rev.Mirror()) == 0 {
		t.Error("A did not hear of the revocation by pub/sub")
	}
	if err := a.rev.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if user.status(a) != http.StatusUnauthorized {
		t.Error("A serves a session revoked at B")
	}
	// The same logout token is refused at A: jti is shared. Redis holds
	// its revocation already (Holds), so the replay writes nothing: the
	// log, scored with Redis's clock at each write, is unchanged.
	logged := func() []goredis.Z {
		z, err := c.ZRangeWithScores(context.Background(), a.rev.logKey, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	before := logged()
	if got := logout(t, a, tok); got != http.StatusBadRequest {
		t.Errorf("replayed logout token at A: %d", got)
	}
	if after := logged(); !slices.Equal(before, after) {
		t.Errorf("the replay wrote to the revocation log: %v, then %v", before, after)
	}
}

// whoAmI returns the subject and provider session id B's instance sees.
func (b *browser) whoAmI(inst *instance) (sub, sid string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", inst.srv.URL+"/me", nil)
	req.Header.Set("Cookie", b.cookie)
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sub, sid, _ = strings.Cut(string(body), " ")
	if resp.StatusCode != http.StatusOK || sid == "" {
		b.t.Fatalf("/me: %d %q", resp.StatusCode, body)
	}
	return sub, sid
}

// Redis restarts empty mid-test: revocations made before are restored
// from the mirrors, a new instance learns them, errors during the outage
// are clear, and nothing revoked is served.
func TestRedisRestart(t *testing.T) {
	redis := startRedis(t)
	idp := oidcauthtest.NewServer(t, oidcauthtest.Options{ClientSecret: "secret"})
	a := newInstance(t, idp, redis.client(), instanceOptions{}, "")
	ctx := context.Background()
	now := time.Now()
	rev := oidcauth.Revocation{ProviderSID: "sid-before", At: now, Until: now.Add(time.Hour)}
	if err := a.rev.Revoke(ctx, rev); err != nil {
		t.Fatal(err)
	}

	redis.stop()
	err := a.rev.Revoke(ctx, oidcauth.Revocation{ProviderSID: "sid-during", At: now, Until: now.Add(time.Hour)})
	if err == nil || !strings.Contains(err.Error(), "held on this instance only") {
		t.Errorf("Revoke during the outage: %v", err)
	}
	if _, err := a.rev.FirstUse(ctx, "jti-1", now.Add(time.Minute)); err == nil {
		t.Error("FirstUse succeeded without Redis (a logout token could then be replayed)")
	}
	if !a.rev.IsRevoked("", "sid-before", "", now) || !a.rev.IsRevoked("", "sid-during", "", now) {
		t.Error("the mirror forgot revocations during the outage")
	}
	if err := a.rev.Sync(ctx); err == nil {
		t.Error("Sync reported no error without Redis")
	}

	redis.start()
	if err := a.rev.Sync(ctx); err != nil {
		t.Fatalf("Sync after the restart: %v", err)
	}
	c := newInstance(t, idp, redis.client(), instanceOptions{}, "")
	for _, sid := range []string{"sid-before", "sid-during"} {
		if !c.rev.IsRevoked("", sid, "", now) {
			t.Errorf("a new instance does not know %s after Redis restarted empty", sid)
		}
	}
}

// With MaxStaleness, a mirror that cannot sync fails closed.
func TestMaxStaleness(t *testing.T) {
	redis := startRedis(t)
	clock := time.Now()
	r := newRevocations(t, redis.client(), Options{MaxStaleness: time.Minute, Now: func() time.Time { return clock }})
	if r.IsRevoked("id", "", "", clock) {
		t.Fatal("a fresh mirror refuses sessions")
	}
	clock = clock.Add(2 * time.Minute)
	if !r.IsRevoked("id", "", "", clock) {
		t.Error("a stale mirror still serves sessions with MaxStaleness set")
	}
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.IsRevoked("id", "", "", clock) {
		t.Error("a synced mirror still refuses sessions")
	}
}

func TestBackend(t *testing.T) {
	redis := startRedis(t)
	c := redis.client()
	b := NewBackend(c)
	ctx := context.Background()
	if _, ok, err := b.Load(ctx, "missing"); ok || err != nil {
		t.Errorf("missing key: %v %v", ok, err)
	}
	if err := b.Store(ctx, "k", []byte("sealed"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := b.Load(ctx, "k"); !ok || err != nil || string(v) != "sealed" {
		t.Errorf("Load = %q %v %v", v, ok, err)
	}
	if ttl := c.PTTL(ctx, "k").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL = %v", ttl)
	}
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Load(ctx, "k"); ok {
		t.Error("a deleted key was loaded")
	}
	redis.stop()
	if _, _, err := b.Load(ctx, "k"); err == nil {
		t.Error("Load reported no error without Redis")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	for _, rev := range []oidcauth.Revocation{
		{SessionID: "id|with|bars", At: at, Until: at.Add(time.Hour)},
		{ProviderSID: "sid", At: at, Until: at},
		{Subject: "sub", At: at, Until: at.Add(time.Minute)},
	} {
		got, ok := parseRecord(record(rev))
		if !ok || fmt.Sprint(got) != fmt.Sprint(rev) {
			t.Errorf("round trip of %+v = %+v, %v", rev, got, ok)
		}
	}
	for _, bad := range []string{"", "x|1|2|v", "s|a|2|v", "s|1|2|", "s|1"} {
		if _, ok := parseRecord(bad); ok {
			t.Errorf("parseRecord(%q) accepted", bad)
		}
	}
}

func TestBackendCompareAndSwap(t *testing.T) {
	redis := startRedis(t)
	c := redis.client()
	b := NewBackend(c)
	ctx := context.Background()
	if ok, err := b.CompareAndSwap(ctx, "k", []byte("a"), []byte("b"), time.Minute); ok || err != nil {
		t.Errorf("swap of a missing key: %v %v", ok, err)
	}
	if err := b.Store(ctx, "k", []byte("a"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.CompareAndSwap(ctx, "k", []byte("x"), []byte("b"), time.Minute); ok || err != nil {
		t.Errorf("swap over another value: %v %v", ok, err)
	}
	if ok, err := b.CompareAndSwap(ctx, "k", []byte("a"), []byte("b"), 2*time.Minute); !ok || err != nil {
		t.Errorf("swap over the value read: %v %v", ok, err)
	}
	if v, _, _ := b.Load(ctx, "k"); string(v) != "b" {
		t.Errorf("after the swap: %q", v)
	}
	if ttl := c.PTTL(ctx, "k").Val(); ttl <= time.Minute {
		t.Errorf("TTL after the swap = %v", ttl)
	}
}

// mirrorLen counts the records of m.
func mirrorLen(m *oidcauth.MemoryRevocations) int {
	n := 0
	m.Range(func(oidcauth.Revocation) bool { n++; return true })
	return n
}
