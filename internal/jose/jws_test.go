package jose

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// testKeys are made once per test binary: an RSA-2048 key costs about
// 190 ms.
type testKeys struct {
	rsa              *rsa.PrivateKey
	p256, p384, p521 *ecdsa.PrivateKey
	ed               ed25519.PrivateKey
}

var keys = sync.OnceValue(func() testKeys {
	var k testKeys
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	k.p256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.p384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k.p521, _ = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	return k
})

// signerFor is the test key each algorithm signs with.
func signerFor(alg string) crypto.Signer {
	k := keys()
	switch alg {
	case "ES256":
		return k.p256
	case "ES384":
		return k.p384
	case "ES512":
		return k.p521
	case "EdDSA":
		return k.ed
	}
	return k.rsa
}

// sign makes a compact JWS of header and payload with the standard
// library, independently of the code under test; alg picks the
// algorithm whatever the header says. PS* use saltLen: 0 means the hash's
// length, as RFC 7518 §3.5 requires, saltLongest the longest possible.
func sign(tb testing.TB, header, payload string, key crypto.Signer, alg string, saltLen int) string {
	tb.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	sig, err := signInput(input, key, alg, saltLen)
	if err != nil {
		tb.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

// saltLongest asks sign for the longest PSS salt the key allows.
const saltLongest = -2

func signInput(input string, key crypto.Signer, alg string, saltLen int) ([]byte, error) {
	if alg == "EdDSA" {
		k, ok := key.(ed25519.PrivateKey)
		if !ok {
			return nil, errors.New("EdDSA needs an Ed25519 key")
		}
		return ed25519.Sign(k, []byte(input)), nil
	}
	h := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[alg[2:]]
	d := h.New()
	d.Write([]byte(input))
	digest := d.Sum(nil)
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		n := (k.Curve.Params().BitSize + 7) / 8
		return append(r.FillBytes(make([]byte, n)), s.FillBytes(make([]byte, n))...), err
	case *rsa.PrivateKey:
		if alg[0] == 'P' {
			switch saltLen {
			case 0:
				saltLen = rsa.PSSSaltLengthEqualsHash
			case saltLongest:
				saltLen = rsa.PSSSaltLengthAuto
			}
			return rsa.SignPSS(rand.Reader, k, h, digest, &rsa.PSSOptions{SaltLength: saltLen})
		}
		return rsa.SignPKCS1v15(rand.Reader, k, h, digest)
	}
	return nil, errors.New("no such key")
}

// staticSet is a key set holding keys, loaded, that never fetches.
func staticSet(keys ...jose.JSONWebKey) *KeySet {
	k := NewKeySet("http://127.0.0.1:1/never", nil, nil)
	k.keys, k.loaded = keys, true
	k.nextFetch = k.now().Add(1 << 62)
	return k
}

func jwk(kid, alg string, pub crypto.PublicKey) jose.JSONWebKey {
	return jose.JSONWebKey{KeyID: kid, Algorithm: alg, Key: pub}
}

// Each algorithm verifies with its key only, and not once a bit of the
// signature or the signed input changes.
func TestVerifyAlgorithms(t *testing.T) {
	k := keys()
	pubs := []crypto.PublicKey{k.rsa.Public(), k.p256.Public(), k.p384.Public(), k.p521.Public(), k.ed.Public()}
	owner := map[string]int{"ES256": 1, "ES384": 2, "ES512": 3, "EdDSA": 4} // the others: 0
	ctx := context.Background()
	for _, alg := range Algorithms {
		tok := sign(t, `{"alg":"`+alg+`","kid":"k1"}`, `{"sub":"u-1"}`, signerFor(alg), alg, 0)
		for i, pub := range pubs {
			payload, hdr, err := staticSet(jwk("k1", "", pub)).Verify(ctx, tok, Algorithms)
			if want := i == owner[alg]; (err == nil) != want {
				t.Errorf("%s with a %T key: err %v", alg, pub, err)
			} else if want && (string(payload) != `{"sub":"u-1"}` || hdr != (Header{Alg: alg, KeyID: "k1"})) {
				t.Errorf("%s: payload %s, header %+v", alg, payload, hdr)
			}
		}
		set := staticSet(jwk("k1", "", signerFor(alg).Public()))
		sig := strings.LastIndexByte(tok, '.')
		for name, bad := range map[string]string{
			"signature": tok[:sig+5] + flip(tok[sig+5]) + tok[sig+6:],
			"payload":   tok[:sig-3] + flip(tok[sig-3]) + tok[sig-2:],
		} {
			if _, _, err := set.Verify(ctx, bad, Algorithms); !errors.Is(err, ErrBadSignature) {
				t.Errorf("%s: a changed %s gave %v, want ErrBadSignature", alg, name, err)
			}
		}
	}
	// An ES256 signature of the wrong length, and one of zeros.
	good := sign(t, `{"alg":"ES256"}`, `{}`, k.p256, "ES256", 0)
	set := staticSet(jwk("", "", k.p256.Public()))
	head := good[:strings.LastIndexByte(good, '.')+1]
	for _, sig := range [][]byte{make([]byte, 63), make([]byte, 64), append(new(big.Int).FillBytes(make([]byte, 32)), make([]byte, 32)...)} {
		if _, _, err := set.Verify(ctx, head+base64.RawURLEncoding.EncodeToString(sig), Algorithms); err == nil {
			t.Errorf("an ES256 signature of %d zero bytes verified", len(sig))
		}
	}
}

// flip changes one base64url character into another.
func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// RFC 7517 §4.4: a JWK's "alg" binds the key. A key published for RS256
// verifies RS256 signatures only, not PS256, RS384 or RS512 ones made
// with the same RSA key (v0 verified them all).
func TestJWKAlgBindsKey(t *testing.T) {
	k := keys()
	set := staticSet(jwk("k1", "RS256", k.rsa.Public()))
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
		tok := sign(t, `{"alg":"`+alg+`","kid":"k1"}`, `{}`, k.rsa, alg, 0)
		_, _, err := set.Verify(context.Background(), tok, Algorithms)
		if alg == "RS256" && err != nil {
			t.Errorf("RS256: %v", err)
		}
		if alg != "RS256" && !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s verified with a key published for RS256 (err %v)", alg, err)
		}
	}
	// Without "alg" the key serves every RSA algorithm.
	tok := sign(t, `{"alg":"PS384","kid":"k1"}`, `{}`, k.rsa, "PS384", 0)
	if _, _, err := staticSet(jwk("k1", "", k.rsa.Public())).Verify(context.Background(), tok, Algorithms); err != nil {
		t.Errorf("PS384 with a key without alg: %v", err)
	}
}

