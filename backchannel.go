package oidcauth

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidcauth/oidcauth/internal/jose"
)

// maxLogoutRequestBytes caps a back-channel logout request body: a logout
// token is a few hundred bytes.
const maxLogoutRequestBytes = 16 << 10

// logoutTokenMaxAge is how old a logout token's iat may be: the provider
// sends it as the session ends, so an old one is a replay of a captured
// token whose jti we may have forgotten.
const logoutTokenMaxAge = 5 * time.Minute

// errInvalidLogoutToken is what every rejected logout token reports.
var errInvalidLogoutToken = errors.New("oidcauth: invalid logout token")

// BackChannelLogoutHandler receives OpenID Connect Back-Channel Logout 1.0
// requests at the "Backchannel logout URI" registered at the provider (in
// Logto, the application's Backchannel logout URI; [Auth.Mount] serves it
// at [Config.BackChannelLogoutPath]). The provider POSTs a signed logout
// token naming a provider session (sid) or a user (sub); every session of
// this app it names is revoked in [Config.Revocations], so RequireAuth
// refuses its cookie on the next request, on every instance that shares
// it.
//
// The token is checked as §2.6 asks: signature with the provider's keys
// (by go-jose) and the ID token's algorithms, iss, aud, iat (recent) and
// exp, the back-channel logout event, sub or sid, no nonce, typ logout+jwt
// when present, and a jti not seen before. The answer is 200, 400 with a JSON
// error, or 500/503 when the revocation could not be recorded (the
// provider may retry); always Cache-Control: no-store.
func (a *Auth) BackChannelLogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			h.Set("Allow", "POST")
			backChannelError(w, http.StatusMethodNotAllowed, "invalid_request")
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
			backChannelError(w, http.StatusBadRequest, "invalid_request")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxLogoutRequestBytes)
		if err := r.ParseForm(); err != nil || len(r.PostForm["logout_token"]) != 1 {
			backChannelError(w, http.StatusBadRequest, "invalid_request")
			return
		}
		if err := a.backChannelLogout(r, r.PostForm.Get("logout_token")); err != nil {
			status := http.StatusBadRequest
			code := "invalid_request"
			switch {
			case errors.Is(err, ErrProviderUnavailable):
				status, code = http.StatusServiceUnavailable, "temporarily_unavailable"
			case errors.Is(err, ErrInternal):
				status, code = http.StatusInternalServerError, "server_error"
			}
			a.cfg.Logger.Warn("oidcauth: back-channel logout failed", "event", "back_channel_logout_failed", "status", status, "error", logSafe(err))
			backChannelError(w, status, code)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

func backChannelError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

// backChannelLogout validates raw and revokes what it names.
func (a *Auth) backChannelLogout(r *http.Request, raw string) error {
	bad := func(why string) error { return fail(errInvalidLogoutToken, errors.New(why)) }
	// §2.6 item 2 and the typ header (RFC 8417, the spec's §2.4 advice):
	// an explicit type keeps an ID token or access token from passing as
	// a logout token.
	if len(raw) > maxLogoutRequestBytes {
		return bad("too long")
	}
	hdr, err := jose.ParseHeader(raw)
	if err != nil {
		return bad("not a compact JWS")
	}
	if hdr.Type != "" && !strings.EqualFold(hdr.Type, "logout+jwt") && !strings.EqualFold(hdr.Type, "application/logout+jwt") {
		return bad("typ is not logout+jwt")
	}
	m, err := a.discovery.get(r.Context())
	if err != nil {
		return err
	}
	// go-oidc checks the algorithm (the ID token's list), iss, aud, exp,
	// the event, sub or sid, jti and the absence of nonce (§2.6 items 3–7);
	// go-jose verifies the signature with the provider's keys, through our
	// key set.
	ctx := oidc.ClientContext(r.Context(), a.cfg.HTTPClient)
	lt, err := m.verifier.VerifyLogout(ctx, raw)
	if err != nil {
		// A key the key set does not hold (a rotation inside the refetch
		// cooldown, or a JWKS outage) is no verdict on the token: 503, so
		// the provider retries instead of dropping the logout.
		if !m.keys.Holds(hdr.KeyID) {
			return fail(ErrProviderUnavailable, err)
		}
		return fail(errInvalidLogoutToken, err)
	}
	var extra struct {
		Events map[string]json.RawMessage `json:"events"`
	}
	if lt.Claims(&extra) != nil {
		return bad("claims are not a JSON object")
	}
	// §2.4: the event's value is a JSON object.
	if ev := extra.Events["http://schemas.openid.net/event/backchannel-logout"]; len(ev) == 0 || ev[0] != '{' {
		return bad("backchannel-logout event is not a JSON object")
	}
	now := a.cfg.Now()
	skew := a.cfg.ClockSkew
	if lt.IssuedAt.IsZero() || lt.IssuedAt.After(now.Add(skew)) || lt.IssuedAt.Before(now.Add(-logoutTokenMaxAge-skew)) {
		return bad("iat missing, in the future, or too old")
	}
	if len(lt.Subject) > 255 || len(lt.SessionID) > 255 || len(lt.TokenID) > 255 {
		return bad("claim too long")
	}
	// The revocation is a function of the token alone: its cut-off is the
	// token's iat (the provider's time of the logout), not the time it
	// arrives. Recording it again changes nothing, so it can come before
	// the jti check: a replay rewrites the very same record (the list is
	// unchanged, a later sign-in stays valid), and when recording fails
	// (500) the provider's retry of the same token is still taken.
	// A sid names one provider session, which no sign-in after the logout
	// can carry: its cut-off takes ClockSkew more, so a session opened on
	// an instance whose clock runs ahead is still covered. A subject's
	// cut-off is iat exactly, so the user can sign in again at once.
	rev := Revocation{ProviderSID: lt.SessionID, At: lt.IssuedAt.Add(skew)}
	if lt.SessionID == "" {
		rev = Revocation{Subject: lt.Subject, At: lt.IssuedAt}
	}
	// A store that can tell it holds this revocation already (a replay, or
	// a duplicate delivery) is not written to at all.
	if h, ok := a.cfg.Revocations.(revocationHolder); !ok || !h.Holds(a.withUntil(rev)) {
		if err := a.revoke(r.Context(), rev); err != nil {
			return fail(ErrInternal, err)
		}
	}
	// §2.6 item 8: a jti seen before is a replay. It is kept until the
	// token could no longer pass the iat window above.
	fresh, err := a.cfg.Revocations.FirstUse(r.Context(), lt.Issuer+"\x00"+lt.TokenID, now.Add(logoutTokenMaxAge+2*skew))
	if err != nil {
		return fail(ErrInternal, err)
	}
	if !fresh {
		return bad("jti already used")
	}
	a.cfg.Logger.Info("oidcauth: back-channel logout", "event", "back_channel_logout", "sid_given", lt.SessionID != "", "sub_given", lt.Subject != "")
	return nil
}
