package oidcauth

import (
	"slices"
	"strings"
	"testing"
)

const envSecret = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func validEnv() map[string]string {
	return map[string]string{
		"OIDC_ISSUER":        "https://a1b2c3.logto.app/oidc",
		"OIDC_CLIENT_ID":     "x7y2kq9wm3z5v8t1l0p4",
		"OIDC_CLIENT_SECRET": "app-secret-value",
		"SESSION_SECRET":     envSecret,
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	m := validEnv()
	m["BASE_URL"] = "https://app.example.com/"
	m["SESSION_SECRET_PREVIOUS"] = strings.Repeat("p", 32)
	m["OIDC_SCOPES"] = "openid  profile roles\turn:logto:scope:organizations"
	cfg, err := ConfigFromEnv(env(m))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != m["OIDC_ISSUER"] || cfg.ClientID != m["OIDC_CLIENT_ID"] || cfg.ClientSecret != m["OIDC_CLIENT_SECRET"] {
		t.Errorf("provider fields: %+v", cfg)
	}
	if cfg.RedirectURL != "https://app.example.com/callback" || cfg.PostLogoutRedirectURL != "https://app.example.com/" {
		t.Errorf("URLs from BASE_URL: %q %q", cfg.RedirectURL, cfg.PostLogoutRedirectURL)
	}
	if len(cfg.SessionKeys) != 2 || string(cfg.SessionKeys[0]) != envSecret || string(cfg.SessionKeys[1]) != m["SESSION_SECRET_PREVIOUS"] {
		t.Errorf("SessionKeys: %d keys", len(cfg.SessionKeys))
	}
	if !slices.Equal(cfg.Scopes, []string{"openid", "profile", "roles", "urn:logto:scope:organizations"}) {
		t.Errorf("Scopes %q", cfg.Scopes)
	}
	if _, err := New(cfg); err != nil {
		t.Fatalf("New refuses what ConfigFromEnv accepted: %v", err)
	}

	delete(m, "BASE_URL")
	delete(m, "SESSION_SECRET_PREVIOUS")
	delete(m, "OIDC_SCOPES")
	cfg, err = ConfigFromEnv(env(m))
	if err != nil || cfg.RedirectURL != "http://localhost:3000/callback" || len(cfg.SessionKeys) != 1 || cfg.Scopes != nil {
		t.Fatalf("defaults: %v %q %d %q", err, cfg.RedirectURL, len(cfg.SessionKeys), cfg.Scopes)
	}
}

func TestConfigFromEnvExplains(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit map[string]string
		want []string
	}{
		{"nothing set", map[string]string{"OIDC_ISSUER": "", "OIDC_CLIENT_ID": "", "SESSION_SECRET": ""},
			[]string{"OIDC_ISSUER is not set", "OIDC_CLIENT_ID is not set", "SESSION_SECRET is not set"}},
		{"Logto issuer without /oidc", map[string]string{"OIDC_ISSUER": "https://a1b2c3.logto.app"},
			[]string{"OIDC_ISSUER for Logto ends in /oidc, with no trailing slash: set it to https://a1b2c3.logto.app/oidc"}},
		{"Logto issuer with a trailing slash", map[string]string{"OIDC_ISSUER": "https://a1b2c3.logto.app/oidc/"},
			[]string{"OIDC_ISSUER for Logto ends in /oidc, with no trailing slash: set it to https://a1b2c3.logto.app/oidc"}},
		{"discovery URL as issuer", map[string]string{"OIDC_ISSUER": "https://a1b2c3.logto.app/oidc/.well-known/openid-configuration"},
			[]string{"OIDC_ISSUER is the discovery document's URL; set it to the issuer, https://a1b2c3.logto.app/oidc"}},
		{"issuer not absolute", map[string]string{"OIDC_ISSUER": "a1b2c3.logto.app/oidc"},
			[]string{`OIDC_ISSUER "a1b2c3.logto.app/oidc" is not an absolute URL`}},
		{"issuer over http", map[string]string{"OIDC_ISSUER": "http://idp.example.com"},
			[]string{"OIDC_ISSUER must use https"}},
		{"base URL not absolute", map[string]string{"BASE_URL": "localhost:3000"},
			[]string{`BASE_URL "localhost:3000" is not an absolute URL`}},
		{"base URL without scheme", map[string]string{"BASE_URL": "app.example.com"},
			[]string{`BASE_URL "app.example.com" is not an absolute URL`}},
		{"base URL with a query", map[string]string{"BASE_URL": "https://app.example.com/?x=1"},
			[]string{"BASE_URL must be a plain URL"}},
		{"base URL over http", map[string]string{"BASE_URL": "http://app.example.com"},
			[]string{"BASE_URL must use https"}},
		{"secret too short", map[string]string{"SESSION_SECRET": "short-secret"},
			[]string{"SESSION_SECRET is 12 bytes long; it needs at least 32"}},
		{"previous secret too short", map[string]string{"SESSION_SECRET_PREVIOUS": "old"},
			[]string{"SESSION_SECRET_PREVIOUS is 3 bytes long"}},
		{"secret in quotes", map[string]string{"SESSION_SECRET": `"` + envSecret + `"`},
			[]string{"SESSION_SECRET has surrounding spaces or quotes"}},
		{"issuer with a trailing space", map[string]string{"OIDC_ISSUER": "https://a1b2c3.logto.app/oidc "},
			[]string{"OIDC_ISSUER has surrounding spaces or quotes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := validEnv()
			for k, v := range c.edit {
				m[k] = v
			}
			cfg, err := ConfigFromEnv(env(m))
			if err == nil {
				t.Fatal("accepted")
			}
			if cfg.ClientID != "" || cfg.SessionKeys != nil {
				t.Error("a Config came back with the error")
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not say %q", msg, w)
				}
			}
			for _, v := range []string{m["SESSION_SECRET"], m["SESSION_SECRET_PREVIOUS"], m["OIDC_CLIENT_SECRET"]} {
				if len(v) > 2 && strings.Contains(msg, strings.Trim(v, `"`)) {
					t.Errorf("the error shows a secret: %q", msg)
				}
			}
		})
	}
}
