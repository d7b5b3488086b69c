package oidcauthtest

import (
	"net/http"
	"time"
)

// Misbehavior lists the rules a [Provider] can be told to break, so a test
// can prove that the relying party refuses each breach. The zero value is a
// correct provider; set one field per test.
type Misbehavior struct {
	// DiscoveryStatus answers discovery with this HTTP status.
	DiscoveryStatus int
	// DiscoveryIssuer states this issuer in the discovery document
	// (OIDC Discovery §4.3 requires it to equal the configured issuer).
	DiscoveryIssuer string
	// NoEndSession leaves end_session_endpoint out of discovery.
	NoEndSession bool
	// NoRevocation leaves revocation_endpoint (RFC 7009) out of discovery.
	NoRevocation bool
	// RevocationStatus answers the revocation endpoint with this HTTP
	// status instead of revoking.
	RevocationStatus int
	// DiscoveryFields sets (or, with a nil value, removes) fields of the
	// discovery document, e.g. an http token_endpoint.
	DiscoveryFields map[string]any

	// AuthorizeError answers the authorization request with this OAuth
	// error code (access_denied, server_error, …) instead of a code.
	AuthorizeError string
	// IssParameter sends this RFC 9207 iss parameter instead of the issuer.
	IssParameter string
	// OmitIssParameter leaves iss out of the authorization response although
	// discovery advertises it.
	OmitIssParameter bool

	// TokenStatus answers the token endpoint with this status and
	// TokenBody (default: an invalid_grant error for 400, server_error for
	// other errors) instead of tokens.
	TokenStatus int
	// TokenBody is the body sent with TokenStatus.
	TokenBody string
	// TokenContentType is the Content-Type sent with TokenStatus. Default
	// application/json.
	TokenContentType string
	// TokenRedirect answers the token endpoint with a 307 redirect to this
	// URL, which a client that follows it would send the code, verifier and
	// secret to.
	TokenRedirect string
	// TokenDelay holds every token response this long (or until the client
	// gives up).
	TokenDelay time.Duration
	// OmitIDToken leaves id_token out of the token response.
	OmitIDToken bool
	// KeepRefreshToken makes the refresh grant keep the refresh token
	// instead of rotating it, as providers without rotation do: the
	// response carries no new refresh_token and the old one stays valid.
	KeepRefreshToken bool

	// IDTokenClaims edits the ID token's claims before signing.
	IDTokenClaims func(claims map[string]any)
	// CorruptSignature flips a bit of the ID token's signature.
	CorruptSignature bool
	// AlgNone sends an unsigned ID token (alg "none").
	AlgNone bool
	// HMACWithSecret signs the ID token with HS256 keyed by the client
	// secret, which a relying party must refuse when it expects asymmetric
	// signatures.
	HMACWithSecret bool
	// SignWithUnknownKey signs the ID token with a key the JWKS does not
	// publish.
	SignWithUnknownKey bool
	// WrongAtHash puts an at_hash in the ID token that does not match the
	// access token.
	WrongAtHash bool

	// OmitKeyID leaves kid out of the ID token's header, which OIDC Core
	// §10.1 allows only while the JWKS holds a single key.
	OmitKeyID bool

	// JWKSStatus answers the JWKS endpoint with this HTTP status.
	JWKSStatus int
	// JWKSExtraKeys are published in the JWKS after the real keys, e.g. a
	// malformed key or one of an unknown type, which a relying party should
	// skip (RFC 7517 §5).
	JWKSExtraKeys []map[string]any

	// Delay holds the responses of the endpoints it names ("discovery",
	// "jwks", "userinfo", "revocation") this long, or until the client
	// gives up.
	Delay map[string]time.Duration

	// IntrospectionStatus answers the introspection endpoint with this
	// HTTP status.
	IntrospectionStatus int

	// UserInfoStatus answers userinfo with this HTTP status.
	UserInfoStatus int
	// UserInfoSubject answers userinfo for this subject instead of the
	// signed-in user's.
	UserInfoSubject string
}

// hold waits m.Delay[endpoint], or until the client gives up; it reports
// whether the client is still there.
func (m Misbehavior) hold(r *http.Request, endpoint string) bool {
	d := m.Delay[endpoint]
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
