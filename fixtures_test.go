package oidcauth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"
)

// testKey is a 32-byte session key for tests.
func testKey(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

// testAuth returns an Auth that is never asked to reach its provider.
func testAuth(t testing.TB, mutate func(*Config)) *Auth {
	t.Helper()
	cfg := Config{
		Issuer:      "https://a1b2c3.logto.app/oidc",
		ClientID:    "x7y2kq9wm3z5v8t1l0p4",
		RedirectURL: "https://app.example.com/callback",
		SessionKeys: [][]byte{testKey(1)},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// signRS256 makes a real RS256 JWT of claims, so sizes match a provider's.
func signRS256(t testing.TB, claims any) string {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT","kid":"3b6dQ0uKbY1vX8wZ2cR5tN7mL9pH4jF6gA0sD2eW1qE"}`))
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := header + "." + enc.EncodeToString(body)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

type logtoFixture struct {
	IDTokenClaims     map[string]any `json:"id_token_claims"`
	AccessTokenClaims map[string]any `json:"access_token_claims"`
	RefreshToken      string         `json:"refresh_token"`
}

func loadLogtoFixture(t testing.TB) logtoFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/logto-session.json")
	if err != nil {
		t.Fatal(err)
	}
	var f logtoFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// typicalSession is the session a typical Logto sign-in produces: an RS256
// ID token (~1.2 KB), a JWT access token (~0.8 KB) and a refresh token.
func typicalSession(t testing.TB, now time.Time) (*session, string, string) {
	t.Helper()
	f := loadLogtoFixture(t)
	idToken := signRS256(t, f.IDTokenClaims)
	accessToken := signRS256(t, f.AccessTokenClaims)
	claims, _ := json.Marshal(f.IDTokenClaims)
	s := &session{
		id:           "0123456789abcdef",
		sid:          f.IDTokenClaims["sid"].(string),
		created:      now.Unix(),
		touched:      now.Unix(),
		expiry:       now.Add(time.Hour).Unix(),
		idToken:      packToken(idToken),
		accessToken:  packToken(accessToken),
		refreshToken: f.RefreshToken,
		user: User{
			Subject:       "k3xq9pl2vz8m",
			Name:          "Jane Margaret Doe",
			Email:         "jane.doe@example.com",
			EmailVerified: true,
			Picture:       f.IDTokenClaims["picture"].(string),
			Username:      "jane.doe",
			Issuer:        "https://a1b2c3.logto.app/oidc",
		},
	}
	s.user.claims = s.idToken.seg[1]
	if s.idToken.seg[1] == "" {
		s.user.claims = string(claims)
	}
	return s, idToken, accessToken
}

// sessionRequest returns a request carrying the cookies a recorder set.
func sessionRequest(method, target string, rec *httptest.ResponseRecorder) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge >= 0 && c.Value != "" {
			r.AddCookie(c)
		}
	}
	return r
}
