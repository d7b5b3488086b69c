package oidcauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// OrganizationsScope is Logto's scope for organization tokens and the
// "organizations" claim. Put it in [Config.Scopes] to use
// [Auth.OrganizationToken].
const OrganizationsScope = "urn:logto:scope:organizations"

// organizationsResource is the resource Logto's SDKs request at sign-in
// alongside OrganizationsScope, so that organization tokens can be issued.
const organizationsResource = "urn:logto:resource:organizations"

// tokenLeeway is how long before its expiry a token is refreshed, so that
// it is still valid when the API it is sent to checks it.
const tokenLeeway = 30 * time.Second

// AccessToken returns a valid access token for resource, refreshing it with
// the session's refresh token when it expires within 30 seconds. resource
// "" is the access token issued at sign-in (for the userinfo endpoint, or a
// provider without resource indicators); any other value is an API
// resource (RFC 8707 resource indicator, Logto's "API identifier"), which
// should be listed in [Config.Resources] so the provider grants it at
// sign-in.
//
// Call it before the response is written: a refresh rotates the refresh
// token and the new tokens are saved in the session cookie through w. A
// still-valid token costs no network call. Concurrent requests of one
// session refresh once: the others wait and reuse the result, as do
// requests that still carry the session cookie from before the refresh, so
// a rotating refresh token is never spent twice (which providers punish by
// revoking the session); across instances, [Config.RefreshCoordinator]
// makes them meet. Resource tokens are cached in memory, per process,
// keyed by session; only the refresh token travels in the cookie.
//
// The error wraps [ErrNotSignedIn] when there is no session or the provider
// refused the refresh token (invalid_grant: the session is then ended and
// its cookie cleared), [ErrNoRefreshToken] when the token expired and the
// session has no refresh token, [ErrAccessDenied] when the provider refused
// this resource, and [ErrTokenEndpoint] or [ErrProviderUnavailable] when
// the provider failed, in which case the session is kept.
func (a *Auth) AccessToken(w http.ResponseWriter, r *http.Request, resource string) (string, error) {
	if resource == "" {
		tok, _, err := a.token(w, r, tokenKey{}, nil)
		return tok, err
	}
	tok, _, err := a.token(w, r, tokenKey{kind: keyResource, name: resource}, url.Values{"resource": {resource}})
	return tok, err
}

// OrganizationToken returns an access token for a Logto organization the
// user belongs to (the "organizations" claim lists their ids), obtained
// and refreshed like [Auth.AccessToken] with Logto's organization_id
// parameter on the refresh grant. [Config.Scopes] must hold
// [OrganizationsScope].
func (a *Auth) OrganizationToken(w http.ResponseWriter, r *http.Request, organizationID string) (string, error) {
	if !slices.Contains(a.cfg.Scopes, OrganizationsScope) {
		return "", fail(ErrInternal, errors.New("organization tokens need "+OrganizationsScope+" in Config.Scopes"))
	}
	if organizationID == "" {
		return "", fail(ErrInternal, errors.New("empty organization ID"))
	}
	tok, _, err := a.token(w, r, tokenKey{kind: keyOrganization, name: organizationID}, url.Values{"organization_id": {organizationID}})
	return tok, err
}

