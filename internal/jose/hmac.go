package jose

import (
	"errors"

	jose "github.com/go-jose/go-jose/v4"
)

// hmacKeySizes are the JWS HMAC algorithms (RFC 7518 §3.2) and the least
// key size each takes: the hash's output size, which §3.2 makes a MUST.
var hmacKeySizes = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// CheckHMACKey reports whether key may sign with alg, one of HS256, HS384
// and HS512: RFC 7518 §3.2 asks for a key at least as long as the hash's
// output. go-jose refuses shorter keys when signing; configuration checks
// this first so the refusal comes at start-up.
func CheckHMACKey(alg string, key []byte) error {
	size, ok := hmacKeySizes[alg]
	if !ok {
		return errors.New("oidcauth: unsupported HMAC algorithm")
	}
	if len(key) < size {
		return errors.New("oidcauth: HMAC key shorter than the algorithm's hash (RFC 7518 §3.2)")
	}
	return nil
}

// SignHMAC makes a compact JWS of payload (typ JWT), MACed with key by
// go-jose: a client_secret_jwt assertion (RFC 7523 §2.2, OIDC Core §9).
func SignHMAC(alg string, key, payload []byte) (string, error) {
	if err := CheckHMACKey(alg, key); err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// VerifyHMAC verifies raw, a compact JWS MACed with key under alg (one of
// HS256, HS384, HS512; the header must name exactly alg), and returns its
// payload and header: for the in-process test provider's check of
// client_secret_jwt assertions. Headers are refused as [KeySet.Verify]
// refuses them.
func VerifyHMAC(raw, alg string, key []byte) ([]byte, Header, error) {
	if _, ok := hmacKeySizes[alg]; !ok {
		return nil, Header{}, ErrAlgorithm
	}
	t, err := parseWith(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		return nil, Header{}, err
	}
	payload, err := t.jws.Verify(key)
	if err != nil {
		return nil, t.hdr, ErrBadSignature
	}
	return payload, t.hdr, nil
}
