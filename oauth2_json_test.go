package oidcauth

import (
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
