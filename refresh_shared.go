package oidcauth

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/oidcauth/oidcauth/internal/cookie"
	"github.com/oidcauth/oidcauth/internal/jose"
)

// Refreshes coordinated across instances (RefreshCoordinator).
//
// Within a process, one request per session refreshes at a time (the token
// table's lock) and the others catch up from the process's memory. Across
// processes, the refresh token's coordination record decides: a request
// first looks for a published outcome (waiting while another instance
// holds the lease), adopts it when there is one, and only otherwise takes
// the lease and makes the grant. Nothing here runs on a request whose
// tokens are not due: RequireAuth never reaches the coordinator.

// maxOutcomeChain bounds how many published outcomes one request follows
// from an old cookie's refresh token to the newest tokens.
const maxOutcomeChain = 16

// leaseMargin is the lease's slack beyond the grant's bound, and the
// bound of each call to the coordinator: a hung coordinator (a blackholed
// Redis) must not hold the session's refresh lock for longer.
const leaseMargin = 5 * time.Second

// grantBudget bounds what the lease holder does once it has spent the
// refresh token: the token request (HTTPClient's timeout) and, when the
// refreshed ID token names a key the key set does not hold yet, one JWKS
// fetch. The grant runs under this deadline.
func (a *Auth) grantBudget() time.Duration { return a.cfg.HTTPClient.Timeout + jose.FetchTimeout }

// leaseTTL outlasts the grant, so no other instance can take the lease
// over, and spend the same refresh token, while the holder still works.
func (a *Auth) leaseTTL() time.Duration { return a.grantBudget() + leaseMargin }

// coordContext bounds one coordinator call by leaseMargin. It is detached
// from ctx's cancellation: an outcome is published, and a lease released,
// even when the browser gave up.
func coordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), leaseMargin)
}

// coordKey names the coordination record of s's refresh state without
// revealing the refresh token: the token, and the expiry of the access
// token issued with it. With rotation the token alone decides (a token is
// issued with one access token); a provider that does not rotate keeps
// the token, and each refresh then has a record of its own.
func coordKey(s *session) string {
	h := sha256.New()
	h.Write([]byte(s.refreshToken))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(s.expiry)))
	return hex.EncodeToString(h.Sum(nil))
}

// refreshShared returns key's token, refreshed with s's refresh token,
// which no instance sharing the coordinator spends twice; st.sem is held.
func (a *Auth) refreshShared(w http.ResponseWriter, r *http.Request, st *tokenState, s *session, key tokenKey, params url.Values, now int64) (tok string, err error) {
	coord := a.cfg.RefreshCoordinator
	adopted := false
	defer func() {
		// Outcomes adopted on the way are saved even when the request then
		// fails, so the browser stops carrying a spent refresh token.
		if n := st.snapshot(); adopted && (n == nil || !n.ended) {
			a.saveRefreshed(w, r, st, s)
		}
	}()
	for range maxOutcomeChain {
		ck := coordKey(s)
		wait, cancel := context.WithTimeout(r.Context(), a.leaseTTL())
		out, found, werr := coord.Wait(wait, ck)
		cancel()
		switch {
		case werr != nil && r.Context().Err() != nil:
			return "", fail(ErrTokenEndpoint, r.Context().Err())
		case errors.Is(werr, context.DeadlineExceeded):
			// The holder outlived its lease: Acquire takes it over.
		case werr != nil:
			return a.uncoordinated(s, st, key, now, werr)
		case found:
			o, ended, err := a.openOutcome(ck, out, s.id)
			if err != nil {
				return "", err
			}
			if ended {
				adopted = false
				a.endSession(w, r, st, s)
				return "", fail(ErrNotSignedIn, errors.New("the provider ended this session (refreshed on another instance)"))
			}
			adopted = true
			if tok, ok := a.adopt(st, s, o, key, now); ok {
				return tok, nil
			}
			if coordKey(s) != ck {
				continue // an old cookie's outcome is itself due: follow the chain
			}
			// The provider did not rotate and the outcome holds another
			// resource's token: spending the same refresh token again is
			// harmless, and there is no record left to coordinate on.
			tok, _, err := a.grant(w, r, st, s, key, params, now, ck, 0)
			if err == nil {
				adopted = false
			}
			return tok, err
		}
		if s.provider == "" {
			// Discovery first: the lease then covers the grant alone.
			if _, err := a.discovery.get(r.Context()); err != nil {
				return "", err
			}
		}
		actx, cancel := context.WithTimeout(r.Context(), leaseMargin)
		fence, aerr := coord.Acquire(actx, ck, a.leaseTTL())
		cancel()
		if aerr != nil {
			return a.uncoordinated(s, st, key, now, aerr)
		}
		if fence == 0 {
			continue // taken or published meanwhile: wait for it
		}
		tok, done, err := a.grant(w, r, st, s, key, params, now, ck, fence)
		if done {
			if err == nil {
				adopted = false // grant saved the session
			}
			return tok, err
		}
		// Fenced out: a holder that took over published first; adopt its outcome.
	}
	return "", fail(ErrTokenEndpoint, errors.New("refresh outcomes chain past the bound"))
}

