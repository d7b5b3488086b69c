package oidcauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// idClaims are the claims we read beyond go-oidc's checks.
type idClaims struct {
	Azp               string          `json:"azp"`
	Sid               string          `json:"sid"`
	Name              string          `json:"name"`
	Email             string          `json:"email"`
	EmailVerified     json.RawMessage `json:"email_verified"`
	Picture           string          `json:"picture"`
	Username          string          `json:"username"`
	PreferredUsername string          `json:"preferred_username"`
	PhoneNumber       string          `json:"phone_number"`
	AuthTime          float64         `json:"auth_time"`
	ACR               string          `json:"acr"`
}

// verifyIDToken checks the ID token (OIDC Core §3.1.3.7): go-oidc checks
// the algorithm, iss, aud and exp, go-jose the signature (through our key
// set, internal/jose); we add nonce, sub, iat, azp and at_hash.
func (a *Auth) verifyIDToken(ctx context.Context, m *metadata, tok *tokenResponse, t *transaction) (*oidc.IDToken, json.RawMessage, *idClaims, error) {
	raw := tok.IDToken
	if raw == "" {
		return nil, nil, nil, fail(ErrInvalidIDToken, errors.New("token response has no id_token"))
	}
	idt, err := m.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, nil, nil, fail(ErrInvalidIDToken, err)
	}
	bad := func(why string) (*oidc.IDToken, json.RawMessage, *idClaims, error) {
		return nil, nil, nil, fail(ErrInvalidIDToken, errors.New(why))
	}
	// §3.1.3.7 item 11: the nonce ties the token to this browser's attempt.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(t.nonce)) != 1 {
		return bad("nonce does not match")
	}
	if idt.Subject == "" || len(idt.Subject) > 255 {
		return bad("sub missing or longer than 255 characters")
	}
	// §3.1.3.7 item 10: iat must be present and recent; a token issued
	// before this attempt began is a replay.
	skew := a.cfg.ClockSkew
	now := a.cfg.Now()
	if idt.IssuedAt.IsZero() || idt.IssuedAt.After(now.Add(skew)) || idt.IssuedAt.Before(time.Unix(t.created, 0).Add(-skew)) {
		return bad("iat missing, in the future, or before the sign-in began")
	}
	claims, decoded, err := a.checkClaims(idt, raw, tok.AccessToken)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := a.checkAuthn(&t.authn, decoded, now); err != nil {
		return nil, nil, nil, err
	}
	return idt, claims, decoded, nil
}

// checkClaims returns the ID token's claims after the checks that a
// token from the code exchange and one from a refresh share: azp, and
// at_hash against the access token issued with it.
//
// The claims JSON is the token's payload segment, which go-oidc has just
// decoded as a JSON object; taking it from there, and decoding our claims
// once, saves two passes over it per sign-in.
func (a *Auth) checkClaims(idt *oidc.IDToken, rawIDToken, accessToken string) (json.RawMessage, *idClaims, error) {
	claims := payloadOf(rawIDToken)
	if claims == nil {
		if err := idt.Claims(&claims); err != nil {
			return nil, nil, fail(ErrInvalidIDToken, errors.New("claims are not a JSON object"))
		}
	}
	c := new(idClaims)
	if json.Unmarshal(claims, c) != nil {
		return nil, nil, fail(ErrInvalidIDToken, errors.New("claims are not a JSON object of the expected types"))
	}
	// §3.1.3.7 items 4–5: with several audiences azp must name us.
	if (len(idt.Audience) > 1 && c.Azp == "") || (c.Azp != "" && c.Azp != a.cfg.ClientID) {
		return nil, nil, fail(ErrInvalidIDToken, errors.New("azp missing or not this client"))
	}
	// §3.1.3.8: at_hash, when present, binds the access token.
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return nil, nil, fail(ErrInvalidIDToken, errors.New("at_hash does not match the access token"))
		}
	}
	return claims, c, nil
}

// payloadOf decodes a compact JWS's payload segment, or returns nil.
func payloadOf(jwt string) json.RawMessage {
	_, rest, ok := strings.Cut(jwt, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil
	}
	return b
}
