package oidcauth

import (
	"os"
	"strings"
	"testing"
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