// RFC 7518 §3.5: a PS* signature's salt is as long as the hash. go-jose
// v4.1.9 alone takes any salt length (crypto/rsa's auto-detection: this
// test fails without pssSaltIsHashLength); Verify refuses the others.
func TestPSSSaltLength(t *testing.T) {
	k := keys()
	set := staticSet(jwk("k1", "", k.rsa.Public()))
	for _, alg := range []string{"PS256", "PS384", "PS512"} {
		for _, tc := range []struct {
			name string
			salt int // 0: the hash's length
			ok   bool
		}{
			{"hash length", 0, true},
			{"one byte", 1, false},
			{"longest", saltLongest, false},
		} {
			tok := sign(t, `{"alg":"`+alg+`","kid":"k1"}`, `{}`, k.rsa, alg, tc.salt)
			if _, _, err := set.Verify(context.Background(), tok, Algorithms); (err == nil) != tc.ok {
				t.Errorf("%s, salt %s: err %v", alg, tc.name, err)
			}
		}
	}
}

// The algorithm must be one the caller allows, exactly.
func TestVerifyAllowedAlgorithms(t *testing.T) {
	k := keys()
	set := staticSet(jwk("k1", "", k.p256.Public()))
	tok := sign(t, `{"alg":"ES256","kid":"k1"}`, `{}`, k.p256, "ES256", 0)
	for _, algs := range [][]string{{"RS256"}, {"es256"}, nil} {
		if _, _, err := set.Verify(context.Background(), tok, algs); !errors.Is(err, ErrAlgorithm) {
			t.Errorf("allowed %v: err %v, want ErrAlgorithm", algs, err)
		}
	}
	if _, _, err := set.Verify(context.Background(), tok, []string{"RS256", "ES256"}); err != nil {
		t.Error(err)
	}
}

