package oidcauthtest

import "time"

// BackChannelLogoutEvent is the events member that marks a logout token
// (OpenID Connect Back-Channel Logout 1.0 §2.4).
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutTokenOptions describe a back-channel logout token.
type LogoutTokenOptions struct {
	// Subject and SID name the user and the provider session (the sid
	// claim of the ID tokens the provider issued); at least one is needed
	// for a valid token.
	Subject, SID string
	// Typ is the JWT header's typ. Default "logout+jwt".
	Typ string
	// Claims edits the claims before signing (delete one, add a nonce,
	// move iat, …).
	Claims func(claims map[string]any)
	// Misbehavior breaks the signature as for ID tokens (AlgNone,
	// CorruptSignature, SignWithUnknownKey, HMACWithSecret).
	Misbehavior Misbehavior
}

// LogoutToken returns a signed back-channel logout token (Back-Channel
// Logout 1.0 §2.4) for the provider's client, valid for two minutes. POST
// it as the form field logout_token to the relying party's back-channel
// logout URI; the options break one rule at a time so a test can prove
// each check.
func (p *Provider) LogoutToken(o LogoutTokenOptions) (string, error) {
	now := p.opts.Now()
	claims := map[string]any{
		"iss":    p.issuer,
		"aud":    p.opts.ClientID,
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    randomString()[:24],
		"events": map[string]any{BackChannelLogoutEvent: map[string]any{}},
	}
	if o.Subject != "" {
		claims["sub"] = o.Subject
	}
	if o.SID != "" {
		claims["sid"] = o.SID
	}
	if o.Claims != nil {
		o.Claims(claims)
	}
	if o.Typ == "" {
		o.Typ = "logout+jwt"
	}
	return p.jwt(claims, o.Typ, o.Misbehavior)
}
