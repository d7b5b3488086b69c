package oidcauth

// tokenCache remembers the access tokens a Bearer has verified (or had
// introspected), keyed by the exact token (see [tailCache]: a JWT ends in
// its signature), so that a client presenting the same token again costs
// a map lookup instead of a signature check. It answers only what
// verification would: a verified JWT stays verified, as its signature and
// claims cannot change, and its times are checked on every use; an
// introspection answer is kept until its fresh time only. Refused JWTs are
// never cached.
//
// An entry holds the token and its claims, about twice the token's size:
// some 8 MB for 4096 tokens of 1 KB. A nil cache is an empty one.
type tokenCache struct {
	tailCache[*tokenEntry]
}

func newTokenCache(size int) *tokenCache {
	c := new(tokenCache)
	c.init(size)
	return c
}

// get returns the entry for token, or nil; an introspection answer past
// its fresh time is a miss.
func (c *tokenCache) get(token string, now int64) *tokenEntry {
	if c == nil {
		return nil
	}
	e, ok := c.tailCache.get(token)
	if !ok || (e.fresh != 0 && now >= e.fresh) {
		return nil
	}
	return e
}

// put remembers e for token. e must not change afterwards.
func (c *tokenCache) put(token string, e *tokenEntry) {
	if c != nil {
		c.tailCache.put(token, e)
	}
}

// drop forgets token (it expired).
func (c *tokenCache) drop(token string) {
	if c != nil {
		c.tailCache.drop(token)
	}
}

// len counts the entries, for tests.
func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	return c.count()
}
