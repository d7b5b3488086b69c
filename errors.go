package oidcauth

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/oidcauth/oidcauth/internal/cookie"
)

// Sentinel errors. Every error the handlers report wraps exactly one of them,
// so an [Config.ErrorHandler] can branch with errors.Is. The messages are
// fixed and contain no request data, token, code or secret.
var (
	// ErrProviderUnavailable: the provider's discovery document could not be
	// fetched (or did not match the configured issuer). Answered with 503.
	ErrProviderUnavailable = errors.New("oidcauth: identity provider unavailable")
	// ErrInvalidState: the callback's state is missing, unknown, expired,
	// already used, or belongs to another browser. Answered with 400.
	ErrInvalidState = errors.New("oidcauth: invalid or expired sign-in state")
	// ErrInvalidCallback: the callback lacks a code, carries both a code and
	// an error, or is otherwise malformed. Answered with 400.
	ErrInvalidCallback = errors.New("oidcauth: invalid callback request")
	// ErrIssuerMismatch: the RFC 9207 iss parameter is wrong or missing while
	// the provider advertises it (a mix-up attack, or a misconfiguration).
	// Answered with 400.
	ErrIssuerMismatch = errors.New("oidcauth: authorization response from another issuer")
	// ErrCodeRejected: the token endpoint refused the authorization code
	// (invalid_grant: expired, replayed or not ours). Answered with 400.
	ErrCodeRejected = errors.New("oidcauth: authorization code rejected")
	// ErrTokenEndpoint: the token endpoint failed, timed out, or answered
	// something that is not a usable token response. Answered with 502.
	ErrTokenEndpoint = errors.New("oidcauth: token endpoint failed")
	// ErrInvalidIDToken: the ID token failed a check (signature, iss, aud,
	// exp, iat, nonce, sub, azp, at_hash). Answered with 502.
	ErrInvalidIDToken = errors.New("oidcauth: invalid ID token")
	// ErrUserInfo: the userinfo endpoint failed or answered for another
	// subject. Answered with 502.
	ErrUserInfo = errors.New("oidcauth: userinfo request failed")
	// ErrAccessDenied: the user or the provider refused the sign-in (the
	// callback carried an error such as access_denied, or the token
	// endpoint answered access_denied; a *[ProviderError] in the chain has
	// the details), [Config.OnSignIn] denied the user, or the provider
	// refused a token for a resource or organization ([Auth.AccessToken]:
	// access_denied, invalid_target, invalid_scope or unauthorized_client
	// at the refresh), or a sign-in came within the cut-off of a
	// revocation of its user ([Auth.SignOutEverywhere] moments before).
	// Answered with 403.
	ErrAccessDenied = errors.New("oidcauth: access denied")
	// ErrAuthorization: the provider answered the authorization request
	// with an error other than a refusal (invalid_scope,
	// unauthorized_client, server_error, …); a *[ProviderError] in the
	// chain has the details. Answered with 502.
	ErrAuthorization = errors.New("oidcauth: provider returned an authorization error")
	// ErrNotSignedIn: the request carries no valid session. RequireAuth
	// answers it with a redirect to sign in, or 401 for API requests.
	ErrNotSignedIn = errors.New("oidcauth: not signed in")
	// ErrNoRefreshToken: an access token has expired and the session has
	// no refresh token to renew it (the offline_access scope was not
	// granted). The user must sign in again. Answered with 401.
	ErrNoRefreshToken = errors.New("oidcauth: access token expired and no refresh token")
	// ErrSessionTooLarge: the session does not fit in the cookie budget
	// (eight chunks). Use a server-side [Config.Store]. Answered with 500.
	ErrSessionTooLarge = cookie.ErrTooLarge
	// ErrMethodNotAllowed: a handler was called with a method it does not
	// serve. Answered with 405.
	ErrMethodNotAllowed = errors.New("oidcauth: method not allowed")
	// ErrInternal: a fault on our side (randomness, encoding, a session
	// store). Answered with 500.
	ErrInternal = errors.New("oidcauth: internal error")
	// ErrForbidden: a signed-in user lacks what [Auth.Require] asks for (a
	// role, a scope, an organization). Answered with 403; the session
	// stays.
	ErrForbidden = errors.New("oidcauth: permission denied")
	// ErrInvalidToken: an access token presented to a [Bearer] failed a
	// check (signature, algorithm, typ, iss, aud, exp, nbf, iat, or an
	// inactive introspection answer). Answered with 401 and
	// WWW-Authenticate: Bearer error="invalid_token".
	ErrInvalidToken = errors.New("oidcauth: invalid access token")
	// ErrUnknownProvider: the sign-in named a provider that is not
	// configured, or none while the app has no default (no Issuer and
	// several [Config.OAuth2Providers]). Answered with 400.
	ErrUnknownProvider = errors.New("oidcauth: unknown sign-in provider")
)

