package oidcauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Environment variables read by [ConfigFromEnv], the names the example app
// uses.
const (
	envIssuer                = "OIDC_ISSUER"             // Config.Issuer; required
	envClientID              = "OIDC_CLIENT_ID"          // Config.ClientID; required
	envClientSecret          = "OIDC_CLIENT_SECRET"      // Config.ClientSecret; empty for a public client
	envBaseURL               = "BASE_URL"                // the app's URL; default http://localhost:3000
	envSessionSecret         = "SESSION_SECRET"          // the first of Config.SessionKeys; required
	envSessionSecretPrevious = "SESSION_SECRET_PREVIOUS" // the second, during a rotation; optional
	envScopes                = "OIDC_SCOPES"             // Config.Scopes, space separated; optional
)

// ConfigFromEnv builds a Config from environment variables, read through
// getenv (os.Getenv, or a map's lookup in tests):
//
//	OIDC_ISSUER              Issuer (Logto: https://<tenant>.logto.app/oidc)
//	OIDC_CLIENT_ID           ClientID (Logto: App ID)
//	OIDC_CLIENT_SECRET       ClientSecret (Logto: App secret)
//	BASE_URL                 where the app is reached, default http://localhost:3000:
//	                         RedirectURL is BASE_URL/callback and
//	                         PostLogoutRedirectURL is BASE_URL/
//	SESSION_SECRET           SessionKeys[0], 32 bytes or more
//	SESSION_SECRET_PREVIOUS  SessionKeys[1], the secret before a rotation
//	OIDC_SCOPES              Scopes, space separated
//
// It checks the values as [New] would and explains every mistake at once, in
// terms of the variables (a Logto issuer without /oidc, a discovery URL
// where the issuer belongs, a BASE_URL that is not absolute, a secret that
// is too short or wrapped in quotes). Error messages never contain a
// secret's value. Set the remaining fields (Logger, Store, OnSignIn, …) on
// the result before calling New:
//
//	cfg, err := oidcauth.ConfigFromEnv(os.Getenv)
//	if err != nil {
//		log.Fatal(err)
//	}
//	cfg.Logger = logger
//	auth, err := oidcauth.New(cfg)
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("oidcauth: "+format, args...)) }
	get := func(name string) string {
		v := getenv(name)
		if t := strings.Trim(v, " \t\r\n\"'"); t != v {
			bad("%s has surrounding spaces or quotes; remove them", name)
			return t
		}
		return v
	}

	base := strings.TrimSuffix(get(envBaseURL), "/")
	if base == "" {
		base = "http://localhost:3000"
	}
	cfg := Config{
		Issuer:                get(envIssuer),
		ClientID:              get(envClientID),
		ClientSecret:          get(envClientSecret),
		RedirectURL:           base + "/callback",
		PostLogoutRedirectURL: base + "/",
	}
	if scopes := strings.Fields(getenv(envScopes)); len(scopes) > 0 {
		cfg.Scopes = scopes
	}

	switch iss := cfg.Issuer; {
	case iss == "":
		bad("%s is not set: set it to the provider's issuer URL (for Logto, the application's Issuer endpoint, https://<tenant>.logto.app/oidc)", envIssuer)
	default:
		u, err := url.Parse(iss)
		switch {
		case err != nil || !u.IsAbs() || u.Host == "":
			bad("%s %q is not an absolute URL; it starts with https://", envIssuer, iss)
		case strings.HasSuffix(u.Path, "/.well-known/openid-configuration"):
			bad("%s is the discovery document's URL; set it to the issuer, %s", envIssuer, strings.TrimSuffix(iss, "/.well-known/openid-configuration"))
		case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
			bad("%s must use https (plain http is accepted for localhost only)", envIssuer)
		case strings.HasSuffix(u.Hostname(), ".logto.app") && u.Path != "/oidc":
			// Logto's discovery document names the issuer without a
			// trailing slash, and the issuer must match it exactly.
			bad("%s for Logto ends in /oidc, with no trailing slash: set it to https://%s/oidc", envIssuer, u.Host)
		}
	}
	if cfg.ClientID == "" {
		bad("%s is not set: set it to the client ID (Logto: the application's App ID)", envClientID)
	}
	if u, err := url.Parse(base); err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		bad("%s %q is not an absolute URL such as http://localhost:3000 or https://app.example.com", envBaseURL, base)
	} else if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		bad("%s must be a plain URL without query, fragment or user info", envBaseURL)
	} else if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		bad("%s must use https (plain http is accepted for localhost only)", envBaseURL)
	}

	for _, name := range []string{envSessionSecret, envSessionSecretPrevious} {
		secret := get(name)
		switch {
		case secret == "" && name == envSessionSecret:
			bad("%s is not set: it needs 32 random bytes or more (e.g. the output of `openssl rand -hex 32`)", name)
		case secret == "":
		case len(secret) < 32:
			bad("%s is %d bytes long; it needs at least 32 (e.g. the output of `openssl rand -hex 32`)", name, len(secret))
		default:
			cfg.SessionKeys = append(cfg.SessionKeys, []byte(secret))
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	// Anything else New would refuse is refused here too, in New's words.
	check := cfg
	if err := check.normalize(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