// uncoordinated answers when the coordinator cannot be reached: no grant
// is made, since another instance may be spending the same refresh token.
// A token that has not yet expired (it is only inside the refresh leeway)
// is still served; otherwise the request fails and the session stays.
func (a *Auth) uncoordinated(s *session, st *tokenState, key tokenKey, now int64, err error) (string, error) {
	a.cfg.Logger.Warn("oidcauth: refresh coordinator unreachable; not refreshing", "event", "refresh_failed", "reason", ErrorReason(ErrTokenEndpoint), "user", &s.user, "error", logSafe(err))
	if tok, _, ok := validToken(s, st, key, now-int64(tokenLeeway/time.Second)); ok {
		return tok, nil
	}
	return "", fail(ErrTokenEndpoint, errors.New("refresh coordinator unreachable"))
}

// grant makes the refresh grant under the lease fence and publishes its
// outcome. done is false when the lease was taken over and another
// holder's outcome is on record, which the caller then adopts. Fence 0 is
// a grant without a lease, published nowhere.
func (a *Auth) grant(w http.ResponseWriter, r *http.Request, st *tokenState, s *session, key tokenKey, params url.Values, now int64, ck string, fence int64) (tok string, done bool, err error) {
	// Detached from the request: a browser that gives up (a navigation,
	// an aborted fetch) after the provider rotated the refresh token must
	// not lose the new one, or the next refresh would spend the old one
	// and the provider would revoke the session. HTTPClient's timeout
	// and the grant's budget still bound it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.grantBudget())
	defer cancel()
	ctx = oidc.ClientContext(ctx, a.cfg.HTTPClient)
	m, resp, err := a.refresh(ctx, s, params)
	var pe *ProviderError
	refused := errors.As(err, &pe) && pe.Code == "invalid_grant"
	if err != nil && !refused {
		a.release(ctx, ck, fence)
		a.cfg.Logger.Warn("oidcauth: token refresh failed", "event", "refresh_failed", "reason", ErrorReason(err), "user", &s.user, "error", logSafe(err))
		return "", true, err
	}
	next := *s
	var snap *tokenSnap
	if err == nil {
		tok, snap, err = a.applyRefresh(ctx, m, st, &next, key, resp, now)
		if err != nil && !errors.Is(err, errSubjectChanged) {
			a.release(ctx, ck, fence)
			a.cfg.Logger.Warn("oidcauth: token refresh rejected", "event", "refresh_failed", "reason", ErrorReason(err), "user", &s.user, "error", logSafe(err))
			return "", true, err
		}
	}
	ttl := a.outcomeTTL(s, now)
	if err != nil {
		// The refresh token is dead (expired, revoked, the session ended at
		// the provider) or the provider now names another user: so is the
		// session, on every instance that still holds it.
		if ok, perr := a.publish(ctx, ck, fence, a.sealOutcome(ck, s, true, key, "", 0), ttl); perr != nil {
			a.cfg.Logger.Warn("oidcauth: publishing the ended session failed", "error", logSafe(perr))
		} else if !ok {
			return "", false, nil
		}
		a.endSession(w, r, st, s)
		if refused {
			a.cfg.Logger.Info("oidcauth: session ended by the provider at refresh", "event", "refresh_failed", "reason", ErrorReason(ErrNotSignedIn), "user", &s.user)
			return "", true, fail(ErrNotSignedIn, pe)
		}
		a.cfg.Logger.Warn("oidcauth: token refresh rejected", "event", "refresh_failed", "reason", ErrorReason(err), "user", &s.user, "error", logSafe(err))
		return "", true, err
	}
	var extraExpiry int64
	if key.kind != keySession {
		extraExpiry = snap.extra[key].expiry
	}
	if ok, perr := a.publish(ctx, ck, fence, a.sealOutcome(ck, &next, false, key, tok, extraExpiry), ttl); perr != nil {
		// The grant is made: keep its tokens here. Another instance that
		// holds the spent token will, once the lease expires, spend it
		// again (see SECURITY.md, refresh coordination).
		a.cfg.Logger.Warn("oidcauth: publishing refreshed tokens failed; other instances may not see them", "error", logSafe(perr))
	} else if !ok {
		return "", false, nil
	}
	*s = next
	st.snap.Store(snap)
	a.cfg.Logger.Info("oidcauth: tokens refreshed", "event", "refresh", "user", &s.user)
	a.saveRefreshed(w, r, st, s)
	return tok, true, nil
}