// ProviderError is an OAuth 2.0 error the provider returned, either in the
// authorization response (RFC 6749 §4.1.2.1) or from the token endpoint
// (RFC 6749 §5.2). It is for logs and custom error handlers; the default
// error page never shows the provider's text.
type ProviderError struct {
	// Code is the error code, such as "access_denied" or "invalid_grant".
	// GitHub's names for invalid_grant (bad_verification_code,
	// bad_refresh_token) are reported as "invalid_grant".
	Code string
	// Description is the provider's error_description, if any.
	Description string
	// URI is the provider's error_uri, if any.
	URI string
	// StatusCode is the token endpoint's HTTP status; 0 for an
	// authorization response.
	StatusCode int
}

// Error names the code (and the token endpoint's status) only. The
// provider's free text stays out of it, and so out of log lines: a
// description may echo request data or a credential, and anyone can put
// one in a forged callback URL. Read Description where you need it.
func (e *ProviderError) Error() string {
	if e.StatusCode != 0 {
		return "oidcauth: provider error " + e.Code + " (HTTP " + strconv.Itoa(e.StatusCode) + ")"
	}
	return "oidcauth: provider error " + e.Code
}

// newProviderError keeps what a provider said, bounded. The code goes into
// Error() and so into log lines; anyone can put one in a forged callback
// URL, so a code outside RFC 6749's error character set (§4.1.2.1:
// printable ASCII less '"' and '\') is replaced.
func newProviderError(code, description, uri string, status int) *ProviderError {
	code = truncate(code, 64)
	for i := 0; i < len(code); i++ {
		if c := code[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			code = "malformed_error_code"
			break
		}
	}
	return &ProviderError{Code: code, Description: truncate(description, 256), URI: truncate(uri, 256), StatusCode: status}
}

// failure ties a sentinel to its cause while keeping both reachable through
// errors.Is and errors.As.
type failure struct {
	kind  error
	cause error
}

func (f *failure) Error() string {
	if f.cause == nil {
		return f.kind.Error()
	}
	// One "oidcauth:" per line: the cause's own prefix goes.
	return f.kind.Error() + ": " + strings.TrimPrefix(f.cause.Error(), "oidcauth: ")
}

func (f *failure) Unwrap() []error {
	if f.cause == nil {
		return []error{f.kind}
	}
	return []error{f.kind, f.cause}
}

func fail(kind, cause error) error { return &failure{kind: kind, cause: cause} }

