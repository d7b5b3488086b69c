package oidcauth

import (
	"hash/maphash"
	"strings"
	"sync"
)

// tailCache maps long, random-ended values (sealed session cookies, signed
// access tokens) to what verifying them gave, so that a value seen before
// skips the verification. It is sharded, each shard under its own lock,
// and indexed by the value's last tailCacheKey characters: the end of a
// sealed cookie is its GCM tag and the end of a JWS its signature, so
// hashing those instead of a few KB finds the entry, and comparing the
// whole value confirms it. A value sharing only the tail (another value,
// or one made to collide) is a miss.
//
// A full shard drops an arbitrary entry (map iteration starts at a random
// place): O(1), and fair enough for a cache of hot values.
type tailCache[V any] struct {
	seed     maphash.Seed
	perShard int
	shards   [tailCacheShards]tailShard[V]
}

const (
	tailCacheShards = 16
	tailCacheKey    = 22
)

type tailShard[V any] struct {
	mu sync.RWMutex
	m  map[string]tailEntry[V] // by the value's tail
	_  [64]byte                // keeps neighbouring shards' locks off one cache line
}

type tailEntry[V any] struct {
	value string
	v     V
}

// init readies an empty cache of at most size entries.
func (c *tailCache[V]) init(size int) {
	c.seed = maphash.MakeSeed()
	c.perShard = max((size+tailCacheShards-1)/tailCacheShards, 1)
	for i := range c.shards {
		c.shards[i].m = map[string]tailEntry[V]{}
	}
}

func tail(value string) string { return value[max(len(value)-tailCacheKey, 0):] }

func (c *tailCache[V]) shard(tail string) *tailShard[V] {
	return &c.shards[maphash.String(c.seed, tail)%tailCacheShards]
}

// get returns what value maps to.
func (c *tailCache[V]) get(value string) (V, bool) {
	t := tail(value)
	sh := c.shard(t)
	sh.mu.RLock()
	e, ok := sh.m[t]
	sh.mu.RUnlock()
	if !ok || e.value != value {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put maps value to v. value may point into a request's header; the cache
// keeps its own copy.
func (c *tailCache[V]) put(value string, v V) {
	value = strings.Clone(value)
	t := tail(value)
	sh := c.shard(t)
	sh.mu.Lock()
	if _, ok := sh.m[t]; !ok && len(sh.m) >= c.perShard {
		for k := range sh.m {
			delete(sh.m, k)
			break
		}
	}
	sh.m[t] = tailEntry[V]{value, v}
	sh.mu.Unlock()
}

// drop forgets value.
func (c *tailCache[V]) drop(value string) {
	t := tail(value)
	sh := c.shard(t)
	sh.mu.Lock()
	if e, ok := sh.m[t]; ok && e.value == value {
		delete(sh.m, t)
	}
	sh.mu.Unlock()
}

// dropWhere forgets every entry whose v matches. It scans the cache.
func (c *tailCache[V]) dropWhere(match func(V) bool) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if match(e.v) {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}

// count counts the entries, for tests.
func (c *tailCache[V]) count() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
