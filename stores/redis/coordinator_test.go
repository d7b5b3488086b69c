package redis

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcauthtest"
	goredis "github.com/redis/go-redis/v9"
)

var _ oidcauth.RefreshCoordinator = (*Coordinator)(nil)

// The coordinator's contract, on a single node and on a cluster: one lease
// at a time, an outcome published once, fencing of a holder whose lease
// ended, waiters woken by the outcome.
func TestCoordinator(t *testing.T) {
	backends(t, func(t *testing.T, c goredis.UniversalClient) {
		ctx := context.Background()
		co := NewCoordinator(c, "t:")
		lease, _, _ := co.keys("k1")

		if out, ok, err := co.Wait(ctx, "k1"); ok || out != nil || err != nil {
			t.Fatalf("Wait on nothing: %q %v %v", out, ok, err)
		}
		f1, err := co.Acquire(ctx, "k1", time.Minute)
		if err != nil || f1 <= 0 {
			t.Fatalf("Acquire: %d %v", f1, err)
		}
		if f, err := co.Acquire(ctx, "k1", time.Minute); f != 0 || err != nil {
			t.Fatalf("second Acquire while leased: %d %v", f, err)
		}

		// The holder dies: its lease ends (expiry, made immediate here) and
		// another takes over with a greater fencing token.
		if err := c.Del(ctx, lease).Err(); err != nil {
			t.Fatal(err)
		}
		f2, err := co.Acquire(ctx, "k1", time.Minute)
		if err != nil || f2 <= f1 {
			t.Fatalf("Acquire after the lease ended: %d (first %d) %v", f2, f1, err)
		}
		// The first holder comes back late: fenced out.
		if ok, err := co.Publish(ctx, "k1", f1, []byte("late"), time.Minute); ok || err != nil {
			t.Fatalf("Publish by a fenced-out holder: %v %v", ok, err)
		}

		// A waiter wakes up when the holder publishes.
		got := make(chan string, 1)
		go func() {
			out, ok, err := co.Wait(ctx, "k1")
			if !ok || err != nil {
				t.Errorf("Wait: %v %v", ok, err)
			}
			got <- string(out)
		}()
		if ok, err := co.Publish(ctx, "k1", f2, []byte("sealed"), time.Minute); !ok || err != nil {
			t.Fatalf("Publish: %v %v", ok, err)
		}
		if out := <-got; out != "sealed" {
			t.Errorf("waiter got %q", out)
		}
		if f, err := co.Acquire(ctx, "k1", time.Minute); f != 0 || err != nil {
			t.Errorf("Acquire after the outcome: %d %v", f, err)
		}
		if ok, _ := co.Publish(ctx, "k1", f2, []byte("again"), time.Minute); ok {
			t.Error("an outcome was published twice")
		}
		if n, _ := c.Exists(ctx, lease).Result(); n != 0 {
			t.Error("the lease outlived the outcome")
		}

		// A holder that outlived its lease publishes when nobody took over;
		// one that released gives way to the next.
		f3, _ := co.Acquire(ctx, "k2", time.Minute)
		lease2, _, _ := co.keys("k2")
		c.Del(ctx, lease2)
		if ok, err := co.Publish(ctx, "k2", f3, []byte("slow but only"), time.Minute); !ok || err != nil {
			t.Errorf("Publish after the lease expired with no successor: %v %v", ok, err)
		}
		f4, _ := co.Acquire(ctx, "k3", time.Minute)
		if err := co.Release(ctx, "k3", f4); err != nil {
			t.Fatal(err)
		}
		if out, ok, err := co.Wait(ctx, "k3"); ok || out != nil || err != nil {
			t.Errorf("Wait after Release: %q %v %v", out, ok, err)
		}
		if f5, _ := co.Acquire(ctx, "k3", time.Minute); f5 <= f4 {
			t.Errorf("Acquire after Release: %d", f5)
		}

		// A waiter gives up with its context while the lease is held.
		wctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		if _, ok, err := co.Wait(wctx, "k3"); ok || err == nil {
			t.Errorf("Wait past its deadline: %v %v", ok, err)
		}
	})
}

// testClock is a clock shared by the provider and the instances.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// getWith sends a GET with the cookie header and returns status and body.
func getWith(t *testing.T, client *http.Client, target, cookie string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	req.Header.Set("Cookie", cookie)
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Two instances on one Redis (single node, cluster), with cookie sessions
// and with server-side sessions: twenty concurrent requests with one
// stale cookie, alternating instances, make exactly one refresh grant at a
// provider that revokes the grant when a rotated refresh token comes back;
// all get the new token, a stale copy catches up on either instance
// without a grant, and the next refresh works.
func TestRefreshAcrossInstances(t *testing.T) {
	backends(t, func(t *testing.T, c goredis.UniversalClient) {
		for _, cookies := range []bool{true, false} {
			name := "server-side"
			if cookies {
				name = "cookies"
			}
			t.Run(name, func(t *testing.T) {
				clock := &testClock{now: time.Now()}
				idp := oidcauthtest.NewServer(t, oidcauthtest.Options{ClientSecret: "secret", AccessTokenTTL: 10 * time.Minute, Now: clock.Now})
				opts := instanceOptions{cookies: cookies, now: clock.Now}
				two := newInstances(t, 2, idp, c, opts)
				a, b := two[0], two[1]
				user := newBrowser(t, a.srv.Client().Transport)
				user.signIn(a)
				stale := user.cookie
				clock.Advance(11 * time.Minute)
				before := idp.Calls("token")

				const n = 20
				tokens := make([]string, n)
				var wg sync.WaitGroup
				for i := range n {
					inst := a
					if i%2 == 1 {
						inst = b
					}
					wg.Go(func() {
						status, tok := getWith(t, user.client, inst.srv.URL+"/token", stale)
						if status != http.StatusOK {
							t.Errorf("request %d: %d %s", i, status, tok)
						}
						tokens[i] = tok
					})
				}
				wg.Wait()
				if got := idp.Calls("token") - before; got != 1 {
					t.Fatalf("%d refresh grants, want exactly 1", got)
				}
				for i, tok := range tokens {
					if tok != tokens[0] {
						t.Fatalf("request %d got another token", i)
					}
				}
				for _, inst := range []*instance{a, b} {
					if status, tok := getWith(t, user.client, inst.srv.URL+"/token", stale); status != http.StatusOK || tok != tokens[0] {
						t.Errorf("stale cookie later: %d, new token %v", status, tok == tokens[0])
					}
				}
				if got := idp.Calls("token") - before; got != 1 {
					t.Fatalf("%d refresh grants after stale cookies, want 1", got)
				}

				clock.Advance(11 * time.Minute)
				if status, tok := getWith(t, user.client, b.srv.URL+"/token", stale); status != http.StatusOK || tok == tokens[0] {
					t.Fatalf("the next refresh: %d", status)
				}
				if got := idp.Calls("token") - before; got != 2 {
					t.Errorf("%d refresh grants in all, want 2", got)
				}
				for _, inst := range []*instance{a, b} {
					if user.status(inst) != http.StatusOK {
						t.Error("the session does not work on both instances")
					}
				}
			})
		}
	})
}
