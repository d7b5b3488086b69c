package oidcauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"testing"
)

// signJWS makes a compact JWS with the standard library, independently of
// the code under test.
func signJWS(t *testing.T, header string, key crypto.Signer, alg string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(`{"sub":"u-1"}`))
	var h crypto.Hash
	switch alg[2:] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	case "512":
		h = crypto.SHA512
	}
	var sig []byte
	var err error
	switch alg[0] {
	case 'E':
		if alg == "EdDSA" {
			sig = ed25519.Sign(key.(ed25519.PrivateKey), []byte(input))
			break
		}
		d := h.New()
		d.Write([]byte(input))
		r, s, e := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), d.Sum(nil))
		err = e
		n := (key.(*ecdsa.PrivateKey).Curve.Params().BitSize + 7) / 8
		sig = append(r.FillBytes(make([]byte, n)), s.FillBytes(make([]byte, n))...)
	case 'R':
		d := h.New()
		d.Write([]byte(input))
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), h, d.Sum(nil))
	case 'P':
		d := h.New()
		d.Write([]byte(input))
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), h, d.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

func TestCompactJWSVerify(t *testing.T) {
	t.Parallel()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	keys := map[string]crypto.Signer{
		"RS256": rsaKey, "RS384": rsaKey, "RS512": rsaKey, "PS256": rsaKey, "PS384": rsaKey, "PS512": rsaKey,
		"ES256": p256, "ES384": p384, "ES512": p521, "EdDSA": edKey,
	}
	others := []crypto.PublicKey{rsaKey.Public(), p256.Public(), p384.Public(), p521.Public(), edKey.Public()}
	// The one key among others that each algorithm's signatures verify with.
	owner := map[string]int{"ES256": 1, "ES384": 2, "ES512": 3, "EdDSA": 4}
	for alg, key := range keys {
		tok := signJWS(t, `{"alg":"`+alg+`","kid":"k1"}`, key, alg)
		j, err := parseCompactJWS(tok)
		if err != nil || j.alg != alg || j.kid != "k1" || string(j.payload) != `{"sub":"u-1"}` {
			t.Fatalf("%s: parse = %+v, %v", alg, j, err)
		}
		for i, other := range others {
			if got, want := j.verify(other), i == owner[alg]; got != want {
				t.Errorf("%s with a %T key: verify = %v", alg, other, got)
			}
		}
		// A flipped bit in the signature, the payload, or the header's alg.
		j.sig[len(j.sig)/2] ^= 1
		if j.verify(key.Public()) {
			t.Errorf("%s: a corrupted signature verified", alg)
		}
		j.sig[len(j.sig)/2] ^= 1
		j.signingInput += "x"
		if j.verify(key.Public()) {
			t.Errorf("%s: a changed signing input verified", alg)
		}
	}
	for _, alg := range []string{"none", "HS256", "RS1", ""} {
		j := &compactJWS{alg: alg, signingInput: "a.b", sig: []byte("s")}
		if j.verify(rsaKey.Public()) {
			t.Errorf("alg %q verified", alg)
		}
	}
	// An ES256 signature of the wrong length, and one with R = 0.
	tok, _ := parseCompactJWS(signJWS(t, `{"alg":"ES256"}`, p256, "ES256"))
	tok.sig = tok.sig[:63]
	if tok.verify(p256.Public()) {
		t.Error("a short ES256 signature verified")
	}
	tok.sig = append(new(big.Int).FillBytes(make([]byte, 32)), make([]byte, 32)...)
	if tok.verify(p256.Public()) {
		t.Error("a zero ES256 signature verified")
	}
}

func TestParseCompactJWSRejects(t *testing.T) {
	t.Parallel()
	good := signJWS(t, `{"alg":"ES256"}`, mustP256(t), "ES256")
	for name, jwt := range map[string]string{
		"two segments":    "eyJhbGciOiJFUzI1NiJ9.e30",
		"four segments":   good + ".x",
		"crit header":     base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","crit":["b64"],"b64":false}`)) + ".e30.c2ln",
		"header not b64":  "e!.e30.c2ln",
		"header not JSON": base64.RawURLEncoding.EncodeToString([]byte(`nope`)) + ".e30.c2ln",
		"padded payload":  "eyJhbGciOiJFUzI1NiJ9.e30=.c2ln",
		"whitespace":      "eyJhbGciOiJFUzI1NiJ9 .e30.c2ln",
		"no alg":          base64.RawURLEncoding.EncodeToString([]byte(`{"kid":"k"}`)) + ".e30.c2ln",
	} {
		if _, err := parseCompactJWS(jwt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func mustP256(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// go-jose checks the exact "alg" against the allowed list; a header that
// also carries "Alg" must be verified with that same "alg", never the
// other.
func TestCompactJWSHeaderNamesExact(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tok := signJWS(t, `{"alg":"RS256","Alg":"PS256","KID":"x","kid":"k1"}`, rsaKey, "PS256")
	j, err := parseCompactJWS(tok)
	if err != nil {
		t.Fatal(err)
	}
	if j.alg != "RS256" || j.kid != "k1" {
		t.Errorf("alg %q, kid %q: header names were not matched exactly", j.alg, j.kid)
	}
	if j.verify(rsaKey.Public()) {
		t.Error("a PS256 signature verified under the header's RS256")
	}
}
