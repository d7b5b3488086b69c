package oidcauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/oauth2/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// oauth2Auth returns an Auth with only the given OAuth 2.0 providers.
func oauth2Auth(t *testing.T, ps ...OAuth2Provider) (*Auth, error) {
	t.Helper()
	return New(Config{
		RedirectURL:     "https://app.example.com/callback",
		SessionKeys:     [][]byte{testKey(1)},
		OAuth2Providers: ps,
	})
}

func TestLogtoConnectorJSONLoadsUnchanged(t *testing.T) {
	t.Parallel()
	p, err := ParseOAuth2Provider("github", readTestdata(t, "logto-github-connector.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := oauth2Auth(t, p)
	if err != nil {
		t.Fatalf("New refuses Logto's connector JSON: %v", err)
	}
	got := a.oauth2Provider("github")
	want := OAuth2Provider{
		Name:                            "github",
		AuthorizationEndpoint:           "https://github.com/login/oauth/authorize",
		TokenEndpoint:                   "https://github.com/login/oauth/access_token",
		UserInfoEndpoint:                "https://api.github.com/user",
		ClientID:                        "Iv1.8a61f9b3a7aba766",
		ClientSecret:                    "4b2c7e1d0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c",
		TokenEndpointAuthMethod:         ClientSecretPost,
		ClientSecretJWTSigningAlgorithm: "HS256",
		Scope:                           "read:user user:email",
		ResponseType:                    "code",
		GrantType:                       "authorization_code",
		TokenEndpointResponseType:       TokenResponseQueryString,
		CustomConfig:                    map[string]string{"allow_signup": "true"},
		ProfileMap:                      ProfileMap{ID: "id", Name: "name", Avatar: "avatar_url", Email: "email", Phone: "phone"},
		RedirectURL:                     "https://app.example.com/callback/github",
	}
	gotJSON, _ := json.Marshal(got.OAuth2Provider)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) || got.Name != want.Name {
		t.Errorf("loaded\n%s\nwant\n%s", gotJSON, wantJSON)
	}
	if got.callbackPath != "/callback/github" {
		t.Errorf("callback path %q", got.callbackPath)
	}
}

func TestOAuth2DefaultsAreLogtos(t *testing.T) {
	t.Parallel()
	p, err := ParseOAuth2Provider("min", []byte(`{"authorizationEndpoint":"https://idp.example.com/authorize","tokenEndpoint":"https://idp.example.com/token",
		"userInfoEndpoint":"https://idp.example.com/me","clientId":"c","clientSecret":"s","someFieldLogtoAdds":true}`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := oauth2Auth(t, p)
	if err != nil {
		t.Fatal(err)
	}
	got := a.oauth2Provider("min")
	if got.TokenEndpointAuthMethod != ClientSecretPost || got.TokenEndpointResponseType != TokenResponseQueryString ||
		got.ClientSecretJWTSigningAlgorithm != "HS256" || got.ProfileMap != (ProfileMap{"id", "name", "avatar", "email", "phone"}) {
		t.Errorf("defaults: %+v", got.OAuth2Provider)
	}
}

func TestParseOAuth2ProviderRefuses(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"not JSON":            `authorizationEndpoint=x`,
		"profileMap a number": `{"profileMap":{"id":7}}`,
		"customConfig nested": `{"customConfig":{"a":{"b":"c"}}}`,
		"trailing data":       `{} {}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseOAuth2Provider("p", []byte(in)); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestOAuth2ConfigErrors(t *testing.T) {
	t.Parallel()
	good := func() OAuth2Provider {
		return OAuth2Provider{
			Name: "github", AuthorizationEndpoint: "https://gh.example.com/authorize", TokenEndpoint: "https://gh.example.com/token",
			UserInfoEndpoint: "https://api.gh.example.com/user", ClientID: "c", ClientSecret: "s",
		}
	}
	cases := []struct {
		name   string
		mutate func(*OAuth2Provider, *Config)
		want   string
	}{
		{"unknown auth method", func(p *OAuth2Provider, _ *Config) { p.TokenEndpointAuthMethod = "private_key_jwt" }, "TokenEndpointAuthMethod"},
		{"unknown algorithm", func(p *OAuth2Provider, _ *Config) {
			p.TokenEndpointAuthMethod, p.ClientSecretJWTSigningAlgorithm = ClientSecretJWT, "RS256"
		}, "ClientSecretJWTSigningAlgorithm"},
		// RFC 7518 §3.2: an HMAC key at least as long as the hash.
		{"secret too short for HS512", func(p *OAuth2Provider, _ *Config) {
			p.TokenEndpointAuthMethod, p.ClientSecretJWTSigningAlgorithm = ClientSecretJWT, "HS512"
			p.ClientSecret = strings.Repeat("s", 63)
		}, "ClientSecret"},
		{"implicit flow", func(p *OAuth2Provider, _ *Config) { p.ResponseType = "token" }, "ResponseType"},
		{"other grant", func(p *OAuth2Provider, _ *Config) { p.GrantType = "password" }, "GrantType"},
		{"unknown response format", func(p *OAuth2Provider, _ *Config) { p.TokenEndpointResponseType = "xml" }, "TokenEndpointResponseType"},
		{"no token endpoint", func(p *OAuth2Provider, _ *Config) { p.TokenEndpoint = "" }, "TokenEndpoint"},
		{"no userinfo endpoint", func(p *OAuth2Provider, _ *Config) { p.UserInfoEndpoint = "" }, "UserInfoEndpoint"},
		{"http endpoint", func(p *OAuth2Provider, _ *Config) { p.TokenEndpoint = "http://gh.example.com/token" }, "https"},
		{"no secret", func(p *OAuth2Provider, _ *Config) { p.ClientSecret = "" }, "ClientSecret"},
		{"reserved custom param", func(p *OAuth2Provider, _ *Config) { p.CustomConfig = map[string]string{"state": "x"} }, `"state"`},
		{"bad name", func(p *OAuth2Provider, _ *Config) { p.Name = "Git Hub" }, "Name"},
		{"empty profile path segment", func(p *OAuth2Provider, _ *Config) { p.ProfileMap.ID = "data..id" }, "ProfileMap"},
		{"redirect on another origin", func(p *OAuth2Provider, _ *Config) { p.RedirectURL = "https://evil.example.com/cb" }, "origin"},
		{"callback path of the OIDC provider", func(p *OAuth2Provider, c *Config) {
			c.Issuer, c.ClientID = "https://a1b2c3.logto.app/oidc", "x"
			p.RedirectURL = "https://app.example.com/callback"
		}, "callback of its own"},
		{"two with one name", func(p *OAuth2Provider, c *Config) { c.OAuth2Providers = append(c.OAuth2Providers, *p) }, "used twice"},
		{"no Issuer and no providers", func(_ *OAuth2Provider, c *Config) { c.OAuth2Providers = nil }, "Issuer is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := good()
			cfg := Config{RedirectURL: "https://app.example.com/callback", SessionKeys: [][]byte{testKey(1)}}
			tc.mutate(&p, &cfg)
			if tc.name != "no Issuer and no providers" {
				cfg.OAuth2Providers = append([]OAuth2Provider{p}, cfg.OAuth2Providers...)
			}
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "\"s\"") {
				t.Error("error shows the client secret")
			}
		})
	}
	if _, err := oauth2Auth(t, good()); err != nil {
		t.Fatalf("a good provider alone is refused: %v", err)
	}
}

func TestOAuth2ProviderRedactsSecret(t *testing.T) {
	t.Parallel()
	p := OAuth2Provider{Name: "github", ClientSecret: "hunter2-secret"}
	var b strings.Builder
	for _, s := range []string{p.String(), p.LogValue().String()} {
		b.WriteString(s)
	}
	if strings.Contains(b.String(), "hunter2") {
		t.Errorf("secret printed: %s", b.String())
	}
}

func TestMapProfile(t *testing.T) {
	t.Parallel()
	github := readTestdata(t, "github-user.json")
	nested := readTestdata(t, "nested-profile.json")
	cases := []struct {
		name    string
		raw     []byte
		m       ProfileMap
		want    profile
		wantErr bool
	}{
		{"GitHub numeric id and avatar_url", github, ProfileMap{ID: "id", Name: "name", Avatar: "avatar_url", Email: "email", Phone: "phone"},
			profile{id: "583231", name: "Octo Dev", avatar: "https://avatars.githubusercontent.com/u/583231?v=4", email: "octo.dev@example.com"}, false},
		{"dotted paths and an array index", nested, ProfileMap{ID: "data.id", Name: "data.attributes.full_name", Avatar: "data.attributes.image.url", Email: "emails.0.value", Phone: "data.attributes.phone"},
			profile{id: "8f3a2c71-5b0e-4d9a-9c1f-2e7b6a4d3c10", name: "Ada Example", avatar: "https://cdn.example.com/u/8f3a.png", email: "ada@example.com", phone: "+15550100"}, false},
		{"a key with a dot in it", []byte(`{"user.id":"u-1","user":{"id":"other"}}`), ProfileMap{ID: "user.id"}, profile{id: "u-1"}, false},
		{"large integer id stays exact", []byte(`{"id":80351110224678912}`), ProfileMap{ID: "id"}, profile{id: "80351110224678912"}, false},
		{"missing id", []byte(`{"name":"x"}`), ProfileMap{ID: "id"}, profile{}, true},
		{"empty id", []byte(`{"id":""}`), ProfileMap{ID: "id"}, profile{}, true},
		{"null id", []byte(`{"id":null}`), ProfileMap{ID: "id"}, profile{}, true},
		{"fractional id", []byte(`{"id":1.5}`), ProfileMap{ID: "id"}, profile{}, true},
		{"object id", []byte(`{"id":{"v":1}}`), ProfileMap{ID: "id"}, profile{}, true},
		{"index out of range", nested, ProfileMap{ID: "emails.3.value"}, profile{}, true},
		{"not an object", []byte(`[{"id":1}]`), ProfileMap{ID: "id"}, profile{}, true},
		{"over-long id", []byte(`{"id":"` + strings.Repeat("a", 256) + `"}`), ProfileMap{ID: "id"}, profile{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mapProfile(tc.raw, tc.m)
			if tc.wantErr {
				if !errors.Is(err, ErrUserInfo) {
					t.Fatalf("err %v, want ErrUserInfo", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.raw = ""
			if *got != tc.want {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

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

// TestTokenResponseFormats feeds real providers' token responses to the
// token request, in each configured format.
func TestTokenResponseFormats(t *testing.T) {
	t.Parallel()
	const form, js = "application/x-www-form-urlencoded; charset=utf-8", "application/json; charset=utf-8"
	cases := []struct {
		name, file, contentType string
		format                  TokenResponseFormat
		status                  int
		wantToken, wantRefresh  string
		wantExpiresIn           int64
		wantErr                 error
		wantCode                string
	}{
		{"GitHub form", "github-token.txt", form, TokenResponseQueryString, 200, "gho_16C7e42F292c6912E7710c838347Ae178B4a", "", 0, nil, ""},
		{"GitHub form with refresh", "github-token-refresh.txt", form, TokenResponseQueryString, 200, "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
			"ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498", 28800, nil, ""},
		{"JSON", "token.json", js, TokenResponseJSON, 200, "ya29.a0AfB_byC7xQ2kVd9e8cFq3Lm1nOp4RsTu5VwXyZ", "1//0gXk3Yz7Lm9QrStUv-L9IrWx2Yz", 3599, nil, ""},
		{"GitHub error in a 200", "github-token-error.txt", form, TokenResponseQueryString, 200, "", "", 0, ErrCodeRejected, "invalid_grant"},
		{"RFC 6749 JSON error at a form provider", "token-error.json", js, TokenResponseQueryString, 401, "", "", 0, ErrTokenEndpoint, "invalid_client"},
		{"JSON where form is configured", "token.json", js, TokenResponseQueryString, 200, "", "", 0, ErrTokenEndpoint, ""},
		{"form where JSON is configured", "github-token.txt", form, TokenResponseJSON, 200, "", "", 0, ErrTokenEndpoint, ""},
		{"a proxy's page", "", "text/html", TokenResponseJSON, 502, "", "", 0, ErrTokenEndpoint, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.file != "" {
				body = readTestdata(t, tc.file)
			} else {
				body = []byte("<html>Bad gateway</html>")
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				w.Write(body)
			}))
			defer srv.Close()
			e := &tokenEndpoint{clientID: "c", secret: "s", url: srv.URL, auth: ClientSecretPost, format: tc.format}
			tr, err := e.exchange(context.Background(), limitedClient(nil), "a-code", "https://app.example.com/callback", "", nil, time.Unix(1000, 0))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				var pe *ProviderError
				if tc.wantCode != "" && (!errors.As(err, &pe) || pe.Code != tc.wantCode) {
					t.Errorf("provider error %v, want code %s", err, tc.wantCode)
				}
				// A format mismatch says so, for whoever reads the log.
				if strings.Contains(tc.name, "configured") && !strings.Contains(err.Error(), "tokenEndpointResponseType is "+string(tc.format)) {
					t.Errorf("error %q does not name the configured format", err)
				}
				for _, secret := range []string{"gho_", "ya29", "incorrect or expired", "Bad gateway"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error text carries the response body: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tr.AccessToken != tc.wantToken || tr.RefreshToken != tc.wantRefresh {
				t.Errorf("tokens %q %q", tr.AccessToken, tr.RefreshToken)
			}
			if exp := tr.expiry(1000); (tc.wantExpiresIn == 0 && exp != 0) || (tc.wantExpiresIn != 0 && exp != 1000+tc.wantExpiresIn) {
				t.Errorf("expiry %d", exp)
			}
		})
	}
}

func TestOAuth2SessionRoundTrip(t *testing.T) {
	t.Parallel()
	s := &session{
		id: "0123456789abcdef", provider: "github", created: 100, touched: 200, expiry: 300,
		user: User{Subject: "583231", Name: "Octo Dev", Email: "octo@example.com", Picture: "https://a.example.com/p.png",
			Phone: "+15550100", Issuer: "https://gh.example.com/login/oauth/authorize", OAuth2Provider: "github", claims: `{"id":583231,"login":"octo-dev"}`},
		accessToken: packToken("gho_abc"), refreshToken: "ghr_def",
	}
	got, err := unmarshalSession(string(s.marshal(nil)), "https://a1b2c3.logto.app/oidc")
	if err != nil {
		t.Fatal(err)
	}
	if got.user != s.user || got.provider != "github" || got.accessToken.compact() != "gho_abc" || got.refreshToken != "ghr_def" {
		t.Errorf("round trip: %+v", got.user)
	}
	// An OIDC session keeps the configured issuer, with or without a phone.
	o := &session{id: "0123456789abcdef", user: User{Subject: "u1", Phone: "+1555"}, idToken: packToken("a.b.c")}
	got, err = unmarshalSession(string(o.marshal(nil)), "https://issuer.example.com")
	if err != nil || got.user.Issuer != "https://issuer.example.com" || got.user.OAuth2Provider != "" || got.user.Phone != "+1555" {
		t.Errorf("OIDC session: %+v, %v", got, err)
	}
}
