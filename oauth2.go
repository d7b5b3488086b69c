package oidcauth

import (
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/oidcauth/oidcauth/internal/jose"
)

// OAuth2Provider is a plain OAuth 2.0 provider ("Sign in with GitHub" and
// the like): no ID token and no discovery, the user's profile read from a
// userinfo endpoint with its own field names. Its fields are those of
// Logto's generic OAuth 2.0 social connector, and its JSON form is that
// connector's configuration, which [ParseOAuth2Provider] reads as Logto
// does.
// List providers in [Config.OAuth2Providers]; users pick one at sign-in
// with /sign-in?provider=<Name>.
//
// Zero values get the defaults documented on each field, which are Logto's.
type OAuth2Provider struct {
	// Name identifies the provider in the sign-in URL, its callback path
	// and the session: 1 to 32 lower-case letters, digits, '-' or '_',
	// such as "github". Required; not part of Logto's JSON.
	Name string `json:"-"`
	// AuthorizationEndpoint is where the user is sent to sign in
	// (authorizationEndpoint). Required; https, or http on loopback.
	AuthorizationEndpoint string `json:"authorizationEndpoint"`
	// TokenEndpoint is where the authorization code is redeemed
	// (tokenEndpoint). Required: there is no flow without it.
	TokenEndpoint string `json:"tokenEndpoint"`
	// UserInfoEndpoint is where the profile is fetched with the access
	// token (userInfoEndpoint). Required.
	UserInfoEndpoint string `json:"userInfoEndpoint"`
	// ClientID and ClientSecret are the client's credentials (clientId,
	// clientSecret). Both required.
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// TokenEndpointAuthMethod is how the client authenticates when it
	// redeems a code or refresh token (tokenEndpointAuthMethod):
	// "client_secret_post" (the default, as in Logto), "client_secret_basic"
	// or "client_secret_jwt" (RFC 7523: a short-lived JWT signed with the
	// secret).
	TokenEndpointAuthMethod AuthMethod `json:"tokenEndpointAuthMethod"`
	// ClientSecretJWTSigningAlgorithm signs the client_secret_jwt assertion
	// (clientSecretJwtSigningAlgorithm): "HS256" (default), "HS384" or
	// "HS512". The secret must be at least as long as the hash: 32, 48 or
	// 64 bytes (RFC 7518 §3.2); New refuses a shorter one.
	ClientSecretJWTSigningAlgorithm string `json:"clientSecretJwtSigningAlgorithm"`
	// Scope is the space-separated scopes requested (scope). Optional.
	Scope string `json:"scope"`
	// ResponseType and GrantType may only be "code" and
	// "authorization_code" (responseType, grantType); empty means those.
	ResponseType string `json:"responseType"`
	GrantType    string `json:"grantType"`
	// TokenEndpointResponseType is the token endpoint's answer format
	// (tokenEndpointResponseType): "query-string" (form-encoded, as GitHub
	// answers unless asked for JSON; the default, as in Logto) or "json".
	// An answer in the other format is refused.
	TokenEndpointResponseType TokenResponseFormat `json:"tokenEndpointResponseType"`
	// CustomConfig holds extra parameters the provider needs, sent on the
	// authorization request and the code redemption (customConfig), such
	// as GitHub's allow_signup. As Logto does, each key is sent
	// snake_cased: accessType as access_type, login-hint as login_hint.
	// New refuses two keys that become one, and parameters the library
	// controls (state, code_challenge, redirect_uri, scope, client
	// credentials, …) under any spelling.
	CustomConfig map[string]string `json:"customConfig"`
	// ProfileMap says which profile fields hold the user's id, name,
	// avatar, e-mail and phone (profileMap).
	ProfileMap ProfileMap `json:"profileMap"`

	// RedirectURL is this provider's callback URL, registered at the
	// provider. Default: [Config.RedirectURL] + "/" + Name (e.g.
	// http://localhost:3000/callback/github). It must be on the same origin
	// as Config.RedirectURL, and each provider has its own: a response sent
	// to one provider's callback is never redeemed at another's (the
	// mix-up defence of RFC 9700 §4.4.2).
	RedirectURL string `json:"redirectUrl,omitempty"`
	// InsecureSkipPKCE leaves PKCE (RFC 7636) out of the authorization
	// request, for a provider that refuses its parameters. Most providers
	// ignore parameters they do not know (RFC 6749 §3.1), so keep it off
	// unless the provider fails with it. New logs a warning when it is set.
	InsecureSkipPKCE bool `json:"-"`
}

