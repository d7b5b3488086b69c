package oidcauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/oidcauth/oidcauth/oidcauthtest"
)

var sinkBearer *BearerToken

// bearerHandler is the protected API handler: it reads the principal, as
// APIs do.
var bearerHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	sinkBearer, _ = BearerTokenFromContext(r.Context())
})

// benchAPI returns a Bearer for a provider signing with alg, already
// discovered with its keys loaded, a request carrying a typical access
// token (scopes, a jti, about 1 KB signed with RS256), and the provider.
func benchAPI(b *testing.B, alg string, cacheSize int) (*Bearer, *http.Request, *oidcauthtest.Provider) {
	b.Helper()
	idp := oidcauthtest.NewServer(b, oidcauthtest.Options{SigningAlg: alg})
	bearer, err := NewBearer(BearerConfig{Issuer: idp.Issuer(), Resource: testAPI, HTTPClient: idp.Client(), CacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := idp.IssueAccessToken(oidcauthtest.AccessToken{Audience: testAPI, Scopes: []string{"read:data", "write:data", "read:orders"}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := bearer.Verify(b.Context(), tok); err != nil { // discovery and JWKS
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "https://api.example.com/api/resource", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return bearer, r, idp
}

// BenchmarkBearer measures RequireToken in front of a handler that reads
// the principal. "repeated" is a token the API has seen before (the
// verified-token cache: target at most 1 µs and 5 allocs); "first-seen"
// verifies every time (the cache off), which is one signature check plus
// the parse and claims: compare it with "signature-only", go-jose
// verifying the same token's signature with the key in hand. RS256 is
// the common default, ES384 Logto's. Run:
//
//	go test -run '^$' -bench BenchmarkBearer -count 10 . | benchstat -
func BenchmarkBearer(b *testing.B) {
	b.Run("repeated", func(b *testing.B) {
		bearer, r, _ := benchAPI(b, "RS256", 0)
		benchServe(b, bearer, r)
	})
	for _, alg := range []string{"RS256", "ES384"} {
		b.Run("first-seen/"+alg, func(b *testing.B) {
			bearer, r, _ := benchAPI(b, alg, -1)
			benchServe(b, bearer, r)
		})
		b.Run("signature-only/"+alg, func(b *testing.B) {
			_, r, idp := benchAPI(b, alg, -1)
			raw := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			key := publishedKey(b, idp)
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.Verify(key); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
}

// benchServe measures RequireToken serving r, after checking that it
// accepts r's token.
func benchServe(b *testing.B, bearer *Bearer, r *http.Request) {
	h := bearer.RequireToken(bearerHandler)
	w := nopWriter{h: http.Header{}}
	sinkBearer = nil
	h.ServeHTTP(w, r)
	if sinkBearer == nil {
		b.Fatal("token refused")
	}
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
	cpu.report(b)
}

// publishedKey is the provider's one signing key, from its JWKS.
func publishedKey(b *testing.B, idp *oidcauthtest.Provider) *jose.JSONWebKey {
	b.Helper()
	resp, err := idp.Client().Get(idp.Issuer() + "/jwks")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) != 1 {
		b.Fatalf("JWKS: %v", err)
	}
	return &set.Keys[0]
}

// TestBearerRepeatedTokenAllocations holds the repeated token's
// allocation target in every test run, not only when benchmarks run.
func TestBearerRepeatedTokenAllocations(t *testing.T) {
	// Not parallel: AllocsPerRun counts the allocations of the whole process.
	a := newAPI(t, oidcauthtest.Options{}, nil)
	h := a.bearer.RequireToken(bearerHandler)
	r := httptest.NewRequest("GET", "/api/resource", nil)
	r.Header.Set("Authorization", "Bearer "+a.token(oidcauthtest.AccessToken{Scopes: []string{"read:data"}}))
	w := nopWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	if sinkBearer == nil {
		t.Fatal("token refused")
	}
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n > 5 {
		t.Errorf("a repeated token costs %v allocations, target at most 5", n)
	}
}
