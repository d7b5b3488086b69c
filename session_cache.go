package oidcauth

// verifiedCache remembers the sessions whose cookies this process has
// already authenticated, decrypted and decoded, keyed by the exact sealed
// value (the session cookie, or its chunks joined). A browser sends the
// same cookie on every request until the next re-issue, so a repeat
// request skips base64, AES-GCM and the decode: a map lookup and a copy.
//
// It only ever answers what the uncached path would: the key is the whole
// value, compared byte for byte (see [tailCache]), and opening a value is
// a pure function of it for one Auth (the cookie name, keys and issuer are
// fixed at New). Expiry, idle timeout and revocation are checked by
// session() after readSession, on hits as on misses. Entries are
// templates: every hit gets its own copy, since callers update the session
// (touched, token catch-up).
//
// It holds at most verifiedCacheShards*verifiedCacheShardSize entries of
// about twice a cookie's size each (the key and the decrypted payload,
// which the session's strings point into): some 24 MB of typical 3 KB
// sessions at most. A nil cache is an empty one.
type verifiedCache struct {
	tailCache[*session]
}

const (
	verifiedCacheShards    = tailCacheShards
	verifiedCacheShardSize = 256
)

func newVerifiedCache() *verifiedCache {
	c := new(verifiedCache)
	c.init(verifiedCacheShards * verifiedCacheShardSize)
	return c
}

// get returns a copy of the session value decoded to, or nil.
func (c *verifiedCache) get(value string) *session {
	if c == nil {
		return nil
	}
	s, ok := c.tailCache.get(value)
	if !ok {
		return nil
	}
	cp := *s
	return &cp
}

// put remembers that value decoded to s. Call it only with a session that
// readSession authenticated and decoded from value; s is copied, so the
// caller keeps its own.
func (c *verifiedCache) put(value string, s *session) {
	if c == nil {
		return
	}
	tmpl := *s
	c.tailCache.put(value, &tmpl)
}

// drop forgets one cookie value (a session cleared, refused or expired).
func (c *verifiedCache) drop(value string) {
	if c != nil {
		c.tailCache.drop(value)
	}
}

// forget drops every cached cookie value of the session with this id: a
// session re-issued a few times has several. It scans the cache, so it is
// for sign-out and revocation, not for every request.
func (c *verifiedCache) forget(id string) {
	if c == nil || id == "" {
		return
	}
	c.dropWhere(func(s *session) bool { return s.id == id })
}

// len counts the entries, for tests.
func (c *verifiedCache) len() int {
	if c == nil {
		return 0
	}
	return c.count()
}
