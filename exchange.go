package oidcauth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/coreos/go-oidc/v3/oidc"
)

// refusals are authorization errors meaning the user or provider said no
// (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6).
var refusals = []string{"access_denied", "login_required", "consent_required", "interaction_required", "account_selection_required"}

func (a *Auth) callback(w http.ResponseWriter, r *http.Request) (*session, string, error) {
	q := r.URL.Query()
	// Consume the transaction first: whatever happens next, this state
	// cannot be used again.
	t, err := a.takeTransaction(w, r, q.Get("state"))
	if err != nil {
		return nil, "", err
	}
	s, returnTo, err := a.finishCallback(r, q, t)
	if err != nil && t.authn.silent && silentRefusal(err) {
		a.cfg.Logger.Info("oidcauth: silent sign-in needs the user", "event", "silent_sign_in_fallback", "reason", ErrorReason(err))
		a.silentFallback(w, r, &signInOptions{prompt: a.cfg.Prompt, returnTo: t.returnTo, authn: t.authn})
		return nil, "", errAnswered
	}
	if err != nil && t.authn.stepUp {
		// A step-up that did not succeed leaves the session as it was.
		err = sessionKept{err}
	}
	return s, returnTo, err
}

// sessionKept marks a callback failure that leaves the earlier session.
type sessionKept struct{ error }

func (e sessionKept) Unwrap() error { return e.error }

// finishCallback completes the sign-in that t began.
func (a *Auth) finishCallback(r *http.Request, q url.Values, t *transaction) (*session, string, error) {
	// A sign-in with a plain OAuth 2.0 provider finishes at its own
	// callback only (RFC 9700 §4.4.2).
	if t.provider != "" {
		return nil, "", fail(ErrIssuerMismatch, errors.New("response for a sign-in with another provider"))
	}
	m, err := a.discovery.get(r.Context())
	if err != nil {
		return nil, "", err
	}
	// RFC 9207 §2.4: when the provider advertises the iss parameter it must
	// be present; when present it must be our issuer, also on errors.
	if iss, has := q["iss"]; has || m.issParam {
		if !has || len(iss) != 1 || iss[0] != a.cfg.Issuer {
			return nil, "", fail(ErrIssuerMismatch, nil)
		}
	}
	if err := authorizationError(q); err != nil {
		return nil, "", err
	}
	code := q.Get("code")
	if code == "" || len(q["code"]) != 1 {
		return nil, "", fail(ErrInvalidCallback, errors.New("missing code"))
	}
	ctx := oidc.ClientContext(r.Context(), a.cfg.HTTPClient)
	e := a.oidcTokenEndpoint(m)
	tok, err := e.exchange(ctx, a.cfg.HTTPClient, code, a.cfg.RedirectURL, t.verifier, nil, a.cfg.Now())
	if err != nil {
		return nil, "", err
	}
	idt, claims, decoded, err := a.verifyIDToken(ctx, m, tok, t)
	if err != nil {
		return nil, "", err
	}
	// Automatic mode: a provider without userinfo has nothing to add.
	if a.wantsUserInfo(decoded) && (a.cfg.UserInfo == UserInfoAlways || m.provider.UserInfoEndpoint() != "") {
		merged, err := a.mergeUserInfo(ctx, m, tok.AccessToken, idt.Subject, claims)
		switch {
		case err == nil:
			claims, decoded = merged, nil // the merged claims are decoded afresh
		case a.cfg.UserInfo == UserInfoAlways:
			return nil, "", err
		default:
			// Automatic: the ID token's claims are a valid user, if a
			// sparse one.
			a.cfg.Logger.Warn("oidcauth: userinfo failed; signing in with the ID token's claims", "event", "userinfo_failed", "error", logSafe(err))
		}
	}
	s, err := a.newSession(idt, claims, decoded, tok)
	if err != nil {
		return nil, "", err
	}
	if a.cfg.OnSignIn != nil {
		if err := a.cfg.OnSignIn(r.Context(), &s.user); err != nil {
			return nil, "", fail(ErrAccessDenied, err)
		}
		if s.user.Subject != idt.Subject {
			return nil, "", fail(ErrInternal, errors.New("OnSignIn may not change the subject"))
		}
	}
	return s, t.returnTo, nil
}

// authorizationError classifies an authorization error response (RFC 6749
// §4.1.2.1); nil when the response carries no error.
func authorizationError(q url.Values) error {
	code := q.Get("error")
	if code == "" {
		return nil
	}
	if q.Has("code") {
		return fail(ErrInvalidCallback, errors.New("both code and error in the response"))
	}
	pe := newProviderError(code, q.Get("error_description"), q.Get("error_uri"), 0)
	switch {
	case slices.Contains(refusals, code):
		return fail(ErrAccessDenied, pe)
	case code == "temporarily_unavailable":
		return fail(ErrProviderUnavailable, pe)
	default:
		return fail(ErrAuthorization, pe)
	}
}