// ProfileMap names the profile fields that hold each user attribute. A
// name is a field of the profile object, or a dotted path into nested
// objects and arrays ("data.attributes.email", "emails.0.value"). Empty
// entries get the defaults, which are Logto's.
type ProfileMap struct {
	// ID is the user's id at the provider, a string or an integer. Default
	// "id". A profile without it fails the sign-in.
	ID string `json:"id"`
	// Name is the display name. Default "name".
	Name string `json:"name"`
	// Avatar is the picture URL. Default "avatar" (GitHub: "avatar_url").
	Avatar string `json:"avatar"`
	// Email is the e-mail address. Default "email".
	Email string `json:"email"`
	// Phone is the phone number. Default "phone".
	Phone string `json:"phone"`
}

// AuthMethod is how a client authenticates at a token endpoint (RFC 6749
// §2.3.1, OIDC Core §9), named as in discovery documents and in Logto's
// OAuth2 connector.
type AuthMethod string

// The client authentication methods an [OAuth2Provider] takes.
const (
	ClientSecretBasic AuthMethod = "client_secret_basic"
	ClientSecretPost  AuthMethod = "client_secret_post"
	ClientSecretJWT   AuthMethod = "client_secret_jwt"
)

// TokenResponseFormat is how a token endpoint writes its answer: Logto's
// OAuth2 connector's tokenEndpointResponseType.
type TokenResponseFormat string

// The token response formats an [OAuth2Provider] takes.
const (
	TokenResponseJSON        TokenResponseFormat = "json"
	TokenResponseQueryString TokenResponseFormat = "query-string"
)

// String names the provider and keeps its secret out of anything printed
// with %v.
func (p OAuth2Provider) String() string { return "oauth2 provider " + p.Name }

// LogValue keeps the client secret out of structured logs.
func (p OAuth2Provider) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", p.Name), slog.String("authorization_endpoint", p.AuthorizationEndpoint))
}

// reservedOAuth2Params are controlled by the library and may not be set
// through CustomConfig.
var reservedOAuth2Params = []string{
	"client_id", "client_secret", "client_assertion", "client_assertion_type", "redirect_uri", "response_type",
	"response_mode", "scope", "state", "code", "code_challenge", "code_challenge_method", "code_verifier",
	"grant_type", "refresh_token", "nonce", "request", "request_uri",
}

