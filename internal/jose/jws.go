// Package jose holds the JOSE leaves of oidcauth: the provider's key set
// (JWKS fetched lazily, an unknown key id refetching at most once per
// cooldown, keys kept through outages, bad keys skipped), compact-JWS
// parsing and verification, and the HMAC signing of client_secret_jwt
// assertions.
//
// Every JWK is parsed, and every signature made and verified, by go-jose
// (github.com/go-jose/go-jose/v4), as go-oidc's own key set does. What
// this package adds is policy: which algorithms and keys are acceptable
// (asymmetric only; RSA of 2048 bits or more; a JWK's "alg" binds the key),
// which headers and spellings are refused, and, for PS* signatures go-jose
// has accepted, a second look that requires the salt length RFC 7518 §3.5
// fixes (go-jose v4 lets crypto/rsa auto-detect it).
//
// Two entry points verify a signature:
//   - [KeySet.VerifySignature] implements go-oidc's oidc.KeySet, for
//     go-oidc's IDTokenVerifier, which checks the algorithm list, iss, aud
//     and exp around it (ID tokens, logout tokens).
//   - [KeySet.Verify] checks the algorithm against the caller's list and
//     returns the payload and header, for callers that check the claims
//     themselves (a bearer access token, RFC 9068).
package jose

import (
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	_ "crypto/sha256" // SHA-256 for the PS256 salt check
	_ "crypto/sha512" // SHA-384 and SHA-512 for PS384 and PS512
)

// Algorithms are the JWS algorithms a [KeySet] verifies: asymmetric ones
// only. "none" and HMAC (whose key would be the client secret, known to
// more than the provider) are never accepted (OIDC Core §3.1.3.7 items
// 6–8).
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// joseAlgorithms is Algorithms as go-jose names them, for its parser.
var joseAlgorithms = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(Algorithms))
	for i, a := range Algorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()

var (
	// ErrMalformed: not a compact JWS of an accepted algorithm, or a
	// header this package refuses.
	ErrMalformed = errors.New("oidcauth: token is not a compact JWS with an accepted header")
	// ErrAlgorithm: the header's alg is not one the caller allows.
	ErrAlgorithm = errors.New("oidcauth: token signed with an algorithm that is not allowed")
	// ErrUnknownKey: no key of the provider's JWKS has the token's kid
	// (yet: a refetch may bring it, after the cooldown).
	ErrUnknownKey = errors.New("oidcauth: token signed with a key the provider does not publish")
	// ErrNoKeys: no JWKS has loaded yet; the fetch is retried shortly.
	ErrNoKeys = errors.New("oidcauth: the provider's JWKS could not be loaded; retrying shortly")
	// ErrBadSignature: a key the token names is held and the signature
	// does not verify with it (or the key is bound to another algorithm).
	ErrBadSignature = errors.New("oidcauth: signature does not verify")
)

// Header is what a compact JWS's protected header says of itself. Names
// are matched exactly (go-jose reads the header as a map): a header with
// both "alg" and "Alg" is read and verified under "alg" only.
type Header struct {
	Alg   string // "alg"
	KeyID string // "kid", empty when absent
	Type  string // "typ", empty when absent
}

// token is a compact JWS parsed by go-jose, not yet verified.
type token struct {
	hdr Header
	jws *jose.JSONWebSignature
	raw string
}

// ParseHeader reads the header of a compact JWS signed with one of
// [Algorithms], without verifying anything: for checks that come before
// the key set is at hand (a logout token's typ).
func ParseHeader(raw string) (Header, error) {
	t, err := parse(raw)
	if err != nil {
		return Header{}, err
	}
	return t.hdr, nil
}

// parse parses raw with go-jose and reads its header. It refuses:
//   - anything but one canonical compact serialization: three base64url
//     segments without padding, line breaks or stray low bits (the
//     decoders skip CR and LF and ignore stray bits, so one signed token
//     would have several spellings);
//   - an algorithm outside [Algorithms];
//   - "crit" (RFC 7515 §4.1.11: no extension is understood here) and
//     "b64" (RFC 7797: the payload is always base64url here; go-jose
//     would honour "b64": false even without "crit", which RFC 7797 §6
//     forbids);
//   - a "typ" that is not a string.
func parse(raw string) (*token, error) {
	return parseWith(raw, joseAlgorithms)
}