// token is the engine behind AccessToken and OrganizationToken. key names
// the token (the session's own, or one in the process's cache); params go
// on the refresh grant. It returns the token and its expiry (unix
// seconds; 0 unknown).
func (a *Auth) token(w http.ResponseWriter, r *http.Request, key tokenKey, params url.Values) (string, int64, error) {
	s := a.session(w, r)
	if s == nil {
		return "", 0, fail(ErrNotSignedIn, nil)
	}
	if s.provider != "" && key.kind != keySession {
		return "", 0, fail(ErrAccessDenied, errors.New("a plain OAuth 2.0 provider issues no resource or organization tokens"))
	}
	now := a.cfg.Now().Unix()
	st := a.tokens.lookup(s.id)
	stale := st.catchUp(s)
	if tok, exp, ok := validToken(s, st, key, now); ok {
		a.saveCaughtUp(w, r, s, stale)
		return tok, exp, nil
	}
	if st == nil {
		st = a.tokens.get(s.id, now)
	}
	// One refresh per session at a time; a waiter gives up with its request.
	select {
	case st.sem <- struct{}{}:
	case <-r.Context().Done():
		return "", 0, fail(ErrTokenEndpoint, r.Context().Err())
	}
	defer func() { <-st.sem }()
	st.used.Store(now)

	// Whoever held the lock before may have refreshed what we need.
	stale = st.catchUp(s) || stale
	if snap := st.snap.Load(); snap != nil && snap.ended {
		a.clearSession(w, r)
		return "", 0, fail(ErrNotSignedIn, errors.New("the provider ended this session"))
	}
	a.saveCaughtUp(w, r, s, stale)
	if tok, exp, ok := validToken(s, st, key, now); ok {
		return tok, exp, nil
	}
	if s.refreshToken == "" {
		return "", 0, fail(ErrNoRefreshToken, nil)
	}
	tok, err := a.refreshShared(w, r, st, s, key, params, now)
	if err != nil {
		return "", 0, err
	}
	return tok, tokenExpiry(s, st, key, tok), nil
}

// saveCaughtUp rewrites the cookie of a session that was brought up to date
// from the process's tokens, so the browser stops carrying a spent refresh
// token.
func (a *Auth) saveCaughtUp(w http.ResponseWriter, r *http.Request, s *session, stale bool) {
	if !stale {
		return
	}
	if err := a.writeSession(w, r, s, false); err != nil {
		a.cfg.Logger.Warn("oidcauth: saving refreshed session failed", "error", logSafe(err))
	}
}

// validToken returns the token key names, and its expiry, if it is valid
// for longer than tokenLeeway: the session's own access token, or a cached
// one.
func validToken(s *session, st *tokenState, key tokenKey, now int64) (string, int64, bool) {
	leeway := int64(tokenLeeway / time.Second)
	if key.kind == keySession {
		if s.accessToken.empty() || (s.expiry != 0 && now+leeway >= s.expiry) {
			return "", 0, false
		}
		return s.accessToken.compact(), s.expiry, true
	}
	snap := st.snapshot()
	if snap == nil {
		return "", 0, false
	}
	c, ok := snap.extra[key]
	if !ok || now+leeway >= c.expiry {
		return "", 0, false
	}
	return c.token, c.expiry, true
}

// tokenExpiry is the expiry of tok, the token key names, just refreshed
// here or caught up from another refresh; 0 when unknown.
func tokenExpiry(s *session, st *tokenState, key tokenKey, tok string) int64 {
	snap := st.snapshot()
	switch {
	case key.kind != keySession:
		if snap != nil && snap.extra[key].token == tok {
			return snap.extra[key].expiry
		}
	case snap != nil && snap.accessToken.compact() == tok:
		return snap.expiry
	case s.accessToken.compact() == tok:
		return s.expiry
	}
	return 0
}

var errSubjectChanged = errors.New("refreshed ID token names another subject")

