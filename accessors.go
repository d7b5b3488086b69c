package oidcauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Token is an access token with what an app may know about it, from
// [Auth.Token]. Its value is for an Authorization header: String, LogValue
// and MarshalJSON print "[token redacted]", for a Token held by value (a
// struct field, a copy) as for a *Token.
type Token struct {
	// Value is the access token itself.
	Value string
	// Resource is the API resource it is for; "" for the sign-in's own.
	Resource string
	// Expiry is when it expires; zero when the provider did not say.
	Expiry time.Time
}

// String keeps the token out of anything printed with %v.
func (t Token) String() string { return "[token redacted]" }

// LogValue keeps the token out of structured logs.
func (t Token) LogValue() slog.Value { return slog.StringValue("[token redacted]") }

// MarshalJSON keeps the token out of JSON.
func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"[token redacted]"`), nil }

// IsJWT reports whether the token is a JWT (RFC 9068, as Logto issues for
// API resources and organizations) rather than an opaque string.
func (t *Token) IsJWT() bool { return t.payload() != nil }

// ErrOpaqueToken is returned by [Token.Claims] for a token that is not a
// JWT: only the provider can tell what an opaque token stands for.
var ErrOpaqueToken = errors.New("oidcauth: the access token is opaque, not a JWT")

// Claims decodes the JWT's claims (aud, scope, exp, client_id, …) into v,
// like Logto's getAccessTokenClaims: without checking the signature, which
// is the API's job; the token came straight from the provider's token
// endpoint over TLS. An opaque token gives [ErrOpaqueToken].
func (t *Token) Claims(v any) error {
	p := t.payload()
	if p == nil {
		return ErrOpaqueToken
	}
	return json.Unmarshal(p, v)
}

func (t *Token) payload() []byte {
	if t == nil || strings.Count(t.Value, ".") != 2 {
		return nil
	}
	seg := strings.Split(t.Value, ".")[1]
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil || !json.Valid(b) || len(b) == 0 || b[0] != '{' {
		return nil
	}
	return b
}

// Token is [Auth.AccessToken] with the token's expiry and resource, and its
// claims when it is a JWT ([Token.Claims]). The same rules apply: call it
// before the response is written.
func (a *Auth) Token(w http.ResponseWriter, r *http.Request, resource string) (*Token, error) {
	key, params := tokenKey{}, url0
	if resource != "" {
		key, params = tokenKey{kind: keyResource, name: resource}, map[string][]string{"resource": {resource}}
	}
	v, exp, err := a.token(w, r, key, params)
	if err != nil {
		return nil, err
	}
	t := &Token{Value: v, Resource: resource}
	if exp != 0 {
		t.Expiry = time.Unix(exp, 0)
	}
	return t, nil
}

var url0 map[string][]string

// IDToken returns the session's raw ID token (Logto's getIdToken), the
// newest one after a refresh, or "" when r has no session or the provider
// issued none (a plain OAuth 2.0 provider). Its claims are the user's:
// [User.Claims].
func (a *Auth) IDToken(r *http.Request) string {
	s := a.session(nil, r)
	if s == nil || s.idToken.empty() {
		return ""
	}
	if st := a.tokens.lookup(s.id); st != nil {
		if snap := st.snapshot(); snap != nil && !snap.idToken.empty() {
			return snap.idToken.compact()
		}
	}
	return s.idToken.compact()
}

// HasRefreshToken reports whether r's session holds a refresh token, so
// that [Auth.AccessToken] can renew expired tokens and get tokens for API
// resources: with the offline_access scope, which Logto grants with
// prompt=consent (both defaults).
func (a *Auth) HasRefreshToken(r *http.Request) bool {
	s := a.session(nil, r)
	return s != nil && s.refreshToken != ""
}