// parseWith is parse for the algorithms algs.
func parseWith(raw string, algs []jose.SignatureAlgorithm) (*token, error) {
	if strings.ContainsAny(raw, "\r\n") || !canonical(raw) {
		return nil, ErrMalformed
	}
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrMalformed
	}
	h := jws.Signatures[0].Header
	t := &token{hdr: Header{Alg: h.Algorithm, KeyID: h.KeyID}, jws: jws, raw: raw}
	for k, v := range h.ExtraHeaders {
		switch k {
		case "crit", "b64":
			return nil, ErrMalformed
		case jose.HeaderType:
			s, ok := v.(string)
			if !ok {
				return nil, ErrMalformed
			}
			t.hdr.Type = s
		}
	}
	return t, nil
}

// canonical reports whether each dot-separated segment of raw ends in a
// quantum the strict decoder takes: go-jose's decoder would also take
// stray low bits in the last character. The other characters are checked
// by go-jose's decoding.
func canonical(raw string) bool {
	strict := base64.RawURLEncoding.Strict()
	for seg := range strings.SplitSeq(raw, ".") {
		if tail := seg[len(seg)-len(seg)%4:]; tail != "" {
			if _, err := strict.DecodeString(tail); err != nil {
				return false
			}
		}
	}
	return true
}

// verify reports whether key signed t. A JWK's "alg", when present, binds
// the key to that algorithm (RFC 7517 §4.4): a key published for RS256
// verifies nothing else. The signature itself is go-jose's to check.
func (t *token) verify(key *jose.JSONWebKey) ([]byte, bool) {
	if key.Algorithm != "" && key.Algorithm != t.hdr.Alg {
		return nil, false
	}
	payload, err := t.jws.Verify(key.Key)
	if err != nil {
		return nil, false
	}
	if strings.HasPrefix(t.hdr.Alg, "PS") && !t.pssSaltIsHashLength(key.Key) {
		return nil, false
	}
	return payload, true
}

// pssSaltIsHashLength is a second, stricter look at a PS* signature that
// go-jose has already accepted: RFC 7518 §3.5 fixes the salt length to the
// hash's, but go-jose v4 verifies with crypto/rsa's auto-detected salt
// length (nil PSSOptions). This only ever refuses more than go-jose does.
// The signing input is the token up to its last dot: parse admits one
// canonical spelling only, so it is exactly what go-jose verified.
func (t *token) pssSaltIsHashLength(key crypto.PublicKey) bool {
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return false
	}
	var h crypto.Hash
	switch t.hdr.Alg {
	case "PS256":
		h = crypto.SHA256
	case "PS384":
		h = crypto.SHA384
	case "PS512":
		h = crypto.SHA512
	default:
		return false
	}
	d := h.New()
	d.Write([]byte(t.raw[:strings.LastIndexByte(t.raw, '.')]))
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
	return rsa.VerifyPSS(pub, h, d.Sum(nil), t.jws.Signatures[0].Signature, opts) == nil
}

// allowed reports whether alg is in algs (an exact match).
func allowed(algs []string, alg string) bool {
	return slices.Contains(algs, alg)
}

// VerifyKey verifies raw, a compact JWS whose alg must be one of algs (and
// of [Algorithms]), with key, a public key go-jose takes (*rsa.PublicKey,
// *ecdsa.PublicKey, ed25519.PublicKey), and returns the payload and the
// header: for the in-process test provider, which checks tokens it signed
// itself and has no JWKS to fetch.
func VerifyKey(raw string, algs []string, key crypto.PublicKey) ([]byte, Header, error) {
	t, err := parse(raw)
	if err != nil {
		return nil, Header{}, err
	}
	if !allowed(algs, t.hdr.Alg) {
		return nil, t.hdr, ErrAlgorithm
	}
	payload, ok := t.verify(&jose.JSONWebKey{Key: key})
	if !ok {
		return nil, t.hdr, ErrBadSignature
	}
	return payload, t.hdr, nil
}