// saveRefreshed saves s after a grant or an adopted outcome. A server-side
// record that another request saved since this one read it is merged: one
// that still holds a refresh token s replaced (a rolling re-issue) gets
// s's tokens; one that holds newer tokens, or was deleted, stays.
func (a *Auth) saveRefreshed(w http.ResponseWriter, r *http.Request, st *tokenState, s *session) {
	for range 3 {
		err := a.writeSession(w, r, s, false)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrRecordChanged) {
			// The browser keeps its earlier cookie; the published outcome
			// (and this process's memory) bring it up to date on its next
			// request.
			a.cfg.Logger.Warn("oidcauth: saving refreshed session failed", "error", logSafe(err))
			return
		}
		current, err := a.cfg.Store.New(r, a.sessionCookie) // not the request's cached copy
		if err != nil || current.IsNew {
			return
		}
		cur := a.openStoreSession(current)
		n := st.snapshot()
		if cur == nil || cur.id != s.id || n == nil || !n.replaced(cur.refreshToken) {
			return
		}
		cached, err := a.cfg.Store.Get(r, a.sessionCookie)
		if err != nil {
			return
		}
		cached.Values[loadedRecord{}] = current.Values[loadedRecord{}]
		s.touched = max(s.touched, cur.touched)
	}
}

// publish publishes a grant's outcome under its lease; a grant without
// one (fence 0) has nothing to publish.
func (a *Auth) publish(ctx context.Context, ck string, fence int64, outcome []byte, ttl time.Duration) (bool, error) {
	if fence == 0 {
		return true, nil
	}
	ctx, cancel := coordContext(ctx)
	defer cancel()
	return a.cfg.RefreshCoordinator.Publish(ctx, ck, fence, outcome, ttl)
}

func (a *Auth) release(ctx context.Context, ck string, fence int64) {
	if fence == 0 {
		return
	}
	ctx, cancel := coordContext(ctx)
	defer cancel()
	if err := a.cfg.RefreshCoordinator.Release(ctx, ck, fence); err != nil {
		a.cfg.Logger.Warn("oidcauth: releasing the refresh lease failed; it expires on its own", "error", logSafe(err))
	}
}

