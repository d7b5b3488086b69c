package oidcauth

import (
	"context"
	"errors"
)

// SignOutEverywhere ends every session of one user, on every instance that
// shares [Config.Revocations]: each session of the user signed in until
// now is refused from its next request, whichever browser or device holds
// it. Sessions carry the time of their sign-in by the clock of the
// instance that opened them, so the cut-off is now plus [Config.ClockSkew]:
// a session opened moments before on an instance whose clock runs ahead
// (by up to ClockSkew) is ended too. The price is that a sign-in by the
// same user within ClockSkew afterwards (default one minute) is refused at
// the callback (403, reason access_denied) instead of starting a session;
// a sign-in after that starts a valid one. issuer and subject
// name the user as a [User] does (its Issuer and Subject): the OpenID
// Connect provider's issuer, or a plain OAuth 2.0 provider's
// ([User.Issuer] holds its authorization endpoint). Use it for "sign out
// of all devices", after a password change, or when an administrator
// locks an account.
//
// It ends this app's sessions only: the provider's own session is the
// provider's to end (Logto: its Management API), so a user still signed in
// there signs in here again without a prompt. Each ended session's refresh
// and access tokens are revoked at the provider's revocation_endpoint
// (RFC 7009) when its cookie next arrives at this app: only then are they
// at hand.
//
// The error wraps [ErrUnknownProvider] when issuer is not a configured
// provider's. An error from [Config.Revocations] means the sign-out holds
// on this instance but may not yet on the others (stores/redis: until
// their next resync after Redis is back).
func (a *Auth) SignOutEverywhere(ctx context.Context, issuer, subject string) error {
	if subject == "" {
		return fail(ErrInternal, errors.New("SignOutEverywhere needs a subject"))
	}
	// Surviving sessions are the worse failure: the cut-off covers every
	// instance's clock (a back-channel subject logout, in contrast, cuts off
	// at the provider's iat exactly).
	rev := Revocation{Subject: subject, At: a.cfg.Now().Add(a.cfg.ClockSkew)}
	if issuer == "" || issuer != a.cfg.Issuer {
		known := false
		for _, p := range a.oauth2 {
			known = known || p.AuthorizationEndpoint == issuer
		}
		if !known {
			return fail(ErrUnknownProvider, errors.New("SignOutEverywhere: the issuer is not a configured provider's"))
		}
		rev.Subject = oauth2Subject(issuer, subject)
	}
	err := a.revoke(ctx, rev)
	a.cfg.Logger.Info("oidcauth: signed out everywhere", "event", "sign_out_everywhere", "user.sub", subject, "user.iss", issuer)
	if err != nil {
		a.cfg.Logger.Warn("oidcauth: recording the sign-out everywhere failed", "error", logSafe(err))
	}
	return err
}

// oauth2Subject is the Subject a revocation names a plain OAuth 2.0
// provider's user by: the provider's issuer and the user's id, which alone
// could collide with an OpenID Connect subject.
func oauth2Subject(issuer, subject string) string {
	return "oauth2\x00" + issuer + "\x00" + subject
}
