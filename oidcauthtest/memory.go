package oidcauthtest

import (
	"slices"
	"time"
)

// The provider's memory is bounded, so that a long-running development
// server (the example app's) levels off under any number of sign-ins:
// expired codes and tokens are dropped, a rotated refresh token is kept
// only long enough to detect its replay, and beyond Options.MaxGrants the
// oldest of each kind are forgotten (their sessions then sign in again).

const (
	defaultMaxGrants       = 10000
	defaultRefreshTokenTTL = 14 * 24 * time.Hour // Logto's default
	// replayWindow is how long a used code or a rotated refresh token is
	// remembered after use: a replay within it revokes what it issued
	// (RFC 6749 §4.1.2, RFC 9700 §4.14.2); after it, a replay is merely
	// unknown.
	replayWindow = codeLifetime
	// sweepEvery is how many grants are recorded between sweeps.
	sweepEvery = 256
)

// recorded counts one new code or token and sweeps now and then. p.mu is
// held.
func (p *Provider) recorded(now time.Time) {
	p.writes++
	if p.writes%sweepEvery == 0 {
		p.sweep(now)
	}
}

// sweep drops what can no longer be used and holds each kind to
// MaxGrants. p.mu is held.
func (p *Provider) sweep(now time.Time) {
	for k, g := range p.codes {
		if now.After(g.expires) {
			delete(p.codes, k)
		}
	}
	for k, g := range p.access {
		if now.After(g.expires) || g.family.revoked {
			delete(p.access, k)
		}
	}
	for k, rt := range p.refresh {
		if now.After(rt.expires) || (rt.used && now.Sub(rt.usedAt) > replayWindow) || (rt.g.family.revoked && now.Sub(rt.usedAt) > replayWindow) {
			delete(p.refresh, k)
		}
	}
	for k, t := range p.issued {
		if now.Unix() > t.exp {
			delete(p.issued, k)
		}
	}
	max := p.opts.MaxGrants
	keepNewest(p.codes, max, func(g *grant) time.Time { return g.expires })
	keepNewest(p.access, max, func(g *grant) time.Time { return g.expires })
	keepNewest(p.refresh, max, func(rt *refreshToken) time.Time { return rt.expires })
	keepNewest(p.issued, max, func(t *issuedToken) time.Time { return time.Unix(t.exp, 0) })
}

// keepNewest drops the entries of m that expire first until at most max
// remain (entries expiring at the same instant as the last kept one may
// stay too).
func keepNewest[V any](m map[string]V, max int, expires func(V) time.Time) {
	if len(m) <= max {
		return
	}
	all := make([]int64, 0, len(m))
	for _, v := range m {
		all = append(all, expires(v).UnixNano())
	}
	slices.Sort(all)
	cut := all[len(all)-max]
	for k, v := range m {
		if expires(v).UnixNano() < cut {
			delete(m, k)
		}
	}
}

// Grants reports how many authorization codes, access tokens and refresh
// tokens the provider remembers: bounded by Options.MaxGrants each, plus
// what was issued since the last sweep.
func (p *Provider) Grants() (codes, accessTokens, refreshTokens int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.codes), len(p.access), len(p.refresh)
}

// recorded counts one new code, token or assertion of the OAuth 2.0
// provider and sweeps now and then: expired codes and assertion ids go,
// and at most defaultMaxGrants access and refresh tokens (GitHub's do not
// expire) are kept, the newest. p.mu is held.
func (p *OAuth2Provider) recorded() {
	p.writes++
	if p.writes%sweepEvery != 0 {
		return
	}
	now := p.opts.Now()
	for k, c := range p.codes {
		if now.After(c.expires) {
			delete(p.codes, k)
		}
	}
	for k, exp := range p.jtis {
		if now.After(exp) {
			delete(p.jtis, k) // an expired assertion is refused anyway
		}
	}
	issued := func(t time.Time) time.Time { return t }
	keepNewest(p.access, defaultMaxGrants, issued)
	keepNewest(p.refresh, defaultMaxGrants, issued)
	keepNewest(p.codes, defaultMaxGrants, func(c oauth2Code) time.Time { return c.expires })
}
