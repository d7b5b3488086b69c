package redis

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcauthtest"
	goredis "github.com/redis/go-redis/v9"
)

// counter is a go-redis hook that counts the commands sent.
type counter struct{ n atomic.Int64 }

func (c *counter) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (c *counter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *counter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header         { return w.h }
func (w nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w nopWriter) WriteHeader(int)             {}

var sinkUser *oidcauth.User

// BenchmarkRequireAuthRedis is the per-request cost of RequireAuth on an
// instance configured for several instances: Redis revocations (a
// mirror holding 10,000 revocations) and Redis refresh coordination, with
// the session in cookies ("cookies": no Redis command per request) or
// server-side in Redis ("server-side": the record is read on every
// request). redis-cmds/op counts the commands sent; cpu-ns/op is this
// process's CPU time (redis-server's not included), steadier than ns/op
// on a shared machine. Run:
//
//	go test -run '^$' -bench BenchmarkRequireAuthRedis -count 5 ./stores/redis
func BenchmarkRequireAuthRedis(b *testing.B) {
	defer quiet()()
	for _, cookies := range []bool{true, false} {
		name := "server-side"
		if cookies {
			name = "cookies"
		}
		b.Run(name, func(b *testing.B) {
			inst, c, cookie := benchInstance(b, cookies)
			var cmds counter
			c.AddHook(&cmds)
			h := inst.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sinkUser, _ = oidcauth.UserFromContext(r.Context())
			}))
			r := httptest.NewRequest("GET", "https://app.example.com/dashboard", nil)
			r.Header.Set("Cookie", cookie)
			w := nopWriter{h: http.Header{}}
			warm := *r
			h.ServeHTTP(w, &warm) // warm: the verified-cookie cache, the connection pool
			if sinkUser == nil {
				b.Fatal("not signed in")
			}
			cmds.n.Store(0)
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				clear(w.h)
				if cookies {
					h.ServeHTTP(w, r)
					continue
				}
				req := *r // a new request: gorilla/sessions caches the session in the request's context
				h.ServeHTTP(w, &req)
			}
			b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(cmds.n.Load())/float64(b.N), "redis-cmds/op")
		})
	}
}

// benchInstance signs a user in on an instance backed by a fresh
// redis-server, and returns it, its Redis client and the session cookie.
func benchInstance(b *testing.B, cookies bool) (*instance, *goredis.Client, string) {
	b.Helper()
	redis := startRedis(b)
	c := redis.client()
	idp := oidcauthtest.NewServer(b, oidcauthtest.Options{ClientSecret: "secret"})
	inst := newInstance(b, idp, c, instanceOptions{cookies: cookies}, "")
	// Revocations of other sessions, as a busy app has.
	now := time.Now()
	for i := range 10_000 {
		if err := inst.rev.Revoke(context.Background(), oidcauth.Revocation{SessionID: fmt.Sprint("other-", i), At: now, Until: now.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	user := newBrowser(b, inst.srv.Client().Transport)
	user.signIn(inst)
	return inst, c, user.cookie
}

// quiet sends the default logger's lines (sign-ins) away for a benchmark,
// so that its output stays readable; it returns the undo.
func quiet() func() {
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	return func() { slog.SetDefault(old) }
}

// BenchmarkCoordinatedRefresh is what coordination adds to one refresh
// grant on the instance that makes it: look for an outcome, take the
// lease, publish a session-sized sealed outcome (3 KB). The grant itself,
// a call to the provider, is not included. Run:
//
//	go test -run '^$' -bench BenchmarkCoordinatedRefresh -count 5 ./stores/redis
func BenchmarkCoordinatedRefresh(b *testing.B) {
	c := startRedis(b).client()
	var cmds counter
	c.AddHook(&cmds)
	co := NewCoordinator(c, "bench:")
	ctx := context.Background()
	outcome := make([]byte, 3<<10)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("%064x", i)
		i++
		if _, ok, err := co.Wait(ctx, key); ok || err != nil {
			b.Fatal(ok, err)
		}
		f, err := co.Acquire(ctx, key, 15*time.Second)
		if err != nil || f == 0 {
			b.Fatal(f, err)
		}
		if ok, err := co.Publish(ctx, key, f, outcome, time.Hour); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	b.ReportMetric(float64(cmds.n.Load())/float64(b.N), "redis-cmds/op")
}
