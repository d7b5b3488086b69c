package oidcauth

import (
	"encoding/json"
	"net/url"
	"time"

	"github.com/oidcauth/oidcauth/internal/jose"
)

// Client authentication at the token endpoint (RFC 6749 §2.3.1, OIDC Core
// §9): client_secret_basic, client_secret_post, client_secret_jwt, or a
// public client naming itself.

// clientAssertionType is RFC 7523 §2.2's client_assertion_type.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime bounds a client_secret_jwt assertion: it is made for
// one request, sent at once.
const assertionLifetime = time.Minute

// authenticate adds the client's credentials to form, or reports that they
// go in a Basic Authorization header.
func (e *tokenEndpoint) authenticate(form url.Values, now time.Time) (basic bool, err error) {
	switch e.auth {
	case ClientSecretBasic:
		return true, nil
	case ClientSecretPost:
		form.Set("client_id", e.clientID)
		form.Set("client_secret", e.secret)
	case ClientSecretJWT:
		assertion, err := e.clientAssertion(now)
		if err != nil {
			return false, fail(ErrInternal, err)
		}
		form.Set("client_id", e.clientID)
		form.Set("client_assertion_type", clientAssertionType)
		form.Set("client_assertion", assertion)
	default: // a public client
		form.Set("client_id", e.clientID)
	}
	return false, nil
}

// clientAssertion is the client_secret_jwt assertion (RFC 7523 §3, OIDC
// Core §9): iss and sub the client, aud the token endpoint, a unique jti
// so the provider can refuse a replay, and a short exp.
func (e *tokenEndpoint) clientAssertion(now time.Time) (string, error) {
	claims, err := json.Marshal(struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Jti string `json:"jti"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
	}{e.clientID, e.clientID, e.url, randomString(), now.Unix(), now.Add(assertionLifetime).Unix()})
	if err != nil {
		return "", err
	}
	// go-jose signs, and refuses a secret shorter than the hash (RFC 7518
	// §3.2), which the provider's configuration check reports at New.
	return jose.SignHMAC(e.jwtAlg, []byte(e.secret), claims)
}
