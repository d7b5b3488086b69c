package oidcauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Token revocation at sign-out (RFC 7009). Logto's own SDKs revoke the
// refresh token when the user signs out; so does this library when the
// provider advertises a revocation_endpoint, so that a copy of the
// refresh token (in a stolen cookie, a log, a backup) is worth nothing
// afterwards.
//
// It never holds up or fails the sign-out: the requests run in the
// background, bounded by revocationTimeout, at most maxRevocationsInFlight
// at a time (a sign-out past that leaves its tokens to expire, and says so
// in the log), and their failures are logged without the token.

const (
	revocationTimeout      = 5 * time.Second
	maxRevocationsInFlight = 64
)

// revokeTokens asks the provider to revoke s's refresh token, then its
// access token while still valid, in the background. m is the provider's
// metadata when at hand (nil: nothing is revoked, no discovery is started
// for it). A plain OAuth 2.0 provider's tokens are left alone: its
// configuration names no revocation endpoint. A session's tokens are
// revoked once per process.
func (a *Auth) revokeTokens(m *metadata, s *session) {
	if m == nil || m.revocation == "" || s == nil || s.provider != "" {
		return
	}
	type tok struct{ value, hint string }
	var toks []tok
	if s.refreshToken != "" {
		toks = append(toks, tok{s.refreshToken, "refresh_token"})
	}
	if !s.accessToken.empty() && (s.expiry == 0 || s.expiry > a.cfg.Now().Unix()) {
		toks = append(toks, tok{s.accessToken.compact(), "access_token"})
	}
	if len(toks) == 0 {
		return
	}
	// A slot first: a session whose revocation found none is not marked
	// done, so its cookie coming back later (a copy, another tab) revokes.
	select {
	case a.revoking <- struct{}{}:
	default:
		a.cfg.Logger.Warn("oidcauth: too many token revocations under way; this session's tokens are left to expire", "event", "token_revocation_failed")
		return
	}
	if !a.endedOnce(s.id) {
		<-a.revoking
		return
	}
	a.background.Add(1)
	go func() {
		defer a.background.Done()
		defer func() { <-a.revoking }()
		ctx, cancel := context.WithTimeout(context.Background(), a.revocationTimeout)
		defer cancel()
		for _, t := range toks {
			if err := a.revokeToken(ctx, m, t.value, t.hint); err != nil {
				a.cfg.Logger.Warn("oidcauth: token revocation failed", "event", "token_revocation_failed", "token_type", t.hint, "error", logSafe(err))
			}
		}
	}()
}

// revokeEndedTokens revokes at the provider the tokens of a session that
// was ended elsewhere (back-channel logout, SignOutEverywhere, a sign-out
// on another instance) when its cookie comes back: only then are they at
// hand. It uses the metadata already fetched (no discovery for it), and
// each session's tokens once per process, so copies of the cookie cost
// the provider nothing more.
func (a *Auth) revokeEndedTokens(s *session) {
	if s.provider != "" || (s.refreshToken == "" && s.accessToken.empty()) {
		return
	}
	a.revokeTokens(a.discovery.cached(), s)
}

// maxEndedRemembered bounds the memory of sessions whose tokens were
// revoked; past it the memory starts afresh (a session then costs one more
// revocation request at most).
const maxEndedRemembered = 4096

// endedOnce reports whether this is the first time id's tokens are revoked
// here.
func (a *Auth) endedOnce(id string) bool {
	a.endedMu.Lock()
	defer a.endedMu.Unlock()
	if _, seen := a.ended[id]; seen {
		return false
	}
	if a.ended == nil || len(a.ended) >= maxEndedRemembered {
		a.ended = map[string]struct{}{}
	}
	a.ended[id] = struct{}{}
	return true
}

// revokeToken makes one RFC 7009 revocation request. 200 is success, also
// for a token the provider no longer knows (§2.2); the body is not read
// beyond a little, and never logged.
func (a *Auth) revokeToken(ctx context.Context, m *metadata, token, hint string) error {
	e := a.oidcTokenEndpoint(m)
	req, err := e.request(ctx, m.revocation, url.Values{"token": {token}, "token_type_hint": {hint}}, a.cfg.Now())
	if err != nil {
		return err
	}
	res, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
	if res.StatusCode != http.StatusOK {
		return errors.New("oidcauth: revocation endpoint answered " + res.Status)
	}
	return nil
}
