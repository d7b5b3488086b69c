package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// mergeUserInfo fetches userinfo (OIDC Core §5.3) and overlays its claims on
// the ID token's; its sub must equal the ID token's (§5.3.2), or a token
// substitution could sign the user in as someone else.
func (a *Auth) mergeUserInfo(ctx context.Context, m *metadata, accessToken, sub string, claims json.RawMessage) (json.RawMessage, error) {
	extra, err := a.fetchUserInfo(ctx, m, accessToken)
	if err != nil {
		return nil, err
	}
	var got string
	if err := json.Unmarshal(extra["sub"], &got); err != nil || got != sub {
		return nil, fail(ErrUserInfo, errors.New("userinfo sub differs from the ID token's"))
	}
	return mergeClaims(claims, extra)
}

// protocolClaims belong to the ID token alone: userinfo may add to the
// user's claims but not replace these, or a "sid" from userinfo would pick
// the back-channel logout that ends the session.
var protocolClaims = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp", "at_hash", "c_hash", "sid", "auth_time", "acr", "amr", "jti"}

// mergeClaims overlays userinfo's claims on the ID token's, except the
// protocol claims. Raw values keep numbers and nested objects exactly as
// the provider sent them.
func mergeClaims(claims json.RawMessage, extra map[string]json.RawMessage) (json.RawMessage, error) {
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(claims, &merged); err != nil {
		return nil, fail(ErrInternal, err)
	}
	for k, v := range extra {
		if _, set := merged[k]; set && slices.Contains(protocolClaims, k) {
			continue
		}
		merged[k] = v
	}
	out, err := json.Marshal(merged)
	if err != nil {
		return nil, fail(ErrInternal, err)
	}
	return out, nil
}

// wantsUserInfo tells whether sign-in calls userinfo for an ID token with
// claims c ([Config.UserInfo]).
func (a *Auth) wantsUserInfo(c *idClaims) bool {
	switch a.cfg.UserInfo {
	case UserInfoAlways:
		return true
	case UserInfoNever:
		return false
	}
	lacksProfile := c.Name == "" && c.PreferredUsername == "" && c.Username == "" && c.Picture == ""
	return (a.asksProfile && lacksProfile) || (a.asksEmail && c.Email == "")
}

// fetchUserInfo calls the userinfo endpoint with the access token. Its
// errors name the HTTP status and the RFC 6750 error code only, never the
// response body: an error page of a proxy may echo the request's
// Authorization header, and errors reach log lines. Signed (JWT) userinfo
// responses are not supported. The answer may be 64 KiB at most.
func (a *Auth) fetchUserInfo(ctx context.Context, m *metadata, accessToken string) (map[string]json.RawMessage, error) {
	endpoint := m.provider.UserInfoEndpoint()
	if endpoint == "" {
		return nil, fail(ErrUserInfo, errors.New("the provider has no userinfo endpoint"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, fail(ErrUserInfo, errors.New("userinfo endpoint is not a valid URL"))
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fail(ErrUserInfo, err) // a *url.Error: the URL and a network cause
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fail(ErrUserInfo, newProviderError(bearerError(resp.Header.Get("WWW-Authenticate")), "", "", resp.StatusCode))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, fail(ErrUserInfo, errors.New("userinfo response is not JSON"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUserInfoBytes+1))
	if err != nil {
		return nil, fail(ErrUserInfo, err)
	}
	if len(body) > maxUserInfoBytes {
		return nil, fail(ErrUserInfo, errors.New("userinfo response is larger than 64 KiB"))
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(body, &claims); err != nil {
		return nil, fail(ErrUserInfo, errors.New("userinfo response is not a JSON object"))
	}
	return claims, nil
}

// bearerError reads the error code of an RFC 6750 §3 challenge, such as
// Bearer error="invalid_token", or "" when there is none.
func bearerError(challenge string) string {
	_, rest, ok := strings.Cut(challenge, `error="`)
	if !ok {
		return ""
	}
	code, _, _ := strings.Cut(rest, `"`)
	return code
}

// FetchUserInfo calls the provider's userinfo endpoint (OIDC Core §5.3)
// with the session's access token, refreshed if needed, and returns the
// user it describes. Its subject must be the session's, or the answer is
// rejected with [ErrUserInfo]: a token substitution could otherwise show
// another person's profile. The session itself is not changed.
func (a *Auth) FetchUserInfo(w http.ResponseWriter, r *http.Request) (*User, error) {
	tok, err := a.AccessToken(w, r, "")
	if err != nil {
		return nil, err
	}
	s := a.session(nil, r)
	if s != nil && s.provider != "" {
		return a.fetchOAuth2User(r.Context(), s, tok)
	}
	m, err := a.discovery.get(r.Context())
	if err != nil {
		return nil, err
	}
	ctx := oidc.ClientContext(r.Context(), a.cfg.HTTPClient)
	claims, err := a.fetchUserInfo(ctx, m, tok)
	if err != nil {
		return nil, err
	}
	var sub string
	if s == nil || json.Unmarshal(claims["sub"], &sub) != nil || sub != s.user.Subject {
		return nil, fail(ErrUserInfo, errors.New("userinfo sub differs from the session's"))
	}
	raw, err := json.Marshal(claims)
	if err != nil {
		return nil, fail(ErrInternal, err)
	}
	u, err := a.userFromClaims(sub, raw)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// maxUserInfoBytes bounds a userinfo answer: a profile, not a document.
const maxUserInfoBytes = 64 << 10