// outcomeTTL keeps an outcome for as long as a session holding the spent
// refresh token can still be presented: its remaining absolute lifetime.
func (a *Auth) outcomeTTL(s *session, now int64) time.Duration {
	left := time.Duration(s.created-now)*time.Second + a.cfg.SessionMaxAge + a.cfg.ClockSkew
	return max(left, time.Minute)
}

// adopt brings s up to date with a published outcome, as catchUp does
// with the process's memory, and records it for the process. It returns
// key's token when the outcome made it valid.
func (a *Auth) adopt(st *tokenState, s *session, o *outcome, key tokenKey, now int64) (string, bool) {
	prev := st.snapshot()
	next := &tokenSnap{}
	if prev != nil {
		next.spent, next.extra = prev.spent, prev.extra
	}
	if o.s.refreshToken != s.refreshToken {
		next.spent = appendSpent(next.spent, s.refreshToken)
	}
	own := s.ownClaims()
	s.refreshToken, s.idToken, s.accessToken, s.expiry = o.s.refreshToken, o.s.idToken, o.s.accessToken, o.s.expiry
	if !own && !o.s.ownClaims() {
		s.user.claims = o.s.user.claims
	}
	if o.key.kind != keySession && o.expiry > now {
		extra := make(map[tokenKey]cachedToken, len(next.extra)+1)
		for k, v := range next.extra {
			if v.expiry > now {
				extra[k] = v
			}
		}
		extra[o.key] = cachedToken{token: o.token, expiry: o.expiry}
		next.extra = extra
	}
	s.touched = now
	next.from(s)
	st.snap.Store(next)
	tok, _, ok := validToken(s, st, key, now)
	return tok, ok
}

// outcome is a published refresh outcome: the session's tokens after the
// grant, and the resource or organization token it fetched, if any.
type outcome struct {
	s      *session
	key    tokenKey
	token  string
	expiry int64
}

const (
	outcomeFormat = 1
	outcomeEnded  = 1 // the provider refused the refresh token
)

// outcomeName binds a sealed outcome to its record, so one moved under
// another key does not open.
func outcomeName(ck string) string { return "oidcauth refresh outcome\x00" + ck }

// sealOutcome encrypts the session's tokens after a grant (or, ended, the
// fact that there will be none) with the session keys.
func (a *Auth) sealOutcome(ck string, s *session, ended bool, key tokenKey, tok string, expiry int64) []byte {
	b := []byte{outcomeFormat, 0, key.kind}
	if ended {
		b[1] = outcomeEnded
	}
	b = appendString(b, key.name)
	b = appendString(b, tok)
	b = binary.AppendUvarint(b, uint64(max(expiry, 0)))
	b = s.marshal(b)
	return a.codec.SealBytes(outcomeName(ck), b)
}

var errOutcome = errors.New("oidcauth: a published refresh outcome does not open or is not this session's")

// openOutcome decrypts and decodes a published outcome of the session id.
func (a *Auth) openOutcome(ck string, sealed []byte, id string) (*outcome, bool, error) {
	sc := cookie.ScratchPool.Get().(*cookie.Scratch)
	plain, err := a.codec.OpenBytes(sc, outcomeName(ck), sealed)
	var p string
	if err == nil {
		p = string(plain)
	}
	cookie.ScratchPool.Put(sc)
	if err != nil || len(p) < 3 || p[0] != outcomeFormat {
		return nil, false, fail(ErrTokenEndpoint, errOutcome)
	}
	d := decoder{s: p[3:]}
	o := &outcome{key: tokenKey{kind: p[2], name: d.str()}, token: d.str(), expiry: int64(d.uvarint())}
	if d.bad {
		return nil, false, fail(ErrTokenEndpoint, errOutcome)
	}
	s, err := unmarshalSession(d.s, a.cfg.Issuer)
	if err != nil || s.id != id {
		return nil, false, fail(ErrTokenEndpoint, errOutcome)
	}
	o.s = s
	return o, p[1] == outcomeEnded, nil
}
