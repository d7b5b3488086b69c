package jose

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
	"testing"
)

// SignHMAC's assertions verify with the standard library's HMAC, as a
// provider would check them; keys shorter than the hash are refused
// (RFC 7518 §3.2).
func TestSignHMAC(t *testing.T) {
	hashes := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}
	key := []byte(strings.Repeat("k", 64))
	for alg, h := range hashes {
		jwt, err := SignHMAC(alg, key, []byte(`{"iss":"c"}`))
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		parts := strings.Split(jwt, ".")
		enc := base64.RawURLEncoding
		header, _ := enc.DecodeString(parts[0])
		payload, _ := enc.DecodeString(parts[1])
		if string(header) != `{"alg":"`+alg+`","typ":"JWT"}` || string(payload) != `{"iss":"c"}` {
			t.Errorf("%s: header %s, payload %s", alg, header, payload)
		}
		mac := hmac.New(h, key)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		if enc.EncodeToString(mac.Sum(nil)) != parts[2] {
			t.Errorf("%s: the MAC does not verify", alg)
		}
		if got, hdr, err := VerifyHMAC(jwt, alg, key); err != nil || string(got) != `{"iss":"c"}` || hdr.Type != "JWT" {
			t.Errorf("%s: VerifyHMAC = %s, %+v, %v", alg, got, hdr, err)
		}
		if _, _, err := VerifyHMAC(jwt, alg, append([]byte("x"), key[1:]...)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: another key: %v", alg, err)
		}
		short := key[:hmacKeySizes[alg]-1]
		if _, err := SignHMAC(alg, short, []byte(`{}`)); err == nil || CheckHMACKey(alg, short) == nil {
			t.Errorf("%s: a %d-byte key signed", alg, len(short))
		}
	}
	jwt, _ := SignHMAC("HS256", key, []byte(`{}`))
	if _, _, err := VerifyHMAC(jwt, "HS512", key); !errors.Is(err, ErrMalformed) {
		t.Errorf("HS256 assertion checked as HS512: %v", err)
	}
	for _, alg := range []string{"none", "RS256", ""} {
		if _, err := SignHMAC(alg, key, []byte(`{}`)); err == nil {
			t.Errorf("alg %q signed", alg)
		}
		if _, _, err := VerifyHMAC(jwt, alg, key); !errors.Is(err, ErrAlgorithm) {
			t.Errorf("alg %q: %v", alg, err)
		}
	}
}
