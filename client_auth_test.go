package oidcauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strings"
	"testing"
	"time"
)

// verifyHS checks a compact HMAC JWS the way a provider would.
func verifyHS(t *testing.T, jwt, alg string, key []byte) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %d parts", len(parts))
	}
	enc := base64.RawURLEncoding
	var header map[string]any
	hb, _ := enc.DecodeString(parts[0])
	if err := json.Unmarshal(hb, &header); err != nil || header["alg"] != alg {
		t.Fatalf("header %s", hb)
	}
	h := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}[alg]
	mac := hmac.New(h, key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, _ := enc.DecodeString(parts[2])
	if !hmac.Equal(sig, mac.Sum(nil)) {
		t.Fatal("MAC does not verify")
	}
	var claims map[string]any
	cb, _ := enc.DecodeString(parts[1])
	if err := json.Unmarshal(cb, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestClientAssertion(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_750_000_000, 0)
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		t.Run(alg, func(t *testing.T) {
			p := &tokenEndpoint{clientID: "client-1", secret: strings.Repeat("a-secret-", 8),
				url: "https://idp.example.com/token", jwtAlg: alg}
			a1, err := p.clientAssertion(now)
			if err != nil {
				t.Fatal(err)
			}
			a2, _ := p.clientAssertion(now)
			c := verifyHS(t, a1, alg, []byte(p.secret))
			c2 := verifyHS(t, a2, alg, []byte(p.secret))
			if c["iss"] != "client-1" || c["sub"] != "client-1" || c["aud"] != "https://idp.example.com/token" {
				t.Errorf("claims %v", c)
			}
			if c["iat"] != float64(now.Unix()) || c["exp"] != float64(now.Add(time.Minute).Unix()) {
				t.Errorf("iat/exp %v %v", c["iat"], c["exp"])
			}
			if c["jti"] == "" || c["jti"] == c2["jti"] {
				t.Error("jti missing or repeated")
			}
		})
	}
}