// normalize applies defaults to p and checks it; redirect is
// Config.RedirectURL (already checked), allowHTTP Config.InsecureAllowHTTP.
func (p *OAuth2Provider) normalize(redirect string, allowHTTP bool) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("oidcauth: OAuth2Providers[%q]: "+format, append([]any{p.Name}, args...)...))
	}
	if !validProviderName(p.Name) {
		bad("Name must be 1 to 32 lower-case letters, digits, '-' or '_'")
	}
	for _, e := range []struct {
		field, value string
	}{{"AuthorizationEndpoint (authorizationEndpoint)", p.AuthorizationEndpoint}, {"TokenEndpoint (tokenEndpoint)", p.TokenEndpoint}, {"UserInfoEndpoint (userInfoEndpoint)", p.UserInfoEndpoint}} {
		if e.value == "" {
			bad("%s is required", e.field)
		} else if _, err := checkURL(e.value, allowHTTP); err != nil {
			bad("%s %v", e.field, err)
		}
	}
	if p.ClientID == "" || p.ClientSecret == "" {
		bad("ClientID and ClientSecret (clientId, clientSecret) are required")
	}
	switch p.TokenEndpointAuthMethod {
	case "":
		p.TokenEndpointAuthMethod = ClientSecretPost
	case ClientSecretPost, ClientSecretBasic, ClientSecretJWT:
	default:
		bad("TokenEndpointAuthMethod %q is not one of client_secret_basic, client_secret_post, client_secret_jwt", p.TokenEndpointAuthMethod)
	}
	switch p.ClientSecretJWTSigningAlgorithm {
	case "":
		p.ClientSecretJWTSigningAlgorithm = "HS256"
	case "HS256", "HS384", "HS512":
	default:
		bad("ClientSecretJWTSigningAlgorithm %q is not one of HS256, HS384, HS512", p.ClientSecretJWTSigningAlgorithm)
	}
	// RFC 7518 §3.2: an HMAC key at least as long as the hash; go-jose
	// refuses to sign with a shorter one.
	if p.TokenEndpointAuthMethod == ClientSecretJWT && p.ClientSecret != "" &&
		jose.CheckHMACKey(p.ClientSecretJWTSigningAlgorithm, []byte(p.ClientSecret)) != nil {
		bad("ClientSecret is too short for %s client_secret_jwt assertions: RFC 7518 §3.2 asks for 32, 48 or 64 bytes for HS256, HS384 or HS512", p.ClientSecretJWTSigningAlgorithm)
	}
	if p.ResponseType == "" {
		p.ResponseType = "code"
	} else if p.ResponseType != "code" {
		bad("ResponseType must be \"code\": only the authorization code flow is supported")
	}
	if p.GrantType == "" {
		p.GrantType = "authorization_code"
	} else if p.GrantType != "authorization_code" {
		bad("GrantType must be \"authorization_code\"")
	}
	switch p.TokenEndpointResponseType {
	case "":
		p.TokenEndpointResponseType = TokenResponseQueryString
	case TokenResponseQueryString, TokenResponseJSON:
	default:
		bad("TokenEndpointResponseType %q is not \"json\" or \"query-string\"", p.TokenEndpointResponseType)
	}
	custom, err := snakeCaseKeys(p.CustomConfig)
	if err != nil {
		bad("%v", err)
	}
	for k := range custom {
		if slices.Contains(reservedOAuth2Params, k) {
			bad("CustomConfig may not set %q: the library controls it", k)
		}
	}
	p.CustomConfig = custom
	m := &p.ProfileMap
	for _, f := range []struct {
		path *string
		def  string
	}{{&m.ID, "id"}, {&m.Name, "name"}, {&m.Avatar, "avatar"}, {&m.Email, "email"}, {&m.Phone, "phone"}} {
		if *f.path == "" {
			*f.path = f.def
		} else if slices.Contains(strings.Split(*f.path, "."), "") {
			bad("ProfileMap entry %q has an empty path segment", *f.path)
		}
	}
	if p.RedirectURL == "" && validProviderName(p.Name) {
		p.RedirectURL = strings.TrimSuffix(redirect, "/") + "/" + p.Name
	}
	if u, err := checkURL(p.RedirectURL, allowHTTP); err != nil {
		bad("RedirectURL %v", err)
	} else if base, _ := url.Parse(redirect); base != nil && originOf(u) != originOf(base) {
		bad("RedirectURL must be on the origin of Config.RedirectURL, where the sign-in cookies are")
	}
	return errs
}

func validProviderName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// normalizeOAuth2 checks c.OAuth2Providers (a copy is kept): unique names,
// and a callback path of each one's own, apart from the app's other routes.
func (c *Config) normalizeOAuth2() []error {
	if len(c.OAuth2Providers) == 0 {
		return nil
	}
	var errs []error
	c.OAuth2Providers = slices.Clone(c.OAuth2Providers)
	paths := map[string]string{c.SignInPath: "SignInPath", c.SignOutPath: "SignOutPath"}
	if c.Issuer != "" {
		if u, err := url.Parse(c.RedirectURL); err == nil {
			paths[u.EscapedPath()] = "RedirectURL"
		}
	}
	names := map[string]bool{}
	for i := range c.OAuth2Providers {
		p := &c.OAuth2Providers[i]
		errs = append(errs, p.normalize(c.RedirectURL, c.InsecureAllowHTTP)...)
		if names[p.Name] {
			errs = append(errs, fmt.Errorf("oidcauth: OAuth2Providers: name %q is used twice", p.Name))
		}
		names[p.Name] = true
		u, err := url.Parse(p.RedirectURL)
		if err != nil {
			continue
		}
		if other, taken := paths[u.EscapedPath()]; taken {
			errs = append(errs, fmt.Errorf("oidcauth: OAuth2Providers[%q]: RedirectURL's path is already %s's: each provider needs a callback of its own", p.Name, other))
		}
		paths[u.EscapedPath()] = "OAuth2Providers[" + p.Name + "]"
		if p.InsecureSkipPKCE && c.Logger != nil {
			c.Logger.Warn("oidcauth: InsecureSkipPKCE is set: sign-in with this provider goes without PKCE", "provider", p.Name)
		}
	}
	return errs
}
