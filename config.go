package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/sessions"
)

// Config configures an [Auth]. It is copied by [New]; changing it afterwards
// has no effect. Zero values get the defaults documented on each field.
type Config struct {
	// Issuer is the provider's issuer URL, exactly as its discovery document
	// states it. For Logto it is the "Issuer endpoint" of the application,
	// ending in /oidc (https://<tenant>.logto.app/oidc). Required unless
	// OAuth2Providers lists a provider; https unless the host is a loopback
	// address (or InsecureAllowHTTP is set).
	Issuer string
	// ClientID is the client (Logto: "App ID"). Required with Issuer.
	ClientID string
	// ClientSecret is the client secret (Logto: "App secret"). Empty means a
	// public client, which then relies on PKCE alone.
	ClientSecret string
	// RedirectURL is the absolute callback URL registered at the provider
	// (Logto: "Redirect URI"), e.g. http://localhost:3000/callback. It is
	// used verbatim, never rebuilt from request headers. Required. Its
	// scheme decides whether cookies are Secure, and its origin is the one
	// the sign-out handler trusts.
	RedirectURL string
	// PostLogoutRedirectURL is where the provider sends the browser after
	// sign-out (Logto: "Post sign-out redirect URI"). Optional; when empty
	// the sign-out handler lands on "/".
	PostLogoutRedirectURL string

	// Scopes requested at sign-in. Default: openid, profile, email,
	// offline_access (the last gives a refresh token). As Logto's SDKs do,
	// openid, offline_access and profile are added to a list that lacks
	// them, so a custom list (["roles"], say) keeps the refresh token and
	// the user's name; set ExactScopes to send the list as it is.
	Scopes []string
	// ExactScopes sends Scopes as given, adding only "openid": for a
	// provider that refuses offline_access (Google, which issues refresh
	// tokens through AuthParams access_type=offline instead) or to sign in
	// without a refresh token.
	ExactScopes bool
	// Prompt is the OIDC prompt parameter sent at sign-in. Default:
	// "consent" when Scopes holds offline_access (Logto, like
	// node-oidc-provider, issues a refresh token only then), none otherwise.
	// Set it to "login" to force re-authentication; "none" makes every
	// sign-in a silent one that falls back to an interactive sign-in (see
	// [WithSilentSignIn]).
	Prompt string
	// AuthParams are extra authorization request parameters sent on every
	// sign-in (e.g. Logto's "first_screen"). Protocol parameters that the
	// library controls (state, nonce, code_challenge, redirect_uri, …) are
	// refused by New.
	AuthParams map[string]string
	// Resources are the API resources (RFC 8707 resource indicators; in
	// Logto, each API resource's "API identifier") requested at sign-in,
	// so that [Auth.AccessToken] can later get a token for each. Absolute
	// URIs without a fragment. With [OrganizationsScope] in Scopes, Logto's
	// organizations resource is requested too, as Logto's SDKs do.
	Resources []string
	// OAuth2Providers are plain OAuth 2.0 providers (GitHub and the like)
	// offered beside the OpenID Connect provider, or instead of it when
	// Issuer is empty. Each has its own callback path; users choose one
	// with /sign-in?provider=<name>. See [OAuth2Provider].
	OAuth2Providers []OAuth2Provider
	// UserInfo says when sign-in calls the userinfo endpoint (OIDC Core
	// §5.3) and merges its claims into the user. Default [UserInfoAuto]:
	// only when Scopes ask for profile or e-mail claims that the ID token
	// lacks, as node-oidc-provider (Logto's engine) and zitadel issue them
	// beside an access token.
	UserInfo UserInfoMode

	// SessionKeys encrypt and authenticate the session and sign-in cookies.
	// Each must be at least 32 bytes of secret random data; an AES-256 key
	// is derived from each with HKDF, bound to the app's origin (from
	// RedirectURL), the issuer and the client ID, so that another
	// deployment sharing the secret cannot pass its cookies off as this
	// app's. The first key encrypts; all keys
	// decrypt, so rotation is: prepend the new key, keep the old one for a
	// session lifetime, then drop it. Required.
	SessionKeys [][]byte
	// CookieName names the session cookie. Default "oidcauth"; on https the
	// name gets the "__Host-" prefix, which browsers only accept from a
	// secure origin with Path=/ and no Domain. Transaction cookies are named
	// CookieName+"_tx."+id.
	CookieName string
	// SessionMaxAge is the absolute session lifetime from sign-in, enforced
	// inside the encrypted payload. Default 7 days.
	SessionMaxAge time.Duration
	// SessionIdleTimeout ends a session that has not been used for this
	// long. Activity re-issues the cookie at most once per eighth of the
	// window. Default 24 hours; it is capped at SessionMaxAge.
	SessionIdleTimeout time.Duration
	// Store, when set, keeps sessions server-side through a gorilla/sessions
	// store (Redis, SQL, the filesystem, …); the browser then holds only
	// what the store puts in its cookie. [NewServerStore] is the one to
	// use: it seals each session under a key only the browser's cookie
	// holds. Default: encrypted cookies.
	Store sessions.Store

	// Revocations records sessions ended before their cookies expire
	// (sign-out, back-channel logout, [Auth.SignOutEverywhere]) and is
	// consulted by RequireAuth on every request. Default: in memory
	// ([NewMemoryRevocations]), right for one instance until it restarts;
	// the stores/bolt module keeps them across restarts, and several
	// instances share them through the stores/redis module.
	Revocations Revocations
	// RefreshCoordinator makes several instances spend a rotating refresh
	// token once between them: one instance refreshes, the others adopt
	// its outcome (see [RefreshCoordinator]). Default: a
	// [MemoryCoordinator] of this Auth's own, right for one instance; the
	// stores/bolt module keeps outcomes across restarts, and several
	// instances share them through the stores/redis module.
	RefreshCoordinator RefreshCoordinator
	// BackChannelLogoutPath is where Mount puts the back-channel logout
	// handler ([Auth.BackChannelLogoutHandler]); register BaseURL plus this
	// path at the provider (Logto: "Backchannel logout URI"). Default
	// "/backchannel-logout".
	BackChannelLogoutPath string

	// SignInPath is where RequireAuth sends browsers that are not signed
	// in, with ?returnTo=, and where Mount puts the sign-in handler.
	// Default "/sign-in".
	SignInPath string
	// SignOutPath is where Mount puts the sign-out handler. Default
	// "/sign-out".
	SignOutPath string
	// HTTPClient makes every call to the provider. A client without a
	// Timeout gets 10 s, one without CheckRedirect follows no redirects;
	// responses are cut at 1 MiB either way. Default: a client with those
	// limits.
	HTTPClient *http.Client
	// ClockSkew is the leeway allowed against the local clock: for ID token
	// exp and iat, for auth_time against max_age (step-up), and as the
	// margin added to the cut-off of [Auth.SignOutEverywhere] and of a
	// back-channel logout naming a sid. Default 1 minute.
	ClockSkew time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives one structured line per sign-in event; it never
	// receives a token, code, secret or cookie value. Default slog.Default().
	Logger *slog.Logger
	// ErrorHandler renders failures of the sign-in, callback and sign-out
	// handlers. It receives an error wrapping one of the Err* sentinels;
	// [ErrorStatus] gives the default status. Default: a short fixed page
	// (JSON for API requests) that never shows err.Error().
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// OnSignIn runs after the ID token is verified and before the session is
	// written. It may adjust the user (e.g. map to a local account); an
	// error denies the sign-in with 403 and no session.
	OnSignIn func(ctx context.Context, user *User) error

	// InsecureAllowHTTP permits plain-http issuer and redirect URLs on hosts
	// other than loopback (e.g. a provider container on an internal network).
	// New logs a warning when it is set.
	InsecureAllowHTTP bool
}

