package oidcauth

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const connectorBase = `"authorizationEndpoint":"https://idp.example.com/authorize","tokenEndpoint":"https://idp.example.com/token",
	"userInfoEndpoint":"https://idp.example.com/me","clientSecret":"s"`

// Logto reads its connector JSON with exact keys (a zod schema): a key
// that differs only in case is an unknown key, ignored. Go's JSON decoding
// matches case-insensitively, which would let "ClientID" or "Scope" beside
// clientId/scope take over the real fields.
func TestConnectorJSONKeysMatchExactly(t *testing.T) {
	t.Parallel()
	p, err := ParseOAuth2Provider("p", []byte(`{`+connectorBase+`,
		"clientId":"real","ClientID":"shadow","CLIENTID":"shadow2",
		"Scope":"admin","TokenEndpointAuthMethod":"client_secret_basic","tokenendpointresponsetype":"json",
		"profileMap":{"id":"uid","ID":"other","Email":"mail"},
		"CustomConfig":{"x":"y"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.ClientID != "real" || p.Scope != "" || p.TokenEndpointAuthMethod != "" || p.TokenEndpointResponseType != "" ||
		p.ProfileMap != (ProfileMap{ID: "uid"}) || p.CustomConfig != nil {
		t.Errorf("case-shadowed keys were read: %+v", p)
	}
	// The shadow alone is as absent as on Logto.
	p, err = ParseOAuth2Provider("p", []byte(`{`+connectorBase+`,"ClientId":"shadow"}`))
	if err != nil || p.ClientID != "" {
		t.Errorf("ClientId read as clientId: %q, %v", p.ClientID, err)
	}
}

// Logto sends customConfig's keys snake_cased (accessType → access_type,
// login-hint → login_hint); so does New, and it refuses two keys that meet
// in one name, or a key that becomes a parameter the library controls.
func TestCustomConfigKeysSnakeCased(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"accessType": "access_type", "login-hint": "login_hint", "allow_signup": "allow_signup", "prompt": "prompt",
		"ABTest": "ab_test", "version2Beta": "version2_beta", "a.b c": "a_b_c", "__x__": "x", "userID": "user_id",
		"XMLHttpRequest": "xml_http_request", "already_snake_case": "already_snake_case",
	} {
		if got := logtoSnakeCase(in); got != want {
			t.Errorf("logtoSnakeCase(%q) = %q, want %q", in, got, want)
		}
	}
	p, err := ParseOAuth2Provider("google", []byte(`{`+connectorBase+`,"clientId":"c","customConfig":{"accessType":"offline","login-hint":"a@b"}}`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := oauth2Auth(t, p)
	if err != nil {
		t.Fatal(err)
	}
	got := a.oauth2Provider("google").CustomConfig
	if len(got) != 2 || got["access_type"] != "offline" || got["login_hint"] != "a@b" {
		t.Errorf("CustomConfig sent as %v", got)
	}
	for name, cc := range map[string]map[string]string{
		"collision":          {"accessType": "a", "access_type": "b"},
		"becomes reserved":   {"redirectUri": "https://evil.example.com"},
		"empty after change": {"--": "x"},
	} {
		t.Run(name, func(t *testing.T) {
			p.CustomConfig = cc
			if _, err := oauth2Auth(t, p); err == nil || !strings.Contains(err.Error(), "CustomConfig") {
				t.Errorf("New: %v", err)
			}
		})
	}
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

// Logto connector JSON: any input is either refused with an error or gives
// a provider; nothing panics.
func FuzzParseOAuth2Provider(f *testing.F) {
	b, err := os.ReadFile("testdata/oauth2/logto-github-connector.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"profileMap":{"id":"data.id"},"customConfig":{"a":"b"}}`))
	f.Add([]byte(`{"clientSecretJwtSigningAlgorithm":5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseOAuth2Provider("fuzz", data)
		if err == nil && p.Name != "fuzz" {
			t.Fatalf("parsed provider named %q", p.Name)
		}
	})
}
