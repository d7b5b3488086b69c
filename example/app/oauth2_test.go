package app

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// signInOAuth2 follows a sign-in through an auto-approving OAuth 2.0
// provider and returns the callback's response.
func (b *browser) signInOAuth2(path, provider string) *http.Response {
	b.t.Helper()
	resp, _ := b.do("GET", path, nil, nil)
	b.want(resp, http.StatusSeeOther)
	resp, _ = b.do("GET", resp.Header.Get("Location"), nil, nil)
	b.want(resp, http.StatusFound)
	cb := resp.Header.Get("Location")
	if !strings.HasPrefix(cb, b.base+"/callback/"+provider+"?") {
		b.t.Fatalf("the provider returns to %q", cb)
	}
	resp, _ = b.do("GET", cb, nil, nil)
	return resp
}

// Development mode offers a GitHub-like provider beside the OIDC one.
func TestDevModeSecondProvider(t *testing.T) {
	b := startApp(t, map[string]string{})
	resp, page := b.do("GET", "/", nil, nil)
	b.want(resp, http.StatusOK)
	if !strings.Contains(page, `href="/sign-in?provider=github"`) || !strings.Contains(page, `href="/sign-in"`) {
		t.Fatalf("home page lacks a sign-in button per provider:\n%s", page)
	}
	resp = b.signInOAuth2("/sign-in?provider=github&returnTo=%2Fprofile", "github")
	b.want(resp, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != "/profile" {
		t.Errorf("landed on %q", got)
	}
	resp, page = b.do("GET", "/profile", nil, nil)
	b.want(resp, http.StatusOK)
	if !strings.Contains(page, `<td id="user-provider">github</td>`) || !strings.Contains(page, "583231") {
		t.Errorf("profile page:\n%s", page)
	}
	resp, page = b.do("GET", "/api/me", nil, http.Header{"Accept": {"application/json"}})
	b.want(resp, http.StatusOK)
	var profile map[string]any
	if err := json.Unmarshal([]byte(page), &profile); err != nil || profile["login"] != "octo-dev" {
		t.Errorf("/api/me = %s", page)
	}
	// Sign-out is local: no end-session endpoint to visit.
	resp, _ = b.do("POST", "/sign-out", url.Values{}, http.Header{"Origin": {b.base}})
	b.want(resp, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != b.base+"/" {
		t.Errorf("sign-out goes to %q", got)
	}
	resp, _ = b.do("GET", "/profile", nil, nil)
	b.want(resp, http.StatusSeeOther)
}

// Configured through the environment with a Logto connector's JSON and no
// OIDC provider, the example signs in with that provider alone.
func TestConfiguredOAuth2Provider(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	gh, err := oidcauthtest.NewOAuth2(base, oidcauthtest.OAuth2Options{ClientID: "Iv1.app", ClientSecret: "gh-secret", AuthMethod: "client_secret_basic"})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = gh
	srv.Start()
	t.Cleanup(srv.Close)
	connector := `{"authorizationEndpoint":"` + gh.AuthorizationEndpoint() + `","tokenEndpoint":"` + gh.TokenEndpoint() + `",
		"userInfoEndpoint":"` + gh.UserInfoEndpoint() + `","clientId":"Iv1.app","clientSecret":"gh-secret",
		"tokenEndpointAuthMethod":"client_secret_basic","tokenEndpointResponseType":"query-string","responseType":"code",
		"grantType":"authorization_code","scope":"read:user user:email",
		"profileMap":{"id":"id","name":"name","avatar":"avatar_url","email":"email"},"customConfig":{"allow_signup":"true"}}`
	b := startApp(t, map[string]string{
		"OAUTH2_PROVIDERS": "my-github", "OAUTH2_MY_GITHUB_CONFIG": connector, "SESSION_SECRET": strings.Repeat("s", 32),
	})
	resp := b.signInOAuth2("/sign-in", "my-github")
	b.want(resp, http.StatusSeeOther)
	resp, page := b.do("GET", "/api/me", nil, http.Header{"Accept": {"application/json"}})
	b.want(resp, http.StatusOK)
	if !strings.Contains(page, `"id":583231`) {
		t.Errorf("/api/me = %s", page)
	}
	if got := gh.LastTokenRequest().Get("client_auth"); got != "client_secret_basic" {
		t.Errorf("client authenticated by %q", got)
	}
}

func TestOAuth2ConfigErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"provider without its JSON": {"OAUTH2_PROVIDERS": "github", "SESSION_SECRET": strings.Repeat("k", 32)},
		"JSON that does not parse":  {"OAUTH2_PROVIDERS": "github", "OAUTH2_GITHUB_CONFIG": "{", "SESSION_SECRET": strings.Repeat("k", 32)},
		"unknown auth method": {"OAUTH2_PROVIDERS": "github", "SESSION_SECRET": strings.Repeat("k", 32),
			"OAUTH2_GITHUB_CONFIG": `{"authorizationEndpoint":"https://gh.example.com/a","tokenEndpoint":"https://gh.example.com/t","userInfoEndpoint":"https://gh.example.com/u","clientId":"c","clientSecret":"s","tokenEndpointAuthMethod":"tls_client_auth"}`},
		"no session secret": {"OAUTH2_PROVIDERS": "github",
			"OAUTH2_GITHUB_CONFIG": `{"authorizationEndpoint":"https://gh.example.com/a","tokenEndpoint":"https://gh.example.com/t","userInfoEndpoint":"https://gh.example.com/u","clientId":"c","clientSecret":"s"}`},
	} {
		if _, err := newApp(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%s: newApp accepted it", name)
		}
	}
}
