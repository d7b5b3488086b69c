package redis

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcauthtest"
	goredis "github.com/redis/go-redis/v9"
)

// refreshSetup is a signed-in user on two cookie-session instances whose
// access token has expired, and the provider's token calls so far.
type refreshSetup struct {
	clock  *testClock
	idp    *oidcauthtest.Provider
	a, b   *instance
	user   *browser
	stale  string
	before int
}

func newRefreshSetup(t *testing.T, c goredis.UniversalClient, optsA, optsB instanceOptions) *refreshSetup {
	t.Helper()
	clock := &testClock{now: time.Now()}
	idp := oidcauthtest.NewServer(t, oidcauthtest.Options{ClientSecret: "secret", AccessTokenTTL: 10 * time.Minute, Now: clock.Now})
	optsA.now, optsB.now = clock.Now, clock.Now
	optsA.cookies, optsB.cookies = true, true
	a := newInstance(t, idp, c, optsA, "")
	b := newInstance(t, idp, c, optsB, a.srv.URL+"/callback")
	user := newBrowser(t, a.srv.Client().Transport)
	user.signIn(a)
	clock.Advance(11 * time.Minute)
	return &refreshSetup{clock: clock, idp: idp, a: a, b: b, user: user, stale: user.cookie, before: idp.Calls("token")}
}

func (s *refreshSetup) token(t *testing.T, inst *instance) (int, string) {
	t.Helper()
	return getWith(t, s.user.client, inst.srv.URL+"/token", s.stale)
}

func (s *refreshSetup) grants() int { return s.idp.Calls("token") - s.before }

// Redis stops mid-run and comes back empty: requests that need no refresh
// go on (cookie sessions never ask Redis); a refresh is refused quickly
// with 502 and makes no grant; once Redis is back the refresh is made,
// once.
func TestRedisOutageDuringRefresh(t *testing.T) {
	redis := startRedis(t)
	s := newRefreshSetup(t, redis.client(), instanceOptions{}, instanceOptions{})
	redis.stop()
	for _, inst := range []*instance{s.a, s.b} {
		if got := s.user.status(inst); got != http.StatusOK {
			t.Errorf("signed-in request during the outage: %d", got)
		}
		start := time.Now()
		if status, _ := s.token(t, inst); status != http.StatusBadGateway {
			t.Errorf("refresh during the outage: %d, want 502", status)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("refresh during the outage answered after %v", d)
		}
	}
	if s.grants() != 0 {
		t.Fatalf("%d refresh grants without coordination", s.grants())
	}
	redis.start()
	if status, _ := s.token(t, s.b); status != http.StatusOK {
		t.Fatalf("refresh after the outage: %d", status)
	}
	if status, _ := s.token(t, s.a); status != http.StatusOK || s.grants() != 1 {
		t.Errorf("refresh at A after B's: %d, %d grants", status, s.grants())
	}
}

// proxy is a TCP proxy to Redis that delays every chunk each way.
type proxy struct {
	l     net.Listener
	delay atomic.Int64 // nanoseconds
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.wg.Add(2)
			go p.pipe(in, out)
			go p.pipe(out, in)
		}
	}()
	t.Cleanup(func() { l.Close() })
	return p
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			time.Sleep(time.Duration(p.delay.Load())) // the injected latency
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) client(t *testing.T, readTimeout time.Duration) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: p.l.Addr().String(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: readTimeout, WriteTimeout: readTimeout})
	t.Cleanup(func() { c.Close() })
	return c
}

// Redis slow (latency injected by a proxy): a little slow, the refresh is
// coordinated as usual; slower than the client's timeouts, a refresh fails
// fast with 502 and no grant, signed-in requests go on, and a server-side
// session reads as signed out (401), never as a 5xx.
func TestRedisSlow(t *testing.T) {
	redis := startRedis(t)
	p := startProxy(t, redis.addr)
	c := p.client(t, 300*time.Millisecond)
	s := newRefreshSetup(t, c, instanceOptions{}, instanceOptions{})

	p.delay.Store(int64(20 * time.Millisecond))
	var wg sync.WaitGroup
	for i := range 10 {
		inst := []*instance{s.a, s.b}[i%2]
		wg.Go(func() {
			if status, _ := s.token(t, inst); status != http.StatusOK {
				t.Errorf("refresh with Redis 20 ms slow: %d", status)
			}
		})
	}
	wg.Wait()
	if s.grants() != 1 {
		t.Fatalf("%d grants with Redis slow, want 1", s.grants())
	}

	// Slower than the client's timeouts.
	server := newInstance(t, s.idp, c, instanceOptions{}, s.a.srv.URL+"/callback")
	p.delay.Store(int64(time.Second))
	defer p.delay.Store(0)
	if got := s.user.status(s.a); got != http.StatusOK {
		t.Errorf("signed-in request with Redis too slow: %d", got)
	}
	s.clock.Advance(11 * time.Minute)
	start := time.Now()
	if status, _ := s.token(t, s.b); status != http.StatusBadGateway {
		t.Errorf("refresh with Redis too slow: %d, want 502", status)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refresh with Redis too slow answered after %v", d)
	}
	if s.grants() != 1 {
		t.Errorf("%d grants, want still 1", s.grants())
	}
	// A well-formed server-side session cookie: its record cannot be read.
	if status, _ := getWith(t, s.user.client, server.srv.URL+"/me", "__Host-oidcauth="+strings.Repeat("A", 86)); status != http.StatusUnauthorized {
		t.Errorf("server-side session with Redis too slow: %d, want 401", status)
	}
}

