package oidcauthtest

import (
	"strconv"
	"time"
)

// SetAuthTime gives the provider a session of its own for the user, who
// authenticated at t: later authorizations reuse it (single sign-on), so
// their ID tokens carry auth_time t, until a request's max_age is shorter
// than the session's age or it asks prompt=login, when the user
// authenticates anew (auth_time now, and the session moves to now), as
// OIDC Core §3.1.2.1 asks. Without it, every authorization authenticates
// anew.
func (p *Provider) SetAuthTime(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authAt = t
}

// authenticate decides the auth_time and acr of an authorization; p.mu is
// held.
func (p *Provider) authenticate(req *authRequest, now time.Time) (int64, string) {
	acr := p.opts.ACR
	if len(req.acrValues) > 0 {
		acr = req.acrValues[0]
	}
	if p.authAt.IsZero() {
		return now.Unix(), acr
	}
	fresh := req.prompt == "login"
	if req.maxAge != "" {
		if n, err := strconv.ParseInt(req.maxAge, 10, 64); err == nil && now.Sub(p.authAt) > time.Duration(n)*time.Second {
			fresh = true
		}
	}
	// A step up to another acr authenticates anew too.
	if len(req.acrValues) > 0 && req.acrValues[0] != p.opts.ACR {
		fresh = true
	}
	if fresh {
		p.authAt = now
	}
	return p.authAt.Unix(), acr
}
