package oidcauth

import (
	"sync"
	"sync/atomic"
	"time"
)

// The process's memory of refreshed tokens, per session.
//
// Cookie sessions carry their tokens, and a refresh rotates the refresh
// token: the cookie a browser sent before the refresh holds a token the
// provider now considers spent, and spending it again revokes the whole
// session (RFC 9700 §4.14.2). Requests overlap (a page's parallel fetches,
// a response that set the old cookie arriving after the one that set the
// new), so this table remembers, per session id, the newest tokens and the
// hashes of the refresh tokens they replaced. A request with a replaced
// token is brought up to date from here (and its cookie rewritten) instead
// of refreshing again. The table also caches resource and organization
// tokens, which do not fit in the cookie.
//
// It is per process: instances behind a load balancer each keep their own,
// so rotating refresh tokens want sticky sessions or a server-side store.

// defaultCachedTokenTTL is how long a cached token without a stated expiry
// is used before it is refreshed.
const defaultCachedTokenTTL = 5 * time.Minute

// tokenStateIdle is how long an unused entry is kept: long enough for a
// straggling request with an old cookie to be caught up, and for cached
// resource tokens to be reused.
const tokenStateIdle = 30 * time.Minute

// maxTokenStates bounds the table; past it, idle entries go first, then any.
const maxTokenStates = 100_000

type tokenTable struct {
	count atomic.Int64 // entries; 0 lets RequireAuth skip the lookup

	mu        sync.Mutex
	m         map[string]*tokenState
	nextSweep int
}

type tokenState struct {
	sem  chan struct{} // held while refreshing: one refresh per session
	snap atomic.Pointer[tokenSnap]
	used atomic.Int64 // unix seconds of the last refresh or lookup under sem
}

// tokenSnap is an immutable view of a session's newest tokens.
type tokenSnap struct {
	refreshToken string
	idToken      token
	accessToken  token
	expiry       int64
	claims       string     // the user's claims, when they follow the ID token
	ownClaims    bool       // claims were not the ID token's (userinfo merged)
	spent        [][32]byte // hashes of replaced refresh tokens, oldest first
	extra        map[tokenKey]cachedToken
	ended        bool // the provider refused the refresh token
}

// tokenKey names a token of a session: its own access token, or a resource
// or organization token in the cache.
type tokenKey struct {
	kind uint8
	name string
}

const (
	keySession uint8 = iota
	keyResource
	keyOrganization
)

type cachedToken struct {
	token  string
	expiry int64
}

// from records s's tokens in the snapshot.
func (n *tokenSnap) from(s *session) {
	n.refreshToken, n.idToken, n.accessToken, n.expiry = s.refreshToken, s.idToken, s.accessToken, s.expiry
	n.ownClaims = s.ownClaims()
	n.claims = s.user.claims
}

// lookup returns the session's entry, or nil; it never allocates.
func (t *tokenTable) lookup(id string) *tokenState {
	if t.count.Load() == 0 {
		return nil
	}
	t.mu.Lock()
	st := t.m[id]
	t.mu.Unlock()
	return st
}

// get returns the session's entry, creating it.
func (t *tokenTable) get(id string, now int64) *tokenState {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.m[id]; st != nil {
		return st
	}
	if t.m == nil {
		t.m = map[string]*tokenState{}
		t.nextSweep = 1024
	}
	if len(t.m) >= t.nextSweep {
		t.sweep(now)
	}
	st := &tokenState{sem: make(chan struct{}, 1)}
	st.used.Store(now)
	t.m[id] = st
	t.count.Store(int64(len(t.m)))
	return st
}

// sweep drops idle entries, and arbitrary ones past maxTokenStates; t.mu is
// held. Its cost is spread: it runs when the table has doubled.
func (t *tokenTable) sweep(now int64) {
	idle := int64(tokenStateIdle / time.Second)
	for id, st := range t.m {
		if now-st.used.Load() > idle {
			delete(t.m, id)
		}
	}
	for id := range t.m {
		if len(t.m) < maxTokenStates {
			break
		}
		delete(t.m, id)
	}
	t.nextSweep = max(2*len(t.m), 1024)
}

// drop forgets a session (sign-out).
func (t *tokenTable) drop(id string) {
	if t.count.Load() == 0 {
		return
	}
	t.mu.Lock()
	delete(t.m, id)
	t.count.Store(int64(len(t.m)))
	t.mu.Unlock()
}

func (st *tokenState) snapshot() *tokenSnap {
	if st == nil {
		return nil
	}
	return st.snap.Load()
}

// catchUp brings s up to date when the process holds newer tokens for it:
// its refresh token was replaced here, or (a provider that does not
// rotate) the same refresh token got a newer access token. It reports
// whether s changed, so the caller rewrites the cookie.
func (st *tokenState) catchUp(s *session) bool {
	n := st.snapshot()
	if n == nil || n.ended {
		return false
	}
	if n.refreshToken == s.refreshToken {
		if n.expiry <= s.expiry {
			return false
		}
	} else if !n.replaced(s.refreshToken) {
		return false // a cookie newer than this process knows, or another chain
	}
	own := s.ownClaims()
	s.refreshToken, s.idToken, s.accessToken, s.expiry = n.refreshToken, n.idToken, n.accessToken, n.expiry
	if !n.ownClaims && !own {
		s.user.claims = n.claims
	}
	return true
}

func (n *tokenSnap) replaced(refreshToken string) bool {
	if refreshToken == "" {
		return false
	}
	h := hashRefresh(refreshToken)
	for _, old := range n.spent {
		if old == h {
			return true
		}
	}
	return false
}
