package jose

// The verifier oidcauth used before go-jose did (jws.go and keyset.go of
// v0), kept here only as the reference of FuzzVerifyDifferential: the
// go-jose path must accept and refuse exactly what it did, but for the
// deliberate differences the fuzz target lists.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

var errStdlib = errors.New("stdlib: refused")

// stdlibJWS is a compact JWS split and decoded by the old parser.
type stdlibJWS struct {
	b64           bool // the header has "b64" (v0 ignored it; noted for the fuzz target)
	alg, kid, typ string
	signingInput  string
	payload, sig  []byte
}

// stdlibParse is v0's parseCompactJWS.
func stdlibParse(jwt string) (*stdlibJWS, error) {
	h, rest, ok1 := strings.Cut(jwt, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, errStdlib
	}
	enc := base64.RawURLEncoding.Strict()
	hb, err := enc.DecodeString(h)
	if err != nil {
		return nil, errStdlib
	}
	var hdr map[string]json.RawMessage
	if json.Unmarshal(hb, &hdr) != nil {
		return nil, errStdlib
	}
	if _, crit := hdr["crit"]; crit {
		return nil, errStdlib
	}
	j := &stdlibJWS{signingInput: jwt[:len(h)+1+len(p)]}
	_, j.b64 = hdr["b64"]
	if json.Unmarshal(hdr["alg"], &j.alg) != nil {
		return nil, errStdlib
	}
	if raw, ok := hdr["kid"]; ok && json.Unmarshal(raw, &j.kid) != nil {
		return nil, errStdlib
	}
	if raw, ok := hdr["typ"]; ok && json.Unmarshal(raw, &j.typ) != nil {
		return nil, errStdlib
	}
	if j.payload, err = enc.DecodeString(p); err != nil {
		return nil, errStdlib
	}
	if j.sig, err = enc.DecodeString(s); err != nil {
		return nil, errStdlib
	}
	return j, nil
}

// verify is v0's compactJWS.verify: the standard library, PS* with an
// auto-detected salt length.
func (j *stdlibJWS) verify(key crypto.PublicKey) bool {
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
		if !ok || pub.Curve != stdlibCurve(h) {
			return false
		}
		n := (pub.Curve.Params().BitSize + 7) / 8
		if len(j.sig) != 2*n {
			return false
		}
		r, s := new(big.Int).SetBytes(j.sig[:n]), new(big.Int).SetBytes(j.sig[n:])
		return ecdsa.Verify(pub, digest, r, s)
	}
}

func stdlibCurve(h crypto.Hash) elliptic.Curve {
	switch h {
	case crypto.SHA256:
		return elliptic.P256()
	case crypto.SHA384:
		return elliptic.P384()
	default:
		return elliptic.P521()
	}
}

// stdlibKey is a key as v0's key set held it, and the JWK's "alg", which
// v0 ignored.
type stdlibKey struct {
	kid, alg string
	key      crypto.PublicKey
}

// stdlibVerify is v0's path whole: go-oidc's verifier parsed the token
// with go-jose and checked its algorithm, then v0's key set, its keys
// loaded, parsed it again and verified it: the payload, or an error. With
// bind set, a key whose "alg" is not the token's is passed over, as
// RFC 7517 §4.4 asks and v0 did not do.
func stdlibVerify(keys []stdlibKey, algs []string, jwt string, bind bool) ([]byte, error) {
	var joseAlgs []jose.SignatureAlgorithm
	for _, a := range algs {
		joseAlgs = append(joseAlgs, jose.SignatureAlgorithm(a))
	}
	//lint:ignore SA1019 go-oidc v3.21 parses ID tokens with ParseSigned; this is its gate.
	if jws, err := jose.ParseSigned(jwt, joseAlgs); err != nil || len(jws.Signatures) != 1 {
		return nil, errStdlib
	}
	j, err := stdlibParse(jwt)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if (j.kid != "" && k.kid != j.kid) || (bind && k.alg != "" && k.alg != j.alg) {
			continue
		}
		if j.verify(k.key) {
			return j.payload, nil
		}
	}
	return nil, errStdlib
}
