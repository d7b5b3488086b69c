package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oidcauth/oidcauth/internal/jose"
)

// The token endpoint of a plain OAuth 2.0 provider: client authentication
// by the configured method, and the answer read in the configured format.
// x/oauth2 does neither (it has no client_secret_jwt, and it takes whichever
// format the Content-Type names), so these requests are made here, for the
// code redemption and for refreshes alike.

// clientAssertionType is RFC 7523 §2.2's client_assertion_type.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime bounds a client_secret_jwt assertion: it is made for
// one request, sent at once.
const assertionLifetime = time.Minute

// tokenRequest posts form to p's token endpoint, authenticated as the
// client, and reads the answer. Errors wrap ErrTokenEndpoint, with a
// *ProviderError when the provider answered with an OAuth error; they
// never carry the response body, which may echo the request's secrets.
func (p *oauth2Client) tokenRequest(ctx context.Context, hc *http.Client, form url.Values, now time.Time) (*tokenResponse, error) {
	body := url.Values{}
	for k, v := range form {
		body[k] = v
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenEndpoint, nil)
	if err != nil {
		return nil, fail(ErrTokenEndpoint, errors.New("token endpoint is not a valid URL"))
	}
	switch p.TokenEndpointAuthMethod {
	case ClientSecretBasic:
		// RFC 6749 §2.3.1: id and secret are form-encoded inside Basic.
		req.SetBasicAuth(url.QueryEscape(p.ClientID), url.QueryEscape(p.ClientSecret))
	case ClientSecretJWT:
		assertion, err := p.clientAssertion(now)
		if err != nil {
			return nil, fail(ErrInternal, err)
		}
		body.Set("client_id", p.ClientID)
		body.Set("client_assertion_type", clientAssertionType)
		body.Set("client_assertion", assertion)
	default: // client_secret_post
		body.Set("client_id", p.ClientID)
		body.Set("client_secret", p.ClientSecret)
	}
	encoded := body.Encode()
	req.Body = io.NopCloser(strings.NewReader(encoded))
	req.ContentLength = int64(len(encoded))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p.TokenEndpointResponseType == TokenResponseJSON {
		// GitHub answers form-encoded unless asked for JSON.
		req.Header.Set("Accept", "application/json")
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, fail(ErrTokenEndpoint, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fail(ErrTokenEndpoint, err)
	}
	tr, parseErr := p.parseTokenResponse(res, raw)
	// An error answer: RFC 6749 §5.2 says 400 with JSON, GitHub says 200
	// with an error field in its usual format. Take it in either form.
	if res.StatusCode != http.StatusOK || (tr != nil && tr.Error != "") {
		if tr == nil || tr.Error == "" {
			tr = parseAnyTokenError(raw)
		}
		pe := newProviderError(tr.Error, tr.ErrorDescription, tr.ErrorURI, res.StatusCode)
		return nil, fail(ErrTokenEndpoint, pe)
	}
	if parseErr != nil {
		return nil, fail(ErrTokenEndpoint, parseErr)
	}
	if tr.AccessToken == "" {
		return nil, fail(ErrTokenEndpoint, errors.New("token response has no access_token"))
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, fail(ErrTokenEndpoint, errors.New("token response token_type is not Bearer"))
	}
	// A plain OAuth 2.0 provider's id_token, if any, is not verified (there
	// is no discovery and no key set): it must not be mistaken for one.
	tr.IDToken = ""
	return tr, nil
}

// parseTokenResponse reads raw in p's configured format. An answer in the
// other format is refused: it means the provider is not the one configured,
// or the configuration names the wrong format.
func (p *oauth2Client) parseTokenResponse(res *http.Response, raw []byte) (*tokenResponse, error) {
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	if p.TokenEndpointResponseType == TokenResponseJSON {
		var tr tokenResponse
		if err := json.Unmarshal(raw, &tr); err != nil {
			return nil, errors.New("token response is not a JSON object (tokenEndpointResponseType is json)")
		}
		return &tr, nil
	}
	if isJSON {
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
// form-encoded; a body that is neither (a proxy's page) gives none.
func parseAnyTokenError(raw []byte) *tokenResponse {
	var tr tokenResponse
	if json.Unmarshal(raw, &tr) == nil {
		return &tr
	}
	if v, err := url.ParseQuery(string(raw)); err == nil && v.Has("error") {
		return formTokenResponse(v)
	}
	return &tr
}

// clientAssertion is the client_secret_jwt assertion (RFC 7523 §3, OIDC
// Core §9): iss and sub the client, aud the token endpoint, a unique jti
// so the provider can refuse a replay, and a short exp.
func (p *oauth2Client) clientAssertion(now time.Time) (string, error) {
	claims, err := json.Marshal(struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Jti string `json:"jti"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
	}{p.ClientID, p.ClientID, p.TokenEndpoint, randomString(), now.Unix(), now.Add(assertionLifetime).Unix()})
	if err != nil {
		return "", err
	}
	// go-jose signs, and refuses a secret shorter than the hash (RFC 7518
	// §3.2), which the provider's configuration check reports at New.
	return jose.SignHMAC(p.ClientSecretJWTSigningAlgorithm, []byte(p.ClientSecret), claims)
}
