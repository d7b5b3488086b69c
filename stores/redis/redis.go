// Package redis keeps oidcauth's shared state in Redis or Redis Cluster,
// so that any number of app instances behind a load balancer agree on it:
// a revocation list (sign-out, back-channel logout and sign-out everywhere
// hold on every instance), refresh coordination (a rotating refresh token
// is spent once, whichever instances the requests reach) and a server-side
// session backend written with compare-and-swap. It is a module of its
// own, so that apps that do not use Redis do not depend on a Redis client.
//
// Every constructor takes a go-redis UniversalClient: a *redis.Client for
// one node, a *redis.ClusterClient for a cluster (keys used together by
// one script share a hash tag), or redis.NewUniversalClient.
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	revocations, err := oidcredis.NewRevocations(ctx, client, oidcredis.Options{})
//	defer revocations.Close()
//	auth, err := oidcauth.New(oidcauth.Config{
//		// …
//		Revocations:        revocations,
//		RefreshCoordinator: oidcredis.NewCoordinator(client, "myapp:"),
//		Store:              oidcauth.NewServerStore(oidcredis.NewBackend(client), "myapp:session:"), // optional
//	})
package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Backend is an oidcauth.ServerBackend on Redis: one string key per session
// record, expiring with the session.
type Backend struct {
	client goredis.UniversalClient
}

// NewBackend returns a session backend over client. Pass it to
// oidcauth.NewServerStore with a key prefix for this app.
func NewBackend(client goredis.UniversalClient) *Backend { return &Backend{client: client} }

// Load implements oidcauth.ServerBackend.
func (b *Backend) Load(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := b.client.Get(ctx, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// Store implements oidcauth.ServerBackend.
func (b *Backend) Store(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return b.client.Set(ctx, key, value, ttl).Err()
}

// casScript sets KEYS[1] to ARGV[2] for ARGV[3] ms when it holds ARGV[1].
var casScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`)

// CompareAndSwap implements oidcauth.ServerBackend in one script, so no
// other instance's write lands between the comparison and the write.
func (b *Backend) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	n, err := casScript.Run(ctx, b.client, []string{key}, old, value, max(ttl.Milliseconds(), 1)).Int()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// Delete implements oidcauth.ServerBackend.
func (b *Backend) Delete(ctx context.Context, key string) error {
	return b.client.Del(ctx, key).Err()
}
