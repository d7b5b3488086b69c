package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// One client for every grant at a token endpoint (RFC 6749 §3.2): the
// OpenID provider's code exchange and refresh, and a plain OAuth 2.0
// provider's. It authenticates the client (client_auth.go), reads the
// answer in the configured format and size, and classifies a failure the
// same way whichever grant or provider it came from. x/oauth2's Exchange
// is not used: it has no client_secret_jwt, takes whichever format the
// Content-Type names, keeps the response body in its RetrieveError, and
// cost about a quarter of the callback's CPU.

// maxTokenResponseBytes bounds a token response: a few tokens, which end
// up in a session cookie. An ID token with a large groups claim is some
// kilobytes; this leaves room for far more.
const maxTokenResponseBytes = 64 << 10

// tokenEndpoint is one client's view of one token endpoint.
type tokenEndpoint struct {
	url      string
	clientID string
	secret   string
	// auth is how the client authenticates; "" is a public client, which
	// names itself in the body (RFC 6749 §2.3.1, §3.2.1).
	auth   AuthMethod
	jwtAlg string // client_secret_jwt's algorithm
	format TokenResponseFormat
	// oidc keeps the answer's id_token for verification. A plain OAuth 2.0
	// provider's has no key set to be verified against: it is dropped, so
	// it cannot be mistaken for one.
	oidc bool
}

// grantType is an RFC 6749 grant_type this client makes.
type grantType string

const (
	grantCode    grantType = "authorization_code" // RFC 6749 §4.1.3
	grantRefresh grantType = "refresh_token"      // RFC 6749 §6
)

// oidcTokenEndpoint is the OpenID provider's token endpoint, with the
// client authentication discovery chose (authStyle).
func (a *Auth) oidcTokenEndpoint(m *metadata) tokenEndpoint {
	e := tokenEndpoint{url: m.oauth2.Endpoint.TokenURL, clientID: a.cfg.ClientID, secret: a.cfg.ClientSecret,
		auth: ClientSecretBasic, format: TokenResponseJSON, oidc: true}
	switch {
	case a.cfg.ClientSecret == "":
		e.auth = ""
	case m.oauth2.Endpoint.AuthStyle == oauth2.AuthStyleInParams:
		e.auth = ClientSecretPost
	}
	return e
}

// exchange redeems an authorization code (RFC 6749 §4.1.3) with its PKCE
// verifier (RFC 7636 §4.5; "" when the sign-in had none) and extra
// parameters. An invalid_grant answer is [ErrCodeRejected].
func (e *tokenEndpoint) exchange(ctx context.Context, hc *http.Client, code, redirectURI, verifier string, extra map[string]string, now time.Time) (*tokenResponse, error) {
	form := url.Values{"grant_type": {string(grantCode)}, "code": {code}, "redirect_uri": {redirectURI}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	for k, v := range extra {
		form.Set(k, v)
	}
	return e.grant(ctx, hc, grantCode, form, now)
}

// refresh redeems a refresh token (RFC 6749 §6) with extra parameters
// (an RFC 8707 resource, Logto's organization_id). An invalid_grant
// answer is [ErrNotSignedIn]: the refresh token, and so the session, is
// dead.
func (e *tokenEndpoint) refresh(ctx context.Context, hc *http.Client, refreshToken string, params url.Values, now time.Time) (*tokenResponse, error) {
	form := url.Values{"grant_type": {string(grantRefresh)}, "refresh_token": {refreshToken}}
	for k, v := range params {
		form[k] = v
	}
	return e.grant(ctx, hc, grantRefresh, form, now)
}

// grant posts form, authenticated as the client, and reads the answer.
// Errors wrap one sentinel (tokenErrorKind), with a *[ProviderError] when
// the endpoint answered with an error; they never carry the response body,
// which may echo the request's code, refresh token or secret.
func (e *tokenEndpoint) grant(ctx context.Context, hc *http.Client, g grantType, form url.Values, now time.Time) (*tokenResponse, error) {
	req, err := e.request(ctx, e.url, form, now)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, fail(ErrTokenEndpoint, err) // a *url.Error: the URL and a network cause
	}
	defer res.Body.Close()
	raw, err := readBounded(res, maxTokenResponseBytes)
	if err != nil {
		return nil, fail(ErrTokenEndpoint, err)
	}
	tr, parseErr := e.parse(res.Header.Get("Content-Type"), raw)
	// An error answer: RFC 6749 §5.2 says 400 with JSON, GitHub says 200
	// with an error field in its usual format. Take it in either form.
	if res.StatusCode != http.StatusOK || (tr != nil && tr.Error != "") {
		if tr == nil || tr.Error == "" {
			tr = parseAnyTokenError(raw)
		}
		pe := newProviderError(tr.Error, tr.ErrorDescription, tr.ErrorURI, res.StatusCode)
		return nil, fail(tokenErrorKind(g, pe), pe)
	}
	if parseErr != nil {
		return nil, fail(ErrTokenEndpoint, parseErr)
	}
	if tr.AccessToken == "" {
		return nil, fail(ErrTokenEndpoint, errors.New("token response has no access_token"))
	}
	// RFC 6750: the only type this library can present. A sender-bound
	// type (DPoP) would be useless to it.
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, fail(ErrTokenEndpoint, errors.New("token response token_type is not Bearer"))
	}
	if !e.oidc {
		tr.IDToken = ""
	}
	return tr, nil
}