func TestParseRejects(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	good := sign(t, `{"alg":"ES256"}`, `{}`, keys().p256, "ES256", 0)
	sig := good[strings.LastIndexByte(good, '.'):]
	for name, jwt := range map[string]string{
		"empty":              "",
		"two segments":       "eyJhbGciOiJFUzI1NiJ9.e30",
		"four segments":      good + ".x",
		"crit header":        enc([]byte(`{"alg":"ES256","crit":["b64"],"b64":false}`)) + ".e30" + sig,
		"b64 header":         enc([]byte(`{"alg":"ES256","b64":true}`)) + ".e30" + sig,
		"header not b64":     "e!.e30" + sig,
		"header not JSON":    enc([]byte(`nope`)) + ".e30" + sig,
		"padded payload":     "eyJhbGciOiJFUzI1NiJ9.e30=" + sig,
		"space":              "eyJhbGciOiJFUzI1NiJ9 .e30" + sig,
		"line break":         "eyJhbGciOiJFUzI1NiJ9.e3\n0" + sig,
		"stray bits":         "eyJhbGciOiJFUzI1NiJ9.e31" + sig,
		"no alg":             enc([]byte(`{"kid":"k"}`)) + ".e30" + sig,
		"alg none":           enc([]byte(`{"alg":"none"}`)) + ".e30.",
		"alg HS256":          enc([]byte(`{"alg":"HS256"}`)) + ".e30" + sig,
		"alg lower case":     enc([]byte(`{"alg":"es256"}`)) + ".e30" + sig,
		"kid not a string":   enc([]byte(`{"alg":"ES256","kid":7}`)) + ".e30" + sig,
		"typ not a string":   enc([]byte(`{"alg":"ES256","typ":["JWT"]}`)) + ".e30" + sig,
		"JSON serialization": `{"payload":"e30","protected":"eyJhbGciOiJFUzI1NiJ9","signature":"c2ln"}`,
	} {
		if h, err := ParseHeader(jwt); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: header %+v, err %v; want ErrMalformed", name, h, err)
		}
	}
}

func TestParseHeader(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, tc := range []struct {
		header string
		want   Header
	}{
		{`{"alg":"RS256","kid":"k1"}`, Header{Alg: "RS256", KeyID: "k1"}},
		{`{"alg":"RS256"}`, Header{Alg: "RS256"}},
		{`{"alg":"ES384","typ":"logout+jwt","kid":""}`, Header{Alg: "ES384", Type: "logout+jwt"}},
		// Names are matched exactly: "Alg", "KID" and "Typ" are not ours.
		{`{"alg":"RS256","Alg":"PS256","KID":"x","kid":"k1","Typ":"JWT"}`, Header{Alg: "RS256", KeyID: "k1"}},
	} {
		h, err := ParseHeader(enc([]byte(tc.header)) + ".e30.c2ln")
		if err != nil || h != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.header, h, err, tc.want)
		}
	}
}

// A header with both "alg" and "Alg" is verified under "alg" only.
func TestHeaderNamesExact(t *testing.T) {
	k := keys()
	tok := sign(t, `{"alg":"RS256","Alg":"PS256","KID":"x","kid":"k1"}`, `{}`, k.rsa, "PS256", 0)
	if _, _, err := staticSet(jwk("k1", "", k.rsa.Public())).Verify(context.Background(), tok, Algorithms); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a PS256 signature under the header's RS256: err %v, want ErrBadSignature", err)
	}
}

func TestVerifyKey(t *testing.T) {
	k := keys()
	tok := sign(t, `{"alg":"ES256","kid":"k1"}`, `{"sub":"u-1"}`, k.p256, "ES256", 0)
	if payload, hdr, err := VerifyKey(tok, []string{"ES256"}, k.p256.Public()); err != nil || string(payload) != `{"sub":"u-1"}` || hdr.KeyID != "k1" {
		t.Errorf("own key: %s, %+v, %v", payload, hdr, err)
	}
	if _, _, err := VerifyKey(tok, []string{"RS256"}, k.p256.Public()); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("algorithm not allowed: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, _, err := VerifyKey(tok, []string{"ES256"}, other.Public()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("another key: %v", err)
	}
}