// errorStatuses maps each sentinel to its HTTP status, its reason code
// (stable, for logs and metrics) and the fixed phrase shown to the user. The
// phrase never includes err.Error().
var errorStatuses = []struct {
	err    error
	status int
	reason string
	phrase string
}{
	{ErrProviderUnavailable, http.StatusServiceUnavailable, "provider_unavailable", "The sign-in service is unavailable right now. Please try again in a moment."},
	{ErrInvalidState, http.StatusBadRequest, "invalid_state", "This sign-in link has expired or was already used. Please sign in again."},
	{ErrInvalidCallback, http.StatusBadRequest, "invalid_callback", "The sign-in response was invalid. Please sign in again."},
	{ErrIssuerMismatch, http.StatusBadRequest, "issuer_mismatch", "The sign-in response came from an unexpected provider."},
	{ErrCodeRejected, http.StatusBadRequest, "code_rejected", "The sign-in could not be completed. Please sign in again."},
	{ErrTokenEndpoint, http.StatusBadGateway, "token_endpoint", "The sign-in service did not respond correctly. Please try again."},
	{ErrInvalidIDToken, http.StatusBadGateway, "invalid_id_token", "The sign-in service sent an invalid identity. Please try again."},
	{ErrUserInfo, http.StatusBadGateway, "userinfo", "The sign-in service did not return your profile. Please try again."},
	{ErrAccessDenied, http.StatusForbidden, "access_denied", "Sign-in was cancelled or refused."},
	{ErrAuthorization, http.StatusBadGateway, "authorization_error", "The sign-in service could not sign you in. Please try again later."},
	{ErrNotSignedIn, http.StatusUnauthorized, "not_signed_in", "Please sign in."},
	{ErrNoRefreshToken, http.StatusUnauthorized, "no_refresh_token", "Your sign-in has expired. Please sign in again."},
	{ErrSessionTooLarge, http.StatusInternalServerError, "session_too_large", "Your session could not be saved."},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed."},
	{ErrForbidden, http.StatusForbidden, "forbidden", "You do not have permission to see this page."},
	{ErrUnknownProvider, http.StatusBadRequest, "unknown_provider", "This sign-in option is not available."},
	{ErrInvalidToken, http.StatusUnauthorized, "invalid_token", "The access token is not valid."},
	{ErrInternal, http.StatusInternalServerError, "internal", internalPhrase},
}

const internalPhrase = "Something went wrong on our side. Please try again."

// ErrorStatus returns the HTTP status the default error handler uses for
// err: 400 for bad or replayed sign-in input (or an unknown provider), 403
// when the sign-in or a token was refused or a requirement is not met, 502
// or 503 when the provider fails, 401 when not signed in (also without a
// refresh token, or with an invalid access token), 405 for a method a
// handler does not serve, and 500 for anything else.
func ErrorStatus(err error) int {
	status, _ := classify(err)
	return status
}

// ErrorReason returns a short, stable code naming the sentinel err wraps,
// for logs, metrics and custom error pages: "provider_unavailable",
// "invalid_state", "invalid_callback", "issuer_mismatch", "code_rejected",
// "token_endpoint", "invalid_id_token", "userinfo", "access_denied",
// "authorization_error", "not_signed_in", "no_refresh_token",
// "session_too_large", "method_not_allowed", "forbidden",
// "unknown_provider", "invalid_token", or "internal" for anything else. It
// is the "reason" attribute of the "failed" log events.
func ErrorReason(err error) string {
	for _, e := range errorStatuses {
		if errors.Is(err, e.err) {
			return e.reason
		}
	}
	return "internal"
}

func classify(err error) (int, string) {
	for _, e := range errorStatuses {
		if errors.Is(err, e.err) {
			return e.status, e.phrase
		}
	}
	return http.StatusInternalServerError, internalPhrase
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#222}a{color:#4b3fd6}</style>
</head><body><main>
<h1 id="error-title">{{.Title}}</h1>
<p id="error-message">{{.Message}}</p>
<p><a href="{{.Home}}">Back to the home page</a></p>
</main></body></html>
`))

// writeError renders the default error response: a short fixed phrase as
// HTML for browsers, or {"error": …} JSON for API clients. Nothing from the
// request or the provider is echoed.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, phrase := classify(err)
	if wantsJSON(r) {
		h := w.Header()
		setPageHeaders(h)
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		code := errorCode(status)
		if errors.Is(err, ErrForbidden) {
			code = "forbidden" // signed in, not allowed; access_denied is a refused sign-in
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": phrase})
		return
	}
	title := http.StatusText(status)
	if errors.Is(err, ErrAccessDenied) {
		// The user's own cancel (RFC 6749 §4.1.2.1 access_denied, in the
		// authorization response) is no fault; any other refusal (the
		// token endpoint's, OnSignIn's) is the provider's or the app's.
		title = "Sign-in refused"
		if pe := (*ProviderError)(nil); errors.As(err, &pe) && pe.Code == "access_denied" && pe.StatusCode == 0 {
			title, phrase = "Sign-in cancelled", "The sign-in was cancelled, so you are not signed in."
		}
	}
	writePage(w, status, errorPage, struct{ Title, Message, Home string }{title, phrase, "/"})
}

func errorCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "access_denied"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusBadGateway:
		return "bad_gateway"
	case http.StatusServiceUnavailable:
		return "temporarily_unavailable"
	default:
		return "server_error"
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
