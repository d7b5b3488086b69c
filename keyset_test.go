package oidcauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// Which keys of a JWKS are kept: usable signing keys only, each judged on
// its own (RFC 7517 §5), never more than maxKeys.
func TestParseJWKS(t *testing.T) {
	t.Parallel()
	b64 := base64.RawURLEncoding.EncodeToString
	signRS256(t, nil) // makes rsaKey, a 2048-bit key
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecPoint, _ := ec.PublicKey.Bytes() // 0x04 | X | Y
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaJWK := func(kid string, k *rsa.PublicKey) string {
		return fmt.Sprintf(`{"kty":"RSA","kid":%q,"n":%q,"e":%q}`, kid, b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes()))
	}
	good := rsaJWK("rsa", &rsaKey.PublicKey)
	ecJWK := fmt.Sprintf(`{"kty":"EC","kid":"ec","crv":"P-256","x":%q,"y":%q}`, b64(ecPoint[1:33]), b64(ecPoint[33:]))
	edJWK := fmt.Sprintf(`{"kty":"OKP","kid":"ed","crv":"Ed25519","x":%q}`, b64(edPub))
	for _, tc := range []struct {
		name string
		keys []string
		want []string // kids kept, in order; nil means an error
	}{
		{"RSA, EC and Ed25519", []string{good, ecJWK, edJWK}, []string{"rsa", "ec", "ed"}},
		{"RSA under 2048 bits skipped", []string{rsaJWK("weak", &weak.PublicKey), good}, []string{"rsa"}},
		{"encryption key skipped", []string{strings.Replace(good, `"kty"`, `"use":"enc","kty"`, 1), ecJWK}, []string{"ec"}},
		{"symmetric key skipped", []string{`{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}`, ecJWK}, []string{"ec"}},
		{"point off the curve skipped", []string{strings.Replace(ecJWK, b64(ecPoint[33:]), b64(make([]byte, 32)), 1), good}, []string{"rsa"}},
		{"even exponent skipped", []string{strings.Replace(good, `"e":"AQAB"`, `"e":"AQAA"`, 1), ecJWK}, []string{"ec"}},
		{"not even an object skipped", []string{`"x"`, `[1]`, ecJWK}, []string{"ec"}},
		{"nothing usable", []string{`{"kty":"oct","k":"c2VjcmV0"}`}, nil},
		{"empty set", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := parseJWKS([]byte(`{"keys":[` + strings.Join(tc.keys, ",") + `]}`))
			if tc.want == nil {
				if err == nil {
					t.Fatalf("kept %d keys, want an error", len(keys))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.kid)
			}
			if strings.Join(kids, ",") != strings.Join(tc.want, ",") {
				t.Errorf("kept %v, want %v", kids, tc.want)
			}
		})
	}
	var many []string
	for range maxKeys + 10 {
		many = append(many, ecJWK)
	}
	if keys, _ := parseJWKS([]byte(`{"keys":[` + strings.Join(many, ",") + `]}`)); len(keys) != maxKeys {
		t.Errorf("kept %d keys of %d, want %d", len(keys), len(many), maxKeys)
	}
	if _, err := parseJWKS([]byte(`<html>`)); err == nil {
		t.Error("an HTML page parsed as a key set")
	}
}

func TestCompactJWSKeyID(t *testing.T) {
	t.Parallel()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	for _, tc := range []struct {
		jwt  string
		kid  string
		fail bool
	}{
		{enc(map[string]string{"alg": "RS256", "kid": "k1"}) + ".e30.sig", "k1", false},
		{enc(map[string]string{"alg": "RS256"}) + ".e30.sig", "", false},
		{enc(map[string]any{"alg": "RS256", "kid": 7}) + ".e30.sig", "", true},
		{"not-base64!.e30.sig", "", true},
		{"no-dots", "", true},
	} {
		j, err := parseCompactJWS(tc.jwt)
		if (err != nil) != tc.fail || (err == nil && j.kid != tc.kid) {
			t.Errorf("parseCompactJWS(%q) = %+v, %v", tc.jwt, j, err)
		}
	}
}
