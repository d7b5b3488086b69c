package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
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
	if err := sameSubject(claimsSubject(extra), sub); err != nil {
		return nil, err
	}
	return mergeClaims(claims, extra)
}

// protocolClaims belong to the ID token alone: userinfo may add to the
// user's claims but neither replace nor add these, or a "sid" from
// userinfo would pick the back-channel logout that ends the session, and
// an "acr" or "amr" would claim a sign-in stronger than the one the ID
// token signed.
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
		if slices.Contains(protocolClaims, k) {
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

// fetchUserInfo calls the OpenID provider's userinfo endpoint (OIDC
// Core §5.3) and returns its claims. Signed (JWT) userinfo responses are
// not supported.
func (a *Auth) fetchUserInfo(ctx context.Context, m *metadata, accessToken string) (map[string]json.RawMessage, error) {
	endpoint := m.provider.UserInfoEndpoint()
	if endpoint == "" {
		return nil, fail(ErrUserInfo, errors.New("the provider has no userinfo endpoint"))
	}
	body, err := a.getUserInfo(ctx, endpoint, accessToken, maxUserInfoBytes, true)
	if err != nil {
		return nil, err
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(body, &claims); err != nil || claims == nil {
		return nil, fail(ErrUserInfo, errors.New("userinfo response is not a JSON object"))
	}
	return claims, nil
}

// getUserInfo is the one userinfo request, for the OpenID provider and
// for a plain OAuth 2.0 provider's profile: a GET with the access token
// (RFC 6750 §2.1), the answer at most limit bytes, and JSON by its
// Content-Type when wantJSON is set (OIDC Core §5.3.2). Its errors wrap
// ErrUserInfo and name the HTTP status and the RFC 6750 error code only,
// never the response body: an error page of a proxy may echo the
// request's Authorization header, and errors reach log lines.
func (a *Auth) getUserInfo(ctx context.Context, endpoint, accessToken string, limit int64, wantJSON bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, fail(ErrUserInfo, errors.New("userinfo endpoint is not a valid URL"))
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	res, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fail(ErrUserInfo, err) // a *url.Error: the URL and a network cause
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fail(ErrUserInfo, newProviderError(bearerError(res.Header.Get("WWW-Authenticate")), "", "", res.StatusCode))
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); wantJSON && mt != "application/json" {
		return nil, fail(ErrUserInfo, errors.New("userinfo response is not JSON"))
	}
	body, err := readBounded(res, limit)
	if err != nil {
		return nil, fail(ErrUserInfo, err)
	}
	return body, nil
}

// claimsSubject is the sub claim of a userinfo answer, "" when it has no
// string sub.
func claimsSubject(claims map[string]json.RawMessage) string {
	var sub string
	if json.Unmarshal(claims["sub"], &sub) != nil {
		return ""
	}
	return sub
}

// sameSubject is the one check that a userinfo answer (or a plain OAuth
// 2.0 provider's profile) describes the user it was asked about: its
// subject is the ID token's at sign-in and the session's afterwards (OIDC
// Core §5.3.2). Without it a substituted access token could sign the user
// in as someone else, or show another person's profile.
func sameSubject(got, want string) error {
	if got == "" || got != want {
		return fail(ErrUserInfo, errors.New("userinfo subject differs from the signed-in user's"))
	}
	return nil
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
	if s == nil {
		return nil, fail(ErrNotSignedIn, nil)
	}
	if s.provider != "" {
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
	sub := claimsSubject(claims)
	if err := sameSubject(sub, s.user.Subject); err != nil {
		return nil, err
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