// request is a POST of form to target (the token endpoint, or another of
// the provider's endpoints that authenticates the client the same way, as
// RFC 7009's revocation endpoint does), authenticated as the client.
func (e *tokenEndpoint) request(ctx context.Context, target string, form url.Values, now time.Time) (*http.Request, error) {
	basic, err := e.authenticate(form, now)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fail(ErrTokenEndpoint, errors.New("endpoint is not a valid URL"))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if e.format == TokenResponseJSON {
		// GitHub answers form-encoded unless asked for JSON.
		req.Header.Set("Accept", "application/json")
	}
	if basic {
		// RFC 6749 §2.3.1: id and secret are form-encoded inside Basic.
		req.SetBasicAuth(url.QueryEscape(e.clientID), url.QueryEscape(e.secret))
	}
	return req, nil
}

// tokenRefusals are token endpoint errors meaning the provider will not issue
// this token (RFC 6749 §5.2, RFC 8707 §2): at a refresh the session
// stays, only this resource or organization token is refused.
var tokenRefusals = []string{"access_denied", "invalid_target", "invalid_scope", "unauthorized_client"}

// tokenErrorKind is the one mapping of token endpoint errors to
// sentinels, for every grant and provider:
//
//   - invalid_grant: the code was refused ([ErrCodeRejected], 400), or the
//     refresh token is dead and the session with it ([ErrNotSignedIn]);
//   - access_denied: [ErrAccessDenied] (403); at a refresh also the other
//     refusals, which refuse one resource or organization token;
//   - anything else, an unreadable answer included: [ErrTokenEndpoint]
//     (502).
//
// GitHub's names for invalid_grant (bad_verification_code,
// bad_refresh_token) become invalid_grant in pe.Code, so callers see one
// vocabulary.
func tokenErrorKind(g grantType, pe *ProviderError) error {
	if pe.Code == "bad_verification_code" || pe.Code == "bad_refresh_token" {
		pe.Code = "invalid_grant"
	}
	switch {
	case pe.Code == "invalid_grant" && g == grantCode:
		return ErrCodeRejected
	case pe.Code == "invalid_grant":
		return ErrNotSignedIn
	case pe.Code == "access_denied", g == grantRefresh && slices.Contains(tokenRefusals, pe.Code):
		return ErrAccessDenied
	default:
		return ErrTokenEndpoint
	}
}

// parse reads raw in e's configured format. An answer in the other
// format is refused: it means the provider is not the one configured, or
// the configuration names the wrong format.
func (e *tokenEndpoint) parse(contentType string, raw []byte) (*tokenResponse, error) {
	if e.format == TokenResponseJSON {
		var tr tokenResponse
		if err := json.Unmarshal(raw, &tr); err != nil {
			return nil, errors.New("token response is not a JSON object (tokenEndpointResponseType is json)")
		}
		return &tr, nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		return nil, errors.New("token response is JSON but tokenEndpointResponseType is query-string")
	}
	v, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, errors.New("token response is not form-encoded (tokenEndpointResponseType is query-string)")
	}
	return formTokenResponse(v), nil
}

// formTokenResponse reads a form-encoded token response; expires_in
// arrives as text and is kept as such, which tokenResponse.expiry reads.
func formTokenResponse(v url.Values) *tokenResponse {
	tr := &tokenResponse{
		AccessToken:      v.Get("access_token"),
		TokenType:        v.Get("token_type"),
		RefreshToken:     v.Get("refresh_token"),
		Scope:            v.Get("scope"),
		Error:            v.Get("error"),
		ErrorDescription: v.Get("error_description"),
		ErrorURI:         v.Get("error_uri"),
	}
	if e := v.Get("expires_in"); e != "" {
		tr.ExpiresIn, _ = json.Marshal(e)
	}
	return tr
}

// parseAnyTokenError reads the error fields of a failed answer, JSON or
// form-encoded; a body that is neither (a proxy's page, a crash) gives
// none.
func parseAnyTokenError(raw []byte) *tokenResponse {
	var tr tokenResponse
	if json.Unmarshal(raw, &tr) == nil {
		return &tr
	}
	if v, err := url.ParseQuery(string(raw)); err == nil && v.Has("error") {
		return formTokenResponse(v)
	}
	return &tokenResponse{}
}

// tokenResponse is a token endpoint's success or error answer (RFC 6749
// §5.1, §5.2; OIDC Core §3.1.3.3, §12.2).
type tokenResponse struct {
	AccessToken  string          `json:"access_token"`
	TokenType    string          `json:"token_type"`
	RefreshToken string          `json:"refresh_token"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
	IDToken      string          `json:"id_token"`
	Scope        string          `json:"scope"`

	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorURI         string `json:"error_uri"`
}

// expiry is the access token's expiry in unix seconds, 0 when unknown.
// expires_in is a number by the RFC, a string at some providers.
func (t *tokenResponse) expiry(now int64) int64 {
	raw := strings.Trim(string(t.ExpiresIn), `"`)
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return now + min(n, 1<<31)
}
