package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Coordinator is an oidcauth.RefreshCoordinator on Redis or Redis Cluster:
// instances that share it spend each rotating refresh token once. Per
// refresh token (named by a hash, never the token) it keeps three keys
// with one hash tag, so each script runs on one cluster slot:
//
//	<prefix>refresh:{<hash>}:lease    the holder's fencing token, expiring with the lease (SET NX PX)
//	<prefix>refresh:{<hash>}:fence    the last fencing token granted (INCR), kept a day
//	<prefix>refresh:{<hash>}:outcome  the sealed outcome, kept for the session's remaining lifetime
//
// The outcome is ciphertext (the session keys seal it); Redis never holds
// a token in clear. Waiters poll the outcome and the lease, every 5 ms at
// first and every 100 ms at most, while the holder is at the provider.
type Coordinator struct {
	client goredis.UniversalClient
	prefix string
}

// NewCoordinator returns a coordinator over client whose keys start with
// prefix (default "oidcauth:"). Set it as oidcauth.Config.RefreshCoordinator
// on every instance.
func NewCoordinator(client goredis.UniversalClient, prefix string) *Coordinator {
	if prefix == "" {
		prefix = "oidcauth:"
	}
	return &Coordinator{client: client, prefix: prefix}
}

// fenceKeep is how long the last fencing token of a refresh token is
// remembered: far longer than any holder can take (the provider call's
// timeout bounds it).
const fenceKeep = 24 * time.Hour

func (c *Coordinator) keys(key string) (lease, outcome, fence string) {
	base := c.prefix + "refresh:{" + key + "}:"
	return base + "lease", base + "outcome", base + "fence"
}

// acquireScript: KEYS lease, outcome, fence; ARGV lease ms, fence keep ms.
var acquireScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local f = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('SET', KEYS[1], f, 'PX', ARGV[1])
return f`)

// publishScript: KEYS lease, outcome, fence; ARGV fence, outcome, ttl ms.
// The fence must be the last one granted: a holder that outlived its lease
// publishes only if nobody took the lease over since.
var publishScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[1])
return 1`)

// releaseScript: KEYS lease; ARGV fence.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0`)

// Acquire implements oidcauth.RefreshCoordinator.
func (c *Coordinator) Acquire(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	lease, outcome, fence := c.keys(key)
	f, err := acquireScript.Run(ctx, c.client, []string{lease, outcome, fence}, max(ttl.Milliseconds(), 1), fenceKeep.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("oidcauth/redis: refresh lease: %w", err)
	}
	return f, nil
}

// Publish implements oidcauth.RefreshCoordinator.
func (c *Coordinator) Publish(ctx context.Context, key string, f int64, out []byte, ttl time.Duration) (bool, error) {
	lease, outcome, fence := c.keys(key)
	n, err := publishScript.Run(ctx, c.client, []string{lease, outcome, fence}, f, out, max(ttl.Milliseconds(), 1)).Int()
	if err != nil {
		return false, fmt.Errorf("oidcauth/redis: publishing a refresh outcome: %w", err)
	}
	return n == 1, nil
}

// Release implements oidcauth.RefreshCoordinator.
func (c *Coordinator) Release(ctx context.Context, key string, f int64) error {
	lease, _, _ := c.keys(key)
	if err := releaseScript.Run(ctx, c.client, []string{lease}, f).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("oidcauth/redis: releasing a refresh lease: %w", err)
	}
	return nil
}

// Wait implements oidcauth.RefreshCoordinator.
func (c *Coordinator) Wait(ctx context.Context, key string) ([]byte, bool, error) {
	lease, outcome, _ := c.keys(key)
	interval := 5 * time.Millisecond
	for {
		vals, err := c.client.MGet(ctx, lease, outcome).Result()
		if err != nil {
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			return nil, false, fmt.Errorf("oidcauth/redis: reading a refresh outcome: %w", err)
		}
		if out, ok := vals[1].(string); ok {
			return []byte(out), true, nil
		}
		if vals[0] == nil {
			return nil, false, nil
		}
		timer := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, false, ctx.Err()
		case <-timer.C:
		}
		interval = min(2*interval, 100*time.Millisecond)
	}
}
