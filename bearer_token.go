package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// BearerToken is what a verified access token grants: the principal a
// [Bearer] puts in the request context. Its slices are shared with other
// requests presenting the same token: read them, do not modify them.
type BearerToken struct {
	// Issuer is the provider that issued the token (iss).
	Issuer string
	// Subject is the user the token acts for, or for a machine-to-machine
	// (client credentials) token the client itself (sub).
	Subject string
	// ClientID is the client the token was issued to (client_id, RFC 9068
	// §2.2): the app that calls the API.
	ClientID string
	// Audience lists the token's audiences (aud): this API's resource
	// indicator, or Logto's organization audience.
	Audience []string
	// Scopes are the granted scopes (Logto: the API's permissions), from
	// the space-separated scope claim (RFC 9068 §2.2.3) or a scp claim.
	Scopes []string
	// OrganizationID is the Logto organization the token is for: the id
	// in an organization token's audience (urn:logto:organization:<id>),
	// or an organization-level API resource token's organization_id.
	// Empty for a token outside any organization.
	OrganizationID string
	// ID is the token's identifier (jti), when it has one.
	ID string

	expiry, issuedAt int64  // unix seconds
	claims           string // the token's claims, as JSON
}

// Expiry is when the token expires (exp).
func (t *BearerToken) Expiry() time.Time { return time.Unix(t.expiry, 0) }

// IssuedAt is when the token was issued (iat).
func (t *BearerToken) IssuedAt() time.Time { return time.Unix(t.issuedAt, 0) }

// HasScope reports whether the token grants every one of scopes.
func (t *BearerToken) HasScope(scopes ...string) bool {
	for _, s := range scopes {
		if !slices.Contains(t.Scopes, s) {
			return false
		}
	}
	return true
}

// Claims decodes all the token's claims (for an introspected token, the
// introspection response's) into v.
func (t *BearerToken) Claims(v any) error {
	if t == nil || t.claims == "" {
		return errors.New("oidcauth: no claims")
	}
	return json.Unmarshal([]byte(t.claims), v)
}

// bearerPrincipal is one request's principal: a copy of the cached
// template, so that a handler (or a failed Scope requirement recording
// what it wanted) changes nothing another request sees.
type bearerPrincipal struct {
	owner   *Bearer
	user    User
	token   BearerToken
	missing []string // the scopes a failed Scope requirement wanted
}

// principalFromContext returns the bearer principal a Bearer put in ctx,
// when it is the innermost principal (a session put there later wins).
func principalFromContext(ctx context.Context) *bearerPrincipal {
	p, _ := ctx.Value(sessionContextKey).(*bearerPrincipal)
	return p
}

// BearerTokenFromContext returns the access token that [Bearer.RequireToken]
// or [Bearer.Require] verified for this request. It returns nil and false
// when no Bearer ran; it never panics. [UserFromContext] returns the same
// principal as a [User] (Subject, Issuer, and the token's claims for
// [User.Claims] and the [Requirement]s).
func BearerTokenFromContext(ctx context.Context) (*BearerToken, bool) {
	p := principalFromContext(ctx)
	if p == nil {
		return nil, false
	}
	return &p.token, true
}

// hasScopes reports whether the token grants every one of scopes, and
// remembers them for the 403's scope attribute when it does not.
func (p *bearerPrincipal) hasScopes(scopes []string) bool {
	if p.token.HasScope(scopes...) {
		return true
	}
	p.missing = scopes
	return false
}

// tokenEntry is a verified (or introspected) token's template, as the
// cache keeps it.
type tokenEntry struct {
	user          User
	token         BearerToken
	exp, nbf, iat int64 // unix seconds; MaxInt64 / MinInt64 when absent
	// fresh is when an introspection answer must be asked again; 0 for
	// a JWT, whose verification stays true until exp.
	fresh    int64
	inactive bool // introspection said so: refused until fresh
}

// current checks the token's times against now, with skew seconds of
// leeway (RFC 7519 §4.1.4–6).
func (e *tokenEntry) current(now, skew int64) error {
	switch {
	case now >= satAdd(e.exp, skew):
		return errInvalidToken("expired")
	case now < satAdd(e.nbf, -skew):
		return errInvalidToken("not valid yet (nbf)")
	case now < satAdd(e.iat, -skew):
		return errInvalidToken("issued in the future (iat)")
	}
	return nil
}

// satAdd is a+b without wrapping around.
func satAdd(a, b int64) int64 {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		if b > 0 {
			return 1<<63 - 1
		}
		return -1 << 63
	}
	return c
}
