package oidcauthtest

import (
	"crypto"
	"testing"

	"github.com/oidcauth/oidcauth/internal/jose"
)

// Providers share the pool's key material but never a key id; a rotation
// brings a key the provider never had, and an "unknown key" is one no
// provider publishes.
func TestKeysFromThePool(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256", "ES384"} {
		t.Run(alg, func(t *testing.T) {
			a, errA := New("https://a.example.com/oidc", Options{SigningAlg: alg})
			b, errB := New("https://b.example.com/oidc", Options{SigningAlg: alg})
			if errA != nil || errB != nil {
				t.Fatal(errA, errB)
			}
			if a.keys[0].kid == b.keys[0].kid {
				t.Errorf("two providers share the key id %q", a.keys[0].kid)
			}
			if !samePublic(a.keys[0].priv, b.keys[0].priv) {
				t.Error("two providers' first keys differ: not from the pool")
			}
			for range 2 {
				if err := a.RotateKey(); err != nil {
					t.Fatal(err)
				}
			}
			for i, k := range a.keys {
				for _, earlier := range a.keys[:i] {
					if samePublic(k.priv, earlier.priv) || k.kid == earlier.kid {
						t.Errorf("key %d repeats an earlier key or key id", i)
					}
				}
			}

			raw, err := a.jwt(map[string]any{"iss": a.issuer, "aud": DefaultClientID}, "JWT", Misbehavior{SignWithUnknownKey: true})
			if err != nil {
				t.Fatal(err)
			}
			if a.ownIDToken(raw) {
				t.Error("a token signed with the unknown key passes as the provider's own")
			}
			for i, k := range append(a.keys, b.keys...) {
				if _, _, err := jose.VerifyKey(raw, []string{k.alg}, k.priv.Public()); err == nil {
					t.Errorf("published key %d verifies the unknown key's signature", i)
				}
			}
		})
	}
}

func samePublic(a, b crypto.Signer) bool {
	return a.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(b.Public())
}

// BenchmarkNew is what a test pays for a provider once the pool holds its
// key: no key generation.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New("https://idp.example.com/oidc", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
