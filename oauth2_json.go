package oidcauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ParseOAuth2Provider reads the JSON configuration of a Logto OAuth 2.0
// connector (authorizationEndpoint, tokenEndpoint, userInfoEndpoint,
// clientId, clientSecret, profileMap, customConfig, …) into a provider
// named name, as Logto reads it: keys match exactly (a "ClientID" or
// "Scope" is an unknown key, not clientId or scope), unknown keys are
// ignored, and a known key with a value of the wrong type is an error. The
// values are checked by [New], which also snake_cases customConfig's keys
// as Logto does.
func ParseOAuth2Provider(name string, data []byte) (OAuth2Provider, error) {
	var p OAuth2Provider
	fail := func(format string, args ...any) (OAuth2Provider, error) {
		return OAuth2Provider{}, fmt.Errorf("oidcauth: OAuth 2.0 provider %q: "+format, append([]any{name}, args...)...)
	}
	var top map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&top); err != nil || top == nil {
		if err == nil {
			err = errors.New("null")
		}
		return fail("configuration is not a JSON object: %w", err)
	}
	if d.More() {
		return fail("configuration has data after the JSON object")
	}
	fields := map[string]any{
		"authorizationEndpoint":           &p.AuthorizationEndpoint,
		"tokenEndpoint":                   &p.TokenEndpoint,
		"userInfoEndpoint":                &p.UserInfoEndpoint,
		"clientId":                        &p.ClientID,
		"clientSecret":                    &p.ClientSecret,
		"tokenEndpointAuthMethod":         &p.TokenEndpointAuthMethod,
		"clientSecretJwtSigningAlgorithm": &p.ClientSecretJWTSigningAlgorithm,
		"scope":                           &p.Scope,
		"responseType":                    &p.ResponseType,
		"grantType":                       &p.GrantType,
		"tokenEndpointResponseType":       &p.TokenEndpointResponseType,
		"customConfig":                    &p.CustomConfig,
		"redirectUrl":                     &p.RedirectURL,
	}
	for key, dst := range fields {
		if err := decodeExact(top, key, dst); err != nil {
			return fail("%v", err)
		}
	}
	if raw, ok := top["profileMap"]; ok {
		var pm map[string]json.RawMessage
		if err := json.Unmarshal(raw, &pm); err != nil {
			return fail("field profileMap must be an object")
		}
		m := &p.ProfileMap
		for key, dst := range map[string]*string{"id": &m.ID, "name": &m.Name, "avatar": &m.Avatar, "email": &m.Email, "phone": &m.Phone} {
			if err := decodeExact(pm, key, dst); err != nil {
				return fail("profileMap.%v", err)
			}
		}
	}
	p.Name = name
	return p, nil
}

// decodeExact decodes obj[key], when present, into dst.
func decodeExact(obj map[string]json.RawMessage, key string, dst any) error {
	raw, ok := obj[key]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("field %s must be a %s", key, te.Type)
		}
		return fmt.Errorf("field %s: %w", key, err)
	}
	return nil
}

// The rules of the snake-case package that Logto's connectors apply to
// customConfig (change-case's no-case): split between a lower-case letter
// or digit and an upper-case letter, and before the last capital of a run
// followed by a lower-case letter; every run of other characters than
// letters and digits separates words; words are lower-cased and joined by
// "_".
var (
	snakeSplit = []*regexp.Regexp{regexp.MustCompile(`([a-z0-9])([A-Z])`), regexp.MustCompile(`([A-Z])([A-Z][a-z])`)}
	snakeStrip = regexp.MustCompile(`[^A-Za-z0-9]+`)
)

// logtoSnakeCase is the key Logto sends for a customConfig key.
func logtoSnakeCase(key string) string {
	for _, re := range snakeSplit {
		key = re.ReplaceAllString(key, "${1}\x00${2}")
	}
	key = snakeStrip.ReplaceAllString(key, "\x00")
	return strings.ToLower(strings.Join(strings.FieldsFunc(key, func(r rune) bool { return r == 0 }), "_"))
}

// snakeCaseKeys is m with Logto's key conversion; two keys that meet in
// one, or a key with no letter or digit, are an error.
func snakeCaseKeys(m map[string]string) (map[string]string, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	from := make(map[string]string, len(m))
	var errs []error
	for k, v := range m {
		sk := logtoSnakeCase(k)
		switch other, dup := from[sk]; {
		case sk == "":
			errs = append(errs, fmt.Errorf("CustomConfig key %q has no letter or digit", k))
		case dup:
			errs = append(errs, fmt.Errorf("CustomConfig keys %q and %q are both sent as %q (Logto snake_cases them)", min(k, other), max(k, other), sk))
		}
		out[sk], from[sk] = v, k
	}
	return out, errors.Join(errs...)
}