// reservedAuthParams are controlled by the library and must not be set
// through AuthParams.
var reservedAuthParams = []string{
	"client_id", "client_secret", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce", "resource",
	"code_challenge", "code_challenge_method", "request", "request_uri",
	"max_age", "acr_values", // WithMaxAge and WithACRValues: checked at the callback
}

const (
	defaultMaxAge      = 7 * 24 * time.Hour
	defaultIdleTimeout = 24 * time.Hour
	defaultClockSkew   = time.Minute
	defaultHTTPTimeout = 10 * time.Second
	maxResponseBytes   = 1 << 20
)

// normalize applies defaults and validates; it never touches the network.
func (c *Config) normalize() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("oidcauth: "+format, args...)) }

	if c.Issuer == "" {
		if len(c.OAuth2Providers) == 0 {
			bad("Issuer is required (for Logto: https://<tenant>.logto.app/oidc), or OAuth2Providers")
		}
	} else if u, err := checkURL(c.Issuer, c.InsecureAllowHTTP); err != nil {
		bad("Issuer %v", err)
	} else if strings.HasSuffix(u.Hostname(), ".logto.app") && strings.TrimSuffix(u.Path, "/") != "/oidc" {
		bad("Issuer for Logto ends in /oidc (https://%s/oidc)", u.Host)
	}
	if c.ClientID == "" && c.Issuer != "" {
		bad("ClientID is required (Logto: App ID)")
	}
	if c.RedirectURL == "" {
		bad("RedirectURL is required (the absolute callback URL registered at the provider)")
	} else if _, err := checkURL(c.RedirectURL, c.InsecureAllowHTTP); err != nil {
		bad("RedirectURL %v", err)
	}
	if c.PostLogoutRedirectURL != "" {
		if _, err := checkURL(c.PostLogoutRedirectURL, c.InsecureAllowHTTP); err != nil {
			bad("PostLogoutRedirectURL %v", err)
		}
	}
	if len(c.SessionKeys) == 0 {
		bad("SessionKeys is required: at least one key of 32 random bytes or more")
	}
	for i, k := range c.SessionKeys {
		if len(k) < 32 {
			bad("SessionKeys[%d] is %d bytes; at least 32 are needed", i, len(k))
		}
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "profile", "email", "offline_access"}
	} else {
		implied := []string{"openid", "offline_access", "profile"} // Logto's SDKs' order
		if c.ExactScopes {
			implied = implied[:1]
		}
		var scopes []string
		for _, sc := range append(implied, c.Scopes...) {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
		c.Scopes = scopes
	}
	if c.Prompt == "" && slices.Contains(c.Scopes, "offline_access") {
		c.Prompt = "consent"
	}
	for _, res := range c.Resources {
		// RFC 8707 §2: an absolute URI without a fragment.
		if u, err := url.Parse(res); err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(res, "#") {
			bad("Resources entry %q must be an absolute URI without a fragment (Logto: the API identifier)", res)
		}
	}
	c.Resources = slices.Clone(c.Resources)
	for k := range c.AuthParams {
		if k == "resource" {
			bad("AuthParams may not set resource: list API resources in Resources")
		} else if slices.Contains(reservedAuthParams, k) {
			bad("AuthParams may not set %q: the library controls it", k)
		}
	}
	if c.UserInfo < UserInfoAuto || c.UserInfo > UserInfoNever {
		bad("UserInfo %d is not UserInfoAuto, UserInfoAlways or UserInfoNever", c.UserInfo)
	}
	if c.CookieName == "" {
		c.CookieName = "oidcauth"
	}
	if !validCookieName(c.CookieName) {
		bad("CookieName %q has characters not allowed in a cookie name", c.CookieName)
	}
	switch {
	case c.SessionMaxAge < 0 || c.SessionIdleTimeout < 0 || c.ClockSkew < 0:
		bad("SessionMaxAge, SessionIdleTimeout and ClockSkew may not be negative")
	}
	if c.SessionMaxAge == 0 {
		c.SessionMaxAge = defaultMaxAge
	}
	if c.SessionIdleTimeout == 0 {
		c.SessionIdleTimeout = defaultIdleTimeout
	}
	c.SessionIdleTimeout = min(c.SessionIdleTimeout, c.SessionMaxAge)
	if c.SessionMaxAge < time.Minute {
		bad("SessionMaxAge of %v is too short to sign in", c.SessionMaxAge)
	} else if c.SessionIdleTimeout < time.Minute {
		bad("SessionIdleTimeout of %v is too short to sign in (durations are time.Duration: 30*time.Minute, not 30)", c.SessionIdleTimeout)
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = defaultClockSkew
	}
	for _, p := range []struct {
		name string
		path *string
		def  string
	}{{"SignInPath", &c.SignInPath, "/sign-in"}, {"SignOutPath", &c.SignOutPath, "/sign-out"}, {"BackChannelLogoutPath", &c.BackChannelLogoutPath, "/backchannel-logout"}} {
		if *p.path == "" {
			*p.path = p.def
		} else if !strings.HasPrefix(*p.path, "/") || strings.HasPrefix(*p.path, "//") {
			bad("%s must be a path starting with a single /", p.name)
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Revocations == nil {
		c.Revocations = &MemoryRevocations{now: c.Now}
	}
	if c.RefreshCoordinator == nil {
		c.RefreshCoordinator = &MemoryCoordinator{records: map[string]*coordRecord{}, now: c.Now}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	errs = append(errs, c.normalizeOAuth2()...)
	c.HTTPClient = limitedClient(c.HTTPClient)
	c.AuthParams = cloneMap(c.AuthParams)
	c.SessionKeys = slices.Clone(c.SessionKeys)
	return errors.Join(errs...)
}

// checkURL accepts absolute http(s) URLs without fragment or user info; http
// only for loopback hosts unless allowHTTP.
func checkURL(raw string, allowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, errors.New("must be an absolute URL")
	}
	if u.Fragment != "" || u.User != nil {
		return nil, errors.New("must not have a fragment or user info")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP && !isLoopback(u.Hostname()) {
			return nil, errors.New("must use https (plain http is accepted for localhost only)")
		}
	default:
		return nil, errors.New("must use https")
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validCookieName(s string) bool {
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
