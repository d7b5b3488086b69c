package app

import (
	"fmt"
	"strings"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// addOAuth2Providers adds the plain OAuth 2.0 providers OAUTH2_PROVIDERS
// names, each configured by the Logto OAuth2-connector JSON in
// OAUTH2_<NAME>_CONFIG.
func addOAuth2Providers(cfg *oidcauth.Config, getenv func(string) string) error {
	for _, name := range strings.Fields(getenv("OAUTH2_PROVIDERS")) {
		key := "OAUTH2_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_CONFIG"
		raw := getenv(key)
		if raw == "" {
			return fmt.Errorf("OAUTH2_PROVIDERS names %q but %s is not set (the provider's Logto OAuth2-connector JSON)", name, key)
		}
		p, err := oidcauth.ParseOAuth2Provider(name, []byte(raw))
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		cfg.OAuth2Providers = append(cfg.OAuth2Providers, p)
	}
	return nil
}

// devOAuth2Provider is development mode's GitHub-like provider, served by
// this app at /dev-github, and its configuration: the same fields a Logto
// OAuth2 connector for GitHub has.
func devOAuth2Provider(cfg *oidcauth.Config, baseURL string) (*oidcauthtest.OAuth2Provider, error) {
	base := baseURL + "/dev-github"
	gh, err := oidcauthtest.NewOAuth2(base, oidcauthtest.OAuth2Options{
		ClientSecret: randomHex(20),
		RedirectURIs: []string{baseURL + "/callback/github"},
	})
	if err != nil {
		return nil, err
	}
	cfg.OAuth2Providers = append(cfg.OAuth2Providers, oidcauth.OAuth2Provider{
		Name:                      "github",
		AuthorizationEndpoint:     gh.AuthorizationEndpoint(),
		TokenEndpoint:             gh.TokenEndpoint(),
		UserInfoEndpoint:          gh.UserInfoEndpoint(),
		ClientID:                  gh.ClientID(),
		ClientSecret:              gh.ClientSecret(),
		TokenEndpointAuthMethod:   oidcauth.ClientSecretPost,
		TokenEndpointResponseType: oidcauth.TokenResponseQueryString,
		Scope:                     "read:user user:email",
		ProfileMap:                oidcauth.ProfileMap{ID: "id", Name: "name", Avatar: "avatar_url", Email: "email"},
	})
	return gh, nil
}
