package oidcauthtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// authorizeCode runs an authorization through p and returns the code.
func authorizeCode(t *testing.T, p *OAuth2Provider) string {
	t.Helper()
	c := *p.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	q := url.Values{"client_id": {p.ClientID()}, "redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"}, "state": {"s"}}
	resp, err := c.Get(p.AuthorizationEndpoint() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("state") != "s" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize answered %d %s", resp.StatusCode, loc)
	}
	return loc.Query().Get("code")
}

func hs256(t *testing.T, secret string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	b, _ := json.Marshal(claims)
	in := enc.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + enc.EncodeToString(b)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}

// TestOAuth2FakeVerifiesAssertions: the fake refuses what a real provider
// would refuse of a client_secret_jwt assertion.
func TestOAuth2FakeVerifiesAssertions(t *testing.T) {
	t.Parallel()
	now := time.Now()
	p := NewOAuth2Server(t, OAuth2Options{AuthMethod: "client_secret_jwt", ResponseFormat: "json"})
	good := func() map[string]any {
		return map[string]any{"iss": p.ClientID(), "sub": p.ClientID(), "aud": p.TokenEndpoint(), "jti": "j-" + randomString(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	reused := good()
	cases := []struct {
		name   string
		claims map[string]any
		secret string
		want   int
	}{
		{"good", good(), p.ClientSecret(), http.StatusOK},
		{"wrong secret", good(), "not-the-secret", http.StatusUnauthorized},
		{"wrong audience", func() map[string]any { c := good(); c["aud"] = "https://elsewhere.example.com/token"; return c }(), p.ClientSecret(), http.StatusUnauthorized},
		{"expired", func() map[string]any { c := good(); c["exp"] = now.Add(-time.Second).Unix(); return c }(), p.ClientSecret(), http.StatusUnauthorized},
		{"another issuer", func() map[string]any { c := good(); c["iss"] = "someone"; return c }(), p.ClientSecret(), http.StatusUnauthorized},
		{"first use of a jti", reused, p.ClientSecret(), http.StatusOK},
		{"replayed jti", reused, p.ClientSecret(), http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {authorizeCode(t, p)}, "redirect_uri": {"https://app.example.com/cb"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {hs256(t, tc.secret, tc.claims)}}
			resp, err := p.Client().PostForm(p.TokenEndpoint(), form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// TestOAuth2FakeAnswersLikeGitHub: form-encoded unless JSON is asked for,
// a code is single use, and /user wants the issued token.
func TestOAuth2FakeAnswersLikeGitHub(t *testing.T) {
	t.Parallel()
	p := NewOAuth2Server(t, OAuth2Options{})
	redeem := func(code, accept string) (*http.Response, string) {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example.com/cb"},
			"client_id": {p.ClientID()}, "client_secret": {p.ClientSecret()}}
		req, _ := http.NewRequest("POST", p.TokenEndpoint(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := p.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp, b.String()
	}
	code := authorizeCode(t, p)
	resp, body := redeem(code, "")
	v, _ := url.ParseQuery(body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || !strings.HasPrefix(v.Get("access_token"), "gho_") {
		t.Fatalf("form answer: %s %s", resp.Header.Get("Content-Type"), body)
	}
	if _, body = redeem(code, ""); !strings.Contains(body, "error=bad_verification_code") {
		t.Errorf("a code redeemed twice: %s", body)
	}
	if resp, body = redeem(authorizeCode(t, p), "application/json"); !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(body, `"access_token":"gho_`) {
		t.Errorf("JSON answer: %s %s", resp.Header.Get("Content-Type"), body)
	}
	req, _ := http.NewRequest("GET", p.UserInfoEndpoint(), nil)
	req.Header.Set("Authorization", "Bearer "+v.Get("access_token"))
	if resp, err := p.Client().Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/user with the token: %v %v", resp, err)
	}
	req.Header.Set("Authorization", "Bearer gho_forged")
	if resp, err := p.Client().Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/user with a forged token: %v %v", resp, err)
	}
}
