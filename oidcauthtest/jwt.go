// JWT signing for the tokens the provider issues: its keys (from the pool),
// its JWKS entries, and checking an id_token_hint it issued itself.

package oidcauthtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"slices"

	"github.com/oidcauth/oidcauth/internal/jose"
)

var b64 = base64.RawURLEncoding

// signingKey is one of the provider's keys. It signs with a real RS256 or
// ES256 signature and publishes its public half as a JWK (RFC 7517).
type signingKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

// newSigningKey returns the pool's n-th key for alg (n < 0: the key no
// provider publishes) under a fresh key id.
func newSigningKey(alg string, n int) (*signingKey, error) {
	priv, err := poolKey(alg, n)
	if err != nil {
		return nil, err
	}
	return &signingKey{kid: randomString()[:22], alg: alg, priv: priv}, nil
}

// digest hashes a JWS signing input as the key's algorithm asks.
func (k *signingKey) digest(input string) (crypto.Hash, []byte) {
	h := crypto.SHA256
	if k.alg == "ES384" {
		h = crypto.SHA384
	}
	w := h.New()
	w.Write([]byte(input))
	return h, w.Sum(nil)
}

func (k *signingKey) jwk() map[string]string {
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "use": "sig", "alg": k.alg, "kid": k.kid,
			"n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		ec, _ := pub.ECDH()
		point := ec.Bytes() // 0x04 | X | Y
		n := (len(point) - 1) / 2
		return map[string]string{"kty": "EC", "use": "sig", "alg": k.alg, "kid": k.kid, "crv": pub.Curve.Params().Name,
			"x": b64.EncodeToString(point[1 : 1+n]), "y": b64.EncodeToString(point[1+n:])}
	}
	return nil
}

// sign returns the signature of input (JWS signing input) as JWS wants it:
// PKCS #1 v1.5 for RS256, the fixed-size r|s pair for ES256 and ES384
// (RFC 7518 §3.4).
func (k *signingKey) sign(input string) ([]byte, error) {
	h, sum := k.digest(input)
	switch priv := k.priv.(type) {
	case *rsa.PrivateKey:
		return rsa.SignPKCS1v15(rand.Reader, priv, h, sum)
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, priv, sum)
		if err != nil {
			return nil, err
		}
		n := (priv.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*n)
		r.FillBytes(out[:n])
		s.FillBytes(out[n:])
		return out, nil
	}
	return nil, errors.New("oidcauthtest: unknown key type")
}

// jwt signs claims with the current key, or breaks the signature as m says.
func (p *Provider) jwt(claims map[string]any, typ string, m Misbehavior) (string, error) {
	p.mu.Lock()
	key := p.keys[len(p.keys)-1]
	p.mu.Unlock()
	header := map[string]string{"alg": key.alg, "typ": typ, "kid": key.kid}
	switch {
	case m.AlgNone:
		header = map[string]string{"alg": "none", "typ": typ}
	case m.HMACWithSecret:
		header["alg"] = "HS256"
	case m.SignWithUnknownKey:
		stray, err := newSigningKey(key.alg, -1)
		if err != nil {
			return "", err
		}
		key = stray
		header["kid"] = stray.kid
	}
	if m.OmitKeyID {
		delete(header, "kid")
	}
	h, _ := json.Marshal(header)
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	var sig []byte
	switch {
	case m.AlgNone:
	case m.HMACWithSecret:
		mac := hmac.New(sha256.New, []byte(p.opts.ClientSecret))
		mac.Write([]byte(input))
		sig = mac.Sum(nil)
	default:
		if sig, err = key.sign(input); err != nil {
			return "", err
		}
		if m.CorruptSignature {
			sig[len(sig)/2] ^= 0x01
		}
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// ownIDToken reports whether raw is an ID token this provider signed for
// its client; expiry is not checked (a logout hint may be expired).
func (p *Provider) ownIDToken(raw string) bool {
	header, err := jose.ParseHeader(raw)
	if err != nil {
		return false
	}
	p.mu.Lock()
	keys := slices.Clone(p.keys)
	p.mu.Unlock()
	for _, k := range keys {
		if k.kid != header.KeyID {
			continue
		}
		// go-jose verifies the signature (the key's algorithm only).
		payload, _, err := jose.VerifyKey(raw, []string{k.alg}, k.priv.Public())
		var claims struct {
			Aud any    `json:"aud"`
			Iss string `json:"iss"`
		}
		return err == nil && json.Unmarshal(payload, &claims) == nil && claims.Iss == p.issuer && claims.Aud == p.opts.ClientID
	}
	return false
}
