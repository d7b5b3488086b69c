package jose

import (
	"bytes"
	"context"
	"crypto"
	"strings"
	"sync"
	"testing"
)

// sigCache keeps the signatures the fuzz target made: RSA signing costs a
// millisecond, and most inputs differ only in the edit made after.
var sigCache struct {
	sync.Mutex
	m map[string][]byte
}

func cachedSign(input string, key crypto.Signer, alg string) ([]byte, error) {
	sigCache.Lock()
	defer sigCache.Unlock()
	if sig, ok := sigCache.m[alg+" "+input]; ok {
		return sig, nil
	}
	sig, err := signInput(input, key, alg, 0)
	if err != nil {
		return nil, err
	}
	if len(sigCache.m) >= 4096 || sigCache.m == nil {
		sigCache.m = map[string][]byte{}
	}
	sigCache.m[alg+" "+input] = sig
	return sig, nil
}

// FuzzVerifyDifferential runs the go-jose path (KeySet.Verify) and v0's
// standard-library path (stdlib_test.go, behind go-oidc's go-jose parse as
// it was) on the same tokens: a fuzzed header and payload signed by one of
// the test keys with a fuzzed algorithm, then edited (a span replaced).
// They must agree on every token, payload included, but for these
// deliberate differences, each a refusal of the go-jose path only:
//   - a JWK's "alg" binds the key (RFC 7517 §4.4): the key set holds the
//     RSA key twice, as "rsa" bound to RS256 and as "rsa-any" unbound;
//   - a header with "b64" is refused (RFC 7797 is not implemented);
//   - a token with CR or LF is refused (v0's decoder skipped them inside
//     the signature).
//
// The go-jose path never accepts a token v0 refused.
func FuzzVerifyDifferential(f *testing.F) {
	k := keys()
	set := staticSet(
		jwk("rsa", "RS256", k.rsa.Public()), jwk("rsa-any", "", k.rsa.Public()),
		jwk("p256", "ES256", k.p256.Public()), jwk("p384", "", k.p384.Public()),
		jwk("p521", "", k.p521.Public()), jwk("ed", "EdDSA", k.ed.Public()),
	)
	var old []stdlibKey
	for _, key := range set.keys {
		old = append(old, stdlibKey{kid: key.KeyID, alg: key.Algorithm, key: key.Key})
	}
	kidFor := map[string]string{"ES256": "p256", "ES384": "p384", "ES512": "p521", "EdDSA": "ed"}
	for i, alg := range Algorithms {
		kid := kidFor[alg]
		if kid == "" {
			kid = "rsa"
		}
		f.Add(`{"alg":"`+alg+`","kid":"`+kid+`"}`, `{"sub":"u-1","aud":"c"}`, uint8(i), uint16(0), "", uint8(0))
		f.Add(`{"alg":"`+alg+`"}`, `{}`, uint8(i), uint16(40), "x", uint8(1))
	}
	f.Add(`{"alg":"PS256","kid":"rsa-any","typ":"JWT"}`, `{"iss":"x"}`, uint8(3), uint16(0), "", uint8(0))
	f.Add(`{"alg":"RS256","Alg":"PS256","kid":"rsa"}`, `{}`, uint8(3), uint16(0), "", uint8(0))
	f.Add(`{"alg":"ES256","b64":false}`, `{}`, uint8(6), uint16(0), "", uint8(0))
	f.Add(`{"alg":"ES256","crit":["exp"],"exp":1}`, `{}`, uint8(6), uint16(0), "", uint8(0))
	f.Add(`{"alg":"ES256","kid":"p256","x5c":["AAAA"]}`, `{}`, uint8(6), uint16(0), "", uint8(0))
	f.Add(`{"alg":"ES256","alg":"RS256"}`, `{}`, uint8(6), uint16(0), "", uint8(0))
	f.Add(`{"alg":"EdDSA","kid":"ed"}`, `{"a":1}`, uint8(9), uint16(300), "\n", uint8(0))
	f.Fuzz(func(t *testing.T, header, payload string, signWith uint8, at uint16, edit string, cut uint8) {
		if len(header)+len(payload)+len(edit) > 2048 {
			return
		}
		alg := Algorithms[int(signWith)%len(Algorithms)]
		input := b64([]byte(header)) + "." + b64([]byte(payload))
		sig, err := cachedSign(input, signerFor(alg), alg)
		if err != nil {
			t.Fatal(err)
		}
		tok := input + "." + b64(sig)
		pos := int(at) % (len(tok) + 1)
		tok = tok[:pos] + edit + tok[min(pos+int(cut%16), len(tok)):]

		got, _, err := set.Verify(context.Background(), tok, Algorithms)
		accepted := err == nil
		was, oldErr := stdlibVerify(old, Algorithms, tok, false)
		bound, boundErr := stdlibVerify(old, Algorithms, tok, true)
		if accepted && oldErr != nil {
			t.Fatalf("go-jose path accepts a token v0 refused: %q", tok)
		}
		if accepted && !bytes.Equal(got, was) {
			t.Fatalf("payloads differ: %q and %q for %q", got, was, tok)
		}
		want := boundErr == nil
		if want && (strings.ContainsAny(tok, "\r\n") || hasB64(tok)) {
			want = false
		}
		if accepted != want {
			t.Fatalf("go-jose path accepted=%v (%v), v0 accepted=%v, v0 with alg binding accepted=%v: %q", accepted, err, oldErr == nil, boundErr == nil, tok)
		}
		if accepted && !bytes.Equal(got, bound) {
			t.Fatalf("payloads differ: %q and %q for %q", got, bound, tok)
		}
	})
}

// hasB64 reports whether v0's parser sees a "b64" header member in tok.
func hasB64(tok string) bool {
	j, err := stdlibParse(tok)
	return err == nil && j.b64
}

// The JWKS parser and the header reader take whatever the provider (or
// anyone posting a token) sends without panicking; every key kept is
// usable.
func FuzzJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"%%%","e":"AQAB"},{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","x5c":["AAAA"],"x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`))
	f.Add([]byte(`{"keys":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, err := parseJWKS(body)
		if err == nil && len(keys) == 0 {
			t.Fatal("a key set with no usable key was accepted")
		}
		if len(keys) > MaxKeys {
			t.Fatalf("%d keys kept", len(keys))
		}
		for i := range keys {
			if !usable(&keys[i]) {
				t.Fatalf("an unusable key was kept: %T", keys[i].Key)
			}
		}
		_, _ = ParseHeader(string(body))
	})
}