// applyRefresh checks a refresh response's ID token and applies the
// response to s (the token endpoint client has checked its access token
// and type); it returns the token that was asked for and the process's
// next state, which the caller stores once the outcome is published.
func (a *Auth) applyRefresh(ctx context.Context, m *metadata, st *tokenState, s *session, key tokenKey, resp *tokenResponse, now int64) (string, *tokenSnap, error) {
	var claims json.RawMessage
	if resp.IDToken != "" {
		// OIDC Core §12.2: same iss, sub and aud as the session's; a nonce,
		// if present, is the original one and is not checked again.
		idt, err := m.verifier.Verify(ctx, resp.IDToken)
		if err != nil {
			return "", nil, fail(ErrInvalidIDToken, err)
		}
		if idt.Subject != s.user.Subject {
			return "", nil, fail(ErrInvalidIDToken, errSubjectChanged)
		}
		if idt.IssuedAt.IsZero() || idt.IssuedAt.After(a.cfg.Now().Add(a.cfg.ClockSkew)) {
			return "", nil, fail(ErrInvalidIDToken, errors.New("iat missing or in the future"))
		}
		if claims, _, err = a.checkClaims(idt, resp.IDToken, resp.AccessToken); err != nil {
			return "", nil, err
		}
	}

	prev := st.snapshot()
	next := &tokenSnap{}
	if prev != nil {
		next.spent = prev.spent
		next.extra = prev.extra
	}
	if resp.RefreshToken != "" && resp.RefreshToken != s.refreshToken {
		next.spent = appendSpent(next.spent, s.refreshToken)
		s.refreshToken = resp.RefreshToken
	}
	if claims != nil {
		own := s.ownClaims()
		s.idToken = packToken(resp.IDToken)
		if !own {
			// Claims follow the newest ID token (roles or organizations may
			// have changed); the typed fields keep their sign-in values,
			// which OnSignIn may have mapped.
			s.user.claims = string(claims)
		}
	}
	expiry := resp.expiry(now)
	if key.kind == keySession {
		s.accessToken = packToken(resp.AccessToken)
		s.expiry = expiry
	} else {
		if expiry == 0 {
			expiry = now + int64(defaultCachedTokenTTL/time.Second)
		}
		extra := make(map[tokenKey]cachedToken, len(next.extra)+1)
		for k, v := range next.extra {
			if v.expiry > now {
				extra[k] = v
			}
		}
		extra[key] = cachedToken{token: resp.AccessToken, expiry: expiry}
		next.extra = extra
	}
	s.touched = now
	next.from(s)
	return resp.AccessToken, next, nil
}

// endSession ends a session the provider will no longer refresh: its
// cookie is cleared, and it is revoked, so that requests still carrying
// the cookie, here or on instances sharing Config.Revocations, stop at
// once instead of asking the provider again.
func (a *Auth) endSession(w http.ResponseWriter, r *http.Request, st *tokenState, s *session) {
	next := &tokenSnap{ended: true}
	next.from(s)
	st.snap.Store(next)
	a.clearSession(w, r)
	if err := a.revoke(r.Context(), Revocation{SessionID: s.id}); err != nil {
		a.cfg.Logger.Warn("oidcauth: recording the ended session failed", "error", logSafe(err))
	}
}

// hashRefresh names a refresh token without keeping it.
func hashRefresh(t string) [32]byte { return sha256.Sum256([]byte(t)) }

// maxSpent bounds how many rotated-out refresh tokens a session remembers:
// a cookie older than that many refreshes is not caught up.
const maxSpent = 8

func appendSpent(spent [][32]byte, old string) [][32]byte {
	out := make([][32]byte, 0, maxSpent)
	if len(spent) >= maxSpent {
		spent = spent[len(spent)-maxSpent+1:]
	}
	out = append(out, spent...)
	return append(out, hashRefresh(old))
}

// refresh redeems s's refresh token at the provider that signed s in; the
// metadata is nil for a plain OAuth 2.0 provider.
func (a *Auth) refresh(ctx context.Context, s *session, params url.Values) (*metadata, *tokenResponse, error) {
	if s.provider != "" {
		p := a.oauth2Provider(s.provider)
		if p == nil {
			return nil, nil, fail(ErrNotSignedIn, errors.New("the session's provider is no longer configured"))
		}
		resp, err := p.token.refresh(ctx, a.cfg.HTTPClient, s.refreshToken, nil, a.cfg.Now())
		return nil, resp, err
	}
	m, err := a.discovery.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	e := a.oidcTokenEndpoint(m)
	resp, err := e.refresh(ctx, a.cfg.HTTPClient, s.refreshToken, params, a.cfg.Now())
	return m, resp, err
}
