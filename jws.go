package oidcauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"

	_ "crypto/sha256" // SHA-256 for RS256, PS256, ES256
	_ "crypto/sha512" // SHA-384 and SHA-512 for the others
)

// compactJWS is a JWS in compact serialization (RFC 7515 §7.1), split and
// decoded once. go-oidc's verifier has already parsed the token and checked
// its algorithm against the allowed list before it asks the key set; the
// key set used to parse it twice more (go-jose's parser strips whitespace
// byte by byte), which was a third of a sign-in's CPU. The signature is
// checked here with the standard library instead.
type compactJWS struct {
	alg, kid     string
	typ          string // the header's typ, when there is one
	signingInput string // header.payload, as signed
	payload      []byte
	sig          []byte
}

// parseCompactJWS splits and decodes jwt. It refuses anything but three
// base64url segments, and a header with "crit" (RFC 7515 §4.1.11: no
// extension is understood here).
func parseCompactJWS(jwt string) (*compactJWS, error) {
	h, rest, ok1 := strings.Cut(jwt, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, errBadKeyID
	}
	enc := base64.RawURLEncoding.Strict()
	hb, err := enc.DecodeString(h)
	if err != nil {
		return nil, errBadKeyID
	}
	// Header names are matched exactly, as go-jose matches them when it
	// checks "alg" against the allowed list: encoding/json's struct
	// decoding would also take "Alg" or "ALG", so a header carrying both
	// could pass that check with one algorithm and be verified with
	// another.
	var hdr map[string]json.RawMessage
	if json.Unmarshal(hb, &hdr) != nil {
		return nil, errBadKeyID
	}
	if _, crit := hdr["crit"]; crit {
		return nil, errBadKeyID
	}
	j := &compactJWS{signingInput: jwt[:len(h)+1+len(p)]}
	if json.Unmarshal(hdr["alg"], &j.alg) != nil {
		return nil, errBadKeyID
	}
	if raw, ok := hdr["kid"]; ok && json.Unmarshal(raw, &j.kid) != nil {
		return nil, errBadKeyID
	}
	if raw, ok := hdr["typ"]; ok && json.Unmarshal(raw, &j.typ) != nil {
		return nil, errBadKeyID
	}
	if j.payload, err = enc.DecodeString(p); err != nil {
		return nil, errBadKeyID
	}
	if j.sig, err = enc.DecodeString(s); err != nil {
		return nil, errBadKeyID
	}
	return j, nil
}

// verify reports whether key signed j with j's algorithm; a key of another
// type or curve than the algorithm's never does (RFC 7518 §3).
func (j *compactJWS) verify(key crypto.PublicKey) bool {
	var h crypto.Hash
	switch j.alg {
	case "RS256", "PS256", "ES256":
		h = crypto.SHA256
	case "RS384", "PS384", "ES384":
		h = crypto.SHA384
	case "RS512", "PS512", "ES512":
		h = crypto.SHA512
	case "EdDSA":
		pub, ok := key.(ed25519.PublicKey)
		return ok && ed25519.Verify(pub, []byte(j.signingInput), j.sig)
	default:
		return false
	}
	d := h.New()
	d.Write([]byte(j.signingInput))
	digest := d.Sum(nil)
	switch j.alg[0] {
	case 'R':
		pub, ok := key.(*rsa.PublicKey)
		return ok && rsa.VerifyPKCS1v15(pub, h, digest, j.sig) == nil
	case 'P':
		pub, ok := key.(*rsa.PublicKey)
		return ok && rsa.VerifyPSS(pub, h, digest, j.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	default: // 'E'
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok || pub.Curve != curveFor(h) {
			return false
		}
		// RFC 7518 §3.4: R and S as fixed-size big-endian integers.
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(j.sig) != 2*n {
			return false
		}
		r, s := new(big.Int).SetBytes(j.sig[:n]), new(big.Int).SetBytes(j.sig[n:])
		return ecdsa.Verify(pub, digest, r, s)
	}
}

// curveFor is the curve each ES algorithm is defined on (RFC 7518 §3.4).
func curveFor(h crypto.Hash) elliptic.Curve {
	switch h {
	case crypto.SHA256:
		return elliptic.P256()
	case crypto.SHA384:
		return elliptic.P384()
	default:
		return elliptic.P521()
	}
}