// dyingCoordinator is an instance that dies while it holds a refresh
// lease: after acquiring it (before the grant) or after the provider
// answered (before publishing). It never returns until the test ends.
type dyingCoordinator struct {
	oidcauth.RefreshCoordinator
	afterGrant bool
	dead       chan struct{} // closed when it holds the lease and "dies"
	end        chan struct{}
}

var errDied = errors.New("the instance died")

func (d *dyingCoordinator) Acquire(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	f, err := d.RefreshCoordinator.Acquire(ctx, key, ttl)
	if err != nil || f == 0 || d.afterGrant {
		return f, err
	}
	close(d.dead)
	<-d.end
	return 0, errDied
}

func (d *dyingCoordinator) Publish(ctx context.Context, key string, f int64, out []byte, ttl time.Duration) (bool, error) {
	if !d.afterGrant {
		return d.RefreshCoordinator.Publish(ctx, key, f, out, ttl)
	}
	close(d.dead)
	<-d.end
	return false, errDied
}

// An instance dies holding the refresh lease. Before its grant: the other
// instance waits for the lease to expire, then refreshes, once, and the
// user keeps the session. After the provider answered and before it
// published (the one window coordination cannot close): the other
// instance spends the refresh token again, the provider revokes the grant,
// and the user is signed out — a 401, never a 5xx.
func TestRefreshHolderDies(t *testing.T) {
	for _, afterGrant := range []bool{false, true} {
		name := "before the grant"
		if afterGrant {
			name = "after the grant"
		}
		t.Run(name, func(t *testing.T) {
			redis := startRedis(t)
			c := redis.client()
			dying := &dyingCoordinator{afterGrant: afterGrant, dead: make(chan struct{}), end: make(chan struct{})}
			s := newRefreshSetup(t, c, instanceOptions{coordinator: func(rc oidcauth.RefreshCoordinator) oidcauth.RefreshCoordinator {
				dying.RefreshCoordinator = rc
				return dying
			}}, instanceOptions{})
			t.Cleanup(func() { close(dying.end) }) // before the servers close: cleanups run last first
			go s.token(t, s.a)
			<-dying.dead
			// The lease runs out (shortened here from the provider call's
			// timeout plus margin).
			leases, err := c.Keys(context.Background(), "test:refresh:*:lease").Result()
			if err != nil || len(leases) != 1 {
				t.Fatalf("leases: %v %v", leases, err)
			}
			c.PExpire(context.Background(), leases[0], 300*time.Millisecond)

			status, _ := s.token(t, s.b)
			if !afterGrant {
				if status != http.StatusOK || s.grants() != 1 {
					t.Errorf("after the holder died: %d, %d grants; want 200 and 1", status, s.grants())
				}
				if s.user.status(s.b) != http.StatusOK {
					t.Error("the session was lost")
				}
				return
			}
			if status != http.StatusUnauthorized || s.grants() != 2 {
				t.Errorf("after the holder died past its grant: %d, %d grants; want 401 and 2", status, s.grants())
			}
			if s.user.status(s.b) != http.StatusUnauthorized {
				t.Error("the ended session is still served")
			}
		})
	}
}

// Redis unreachable for a while without restarting (a partition, a slow
// spell): a sign-out made meanwhile holds on its instance at once and
// reaches the others with the first sync after Redis answers again.
func TestRevocationDuringPartition(t *testing.T) {
	redis := startRedis(t)
	p := startProxy(t, redis.addr)
	here := newRevocations(t, p.client(t, 100*time.Millisecond), Options{})
	there := newRevocations(t, redis.client(), Options{})
	ctx := context.Background()
	now := time.Now()
	p.delay.Store(int64(500 * time.Millisecond))
	rev := oidcauth.Revocation{SessionID: "signed-out-during-the-partition", At: now, Until: now.Add(time.Hour)}
	if err := here.Revoke(ctx, rev); err == nil {
		t.Fatal("Revoke reported success without Redis")
	}
	if !here.IsRevoked(rev.SessionID, "", "", now) {
		t.Error("the revocation does not hold on its own instance")
	}
	if err := here.Sync(ctx); err == nil {
		t.Error("Sync reported success without Redis")
	}
	p.delay.Store(0)
	if err := here.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := there.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !there.IsRevoked(rev.SessionID, "", "", now) {
		t.Error("the other instance never heard of the revocation made during the partition")
	}
}

// Redis down when an instance starts: NewRevocations fails, so the
// instance does not start without knowing what was revoked.
func TestStartWithoutRedis(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: freeAddr(t), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r, err := NewRevocations(ctx, c, Options{}); err == nil {
		r.Close()
		t.Fatal("NewRevocations succeeded without Redis")
	}
}

// Sign out everywhere on one instance: every browser of the user is
// refused on every instance, on a single node and on a cluster.
func TestSignOutEverywhereAcrossInstances(t *testing.T) {
	backends(t, func(t *testing.T, c goredis.UniversalClient) {
		idp := oidcauthtest.NewServer(t, oidcauthtest.Options{ClientSecret: "secret"})
		two := newInstances(t, 2, idp, c, instanceOptions{cookies: true})
		a, b := two[0], two[1]
		phone, laptop := newBrowser(t, a.srv.Client().Transport), newBrowser(t, a.srv.Client().Transport)
		phone.signIn(a)
		laptop.signIn(a)
		sub, _ := phone.whoAmI(b)
		if err := b.auth.SignOutEverywhere(context.Background(), idp.Issuer(), sub); err != nil {
			t.Fatal(err)
		}
		if err := a.rev.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, br := range []*browser{phone, laptop} {
			for _, inst := range []*instance{a, b} {
				if got := br.status(inst); got != http.StatusUnauthorized {
					t.Errorf("a browser of the signed-out user: %d", got)
				}
			}
		}
	})
}
