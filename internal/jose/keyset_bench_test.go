package jose

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkVerify is the key set's cost per token, for an RS256 ID token
// of a typical Logto sign-in's size (about 1 KB of claims): "go-jose" is
// KeySet.Verify, "stdlib" the standard-library key set it replaced
// (stdlib_test.go, without the go-jose parse go-oidc's verifier makes in
// front of both).
//
//	go test -run '^$' -bench BenchmarkVerify -count 6 ./internal/jose
func BenchmarkVerify(b *testing.B) {
	k := keys()
	payload := `{"sub":"u-1","name":"` + strings.Repeat("x", 900) + `","iss":"https://idp.example.com/oidc"}`
	tok := sign(b, `{"alg":"RS256","kid":"k1","typ":"JWT"}`, payload, k.rsa, "RS256", 0)
	set := staticSet(jwk("k1", "RS256", k.rsa.Public()))
	old := []stdlibKey{{kid: "k1", key: k.rsa.Public()}}
	b.Run("go-jose", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := set.Verify(context.Background(), tok, Algorithms); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			j, err := stdlibParse(tok)
			if err != nil || !j.verify(old[0].key) {
				b.Fatal("refused")
			}
		}
	})
}
