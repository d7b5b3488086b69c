package oidcauth

import (
	"hash/maphash"
	"strings"
	"sync"
)

// verifiedCache remembers the sessions whose cookies this process has
// already authenticated, decrypted and decoded, keyed by the exact sealed
// value (the session cookie, or its chunks joined). A browser sends the
// same cookie on every request until the next re-issue, so a repeat
// request skips base64, AES-GCM and the decode: a map lookup and a copy.
//
// It only ever answers what the uncached path would: the key is the whole
// value, compared byte for byte, and opening a value is a pure function of
// it for one Auth (the cookie name, keys and issuer are fixed at New).
// Expiry, idle timeout and revocation are checked by session() after
// readSession, on hits as on misses. Entries are templates: every hit gets
// its own copy, since callers update the session (touched, token catch-up).
//
// It holds at most verifiedCacheShards*verifiedCacheShardSize entries of
// about twice a cookie's size each (the key and the decrypted payload,
// which the session's strings point into): some 24 MB of typical 3 KB
// sessions at most.
type verifiedCache struct {
	seed   maphash.Seed
	shards [verifiedCacheShards]verifiedShard
}

const (
	verifiedCacheShards    = 16
	verifiedCacheShardSize = 256
	// cacheKeyTail is how much of a value indexes the cache: the end of a
	// sealed value is the GCM tag, random-looking, so hashing the last
	// characters instead of all 3 KB finds the entry, and comparing the
	// whole value confirms it.
	cacheKeyTail = 22
)

type verifiedShard struct {
	mu sync.RWMutex
	m  map[string]*verifiedEntry // by the value's tail
	_  [64]byte                  // keeps neighbouring shards' locks off one cache line
}

// verifiedEntry is a value and the session it decoded to: a template,
// never handed out itself.
type verifiedEntry struct {
	value string
	s     *session
}

func newVerifiedCache() *verifiedCache {
	c := &verifiedCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[string]*verifiedEntry{}
	}
	return c
}

func tail(value string) string { return value[max(len(value)-cacheKeyTail, 0):] }

func (c *verifiedCache) shard(tail string) *verifiedShard {
	return &c.shards[maphash.String(c.seed, tail)%verifiedCacheShards]
}

// get returns a copy of the session value decoded to, or nil. A nil cache
// is an empty one.
func (c *verifiedCache) get(value string) *session {
	if c == nil {
		return nil
	}
	t := tail(value)
	sh := c.shard(t)
	sh.mu.RLock()
	e := sh.m[t]
	sh.mu.RUnlock()
	// The whole value must match: a value sharing only the tail (another
	// cookie, or one made to collide) is a miss.
	if e == nil || e.value != value {
		return nil
	}
	cp := *e.s
	return &cp
}

// put remembers that value decoded to s. Call it only with a session that
// readSession authenticated and decoded from value; s is copied, so the
// caller keeps its own.
func (c *verifiedCache) put(value string, s *session) {
	if c == nil {
		return
	}
	// value may point into the request's Cookie header; the cache keeps
	// only its own bytes.
	e := &verifiedEntry{value: strings.Clone(value)}
	tmpl := *s
	e.s = &tmpl
	t := tail(e.value)
	sh := c.shard(t)
	sh.mu.Lock()
	if _, ok := sh.m[t]; !ok && len(sh.m) >= verifiedCacheShardSize {
		// Full: drop an arbitrary entry (map iteration starts at a random
		// place), O(1) and fair enough for a cache of hot cookies.
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[t] = e
	sh.mu.Unlock()
}

// drop forgets one cookie value (a session cleared, refused or expired).
func (c *verifiedCache) drop(value string) {
	if c == nil {
		return
	}
	t := tail(value)
	sh := c.shard(t)
	sh.mu.Lock()
	if e := sh.m[t]; e != nil && e.value == value {
		delete(sh.m, t)
	}
	sh.mu.Unlock()
}

// forget drops every cached cookie value of the session with this id: a
// session re-issued a few times has several. It scans the cache, so it is
// for sign-out and revocation, not for every request.
func (c *verifiedCache) forget(id string) {
	if c == nil || id == "" {
		return
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if e.s.id == id {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}

// len counts the entries, for tests.
func (c *verifiedCache) len() int {
	n := 0
	if c == nil {
		return 0
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
