package oidcauth

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
)

// maxBearerToken bounds the token a request may present. Logto's and
// node-oidc-provider's access tokens are about 1 KB; custom claims rarely
// take them past 4 KB.
const maxBearerToken = 8 << 10

// organizationAudience prefixes the audience of Logto's organization
// tokens.
const organizationAudience = "urn:logto:organization:"

var (
	errNoToken    = errors.New("oidcauth: no bearer token in the request")
	errBadRequest = errors.New("oidcauth: malformed bearer token request")
)

// tokenRefusal is a refused token or request: its kind ([ErrInvalidToken]
// or errBadRequest) decides the answer, its reason goes to the debug log.
type tokenRefusal struct {
	kind   error
	reason string
}

func (e *tokenRefusal) Error() string { return e.kind.Error() + ": " + e.reason }
func (e *tokenRefusal) Unwrap() error { return e.kind }

func errInvalidToken(reason string) error { return &tokenRefusal{ErrInvalidToken, reason} }
func errMalformed(reason string) error    { return &tokenRefusal{errBadRequest, reason} }

// requestToken takes the token from the Authorization header (RFC 6750
// §2.1), the one method read: a token in a URL ends up in logs and
// Referer headers (§5.3). It allocates nothing. Its characters are checked
// on a cache miss (Bearer.entry): a token found in the cache is the very
// string that passed before.
func requestToken(r *http.Request) (string, error) {
	vals := r.Header["Authorization"]
	switch {
	case len(vals) == 0:
		return "", errNoToken
	case len(vals) > 1:
		return "", errMalformed("several Authorization headers")
	}
	scheme, tok, _ := strings.Cut(vals[0], " ")
	// RFC 7235 §2.1: the scheme is case-insensitive. Another scheme
	// (Basic, DPoP) carries no bearer token.
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errNoToken
	}
	tok = strings.TrimLeft(tok, " ")
	if len(tok) > maxBearerToken {
		return "", errInvalidToken("oversized")
	}
	if tok == "" {
		return "", errMalformed("empty token")
	}
	// §2: a client must not send the token by more than one method.
	if hasQueryParam(r.URL.RawQuery, "access_token") {
		return "", errMalformed("token in the header and the query")
	}
	return tok, nil
}

// isB64Token checks RFC 6750 §2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	end := len(strings.TrimRight(s, "="))
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		if !b64tokenChar[s[i]] {
			return false
		}
	}
	return true
}

var b64tokenChar = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		t[c] = true
	}
	return t
}()

// hasQueryParam reports whether raw query q has a parameter named name,
// without parsing it into a map.
func hasQueryParam(q, name string) bool {
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if k, _, _ := strings.Cut(kv, "="); k == name {
			return true
		}
	}
	return false
}

// isAccessTokenType accepts RFC 9068 §2.1's typ, "at+jwt" or its full
// media type, case-insensitively (RFC 7515 §4.1.9).
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// accessClaims are the claims RFC 9068 §2.2 defines, Logto's
// organization_id, and the profile claims a provider may add (Logto's
// custom JWT claims).
type accessClaims struct {
	Iss            string          `json:"iss"`
	Sub            string          `json:"sub"`
	Aud            audience        `json:"aud"`
	Exp            *float64        `json:"exp"`
	Nbf            *float64        `json:"nbf"`
	Iat            *float64        `json:"iat"`
	ClientID       string          `json:"client_id"`
	Scope          string          `json:"scope"`
	Scp            json.RawMessage `json:"scp"`
	Jti            string          `json:"jti"`
	OrganizationID string          `json:"organization_id"`
	Cnf            json.RawMessage `json:"cnf"`
	idClaims
}

// audience is the aud claim: a string or an array of strings (RFC 7519
// §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// verifyJWT checks a JWT access token as RFC 9068 §4 says: the algorithm
// (asymmetric, from the allowed list), the signature by a key the
// provider publishes, typ, then the claims. internal/jose verifies, with
// the provider's key set: the one ID tokens use, with its refetch
// cooldown.
func (b *Bearer) verifyJWT(ctx context.Context, raw string) (*tokenEntry, error) {
	m, err := b.discovery.get(ctx)
	if err != nil {
		return nil, err // ErrProviderUnavailable
	}
	payload, hdr, err := m.keys.Verify(ctx, raw, b.algs)
	if err != nil {
		// A token no published key signed is invalid; a key set that
		// cannot be had (the JWKS endpoint failing) is the provider's
		// fault, and a 401 would make clients throw good tokens away.
		if signatureRefused(err) {
			return nil, errInvalidToken("signature: " + err.Error())
		}
		return nil, fail(ErrProviderUnavailable, err)
	}
	// RFC 9068 §2.1 and §4: typ at+jwt keeps an ID token (typ JWT) or any
	// other JWT the provider signs from passing as an access token.
	if hdr.Type != "" && !isAccessTokenType(hdr.Type) {
		return nil, errInvalidToken("typ is not at+jwt")
	}
	return b.checkClaims(payload, b.now().Unix())
}

// checkClaims builds the cache entry of a verified token's claims, or
// says which check of RFC 9068 §4 they fail. Times are checked here and
// again on every use (tokenEntry.current).
func (b *Bearer) checkClaims(payload []byte, now int64) (*tokenEntry, error) {
	var c accessClaims
	if json.Unmarshal(payload, &c) != nil {
		return nil, errInvalidToken("claims are not a JSON object of the expected types")
	}
	switch {
	case c.Iss != b.issuer:
		return nil, errInvalidToken("iss is not the issuer")
	case c.Sub == "" || len(c.Sub) > 255:
		return nil, errInvalidToken("sub missing")
	case c.ClientID == "":
		return nil, errInvalidToken("client_id missing")
	case c.Exp == nil || c.Iat == nil:
		return nil, errInvalidToken("exp or iat missing")
	case len(c.Cnf) > 0:
		// A sender-constrained token (DPoP, mTLS) is only good with a
		// proof of possession, which a bearer check does not ask for.
		return nil, errInvalidToken("sender-constrained (cnf)")
	}
	org, ok := b.audienceOrganization(c.Aud)
	if !ok {
		return nil, errInvalidToken("aud does not name this API")
	}
	if org != "" && c.OrganizationID != "" && c.OrganizationID != org {
		return nil, errInvalidToken("organization_id differs from the audience's")
	}
	if org == "" {
		org = c.OrganizationID
	}
	e := &tokenEntry{
		exp: numericDate(c.Exp),
		nbf: math.MinInt64,
		iat: numericDate(c.Iat),
	}
	if c.Nbf != nil {
		e.nbf = numericDate(c.Nbf)
	}
	if err := e.current(now, b.skew); err != nil {
		return nil, err
	}
	e.fill(b.issuer, &c, payload, org)
	return e, nil
}

// audienceOrganization reports whether aud names this API (or, with
// Organizations, a Logto organization, whose id it returns).
func (b *Bearer) audienceOrganization(aud audience) (org string, ok bool) {
	for _, a := range aud {
		if b.resource != "" && a == b.resource {
			return "", true
		}
	}
	if b.orgs {
		for _, a := range aud {
			if id, found := strings.CutPrefix(a, organizationAudience); found && id != "" {
				return id, true
			}
		}
	}
	return "", false
}

// numericDate turns a NumericDate (RFC 7519 §2: seconds, maybe with a
// fraction) into whole seconds, saturating instead of overflowing.
func numericDate(f *float64) int64 {
	switch v := *f; {
	case v != v: // NaN
		return math.MinInt64
	case v >= math.MaxInt64:
		return math.MaxInt64
	case v <= math.MinInt64:
		return math.MinInt64
	default:
		return int64(v)
	}
}

// fill sets the principal's template from verified claims.
func (e *tokenEntry) fill(issuer string, c *accessClaims, payload []byte, org string) {
	claims := string(payload)
	scopes := grantedScopes(c.Scope, c.Scp)
	// Capacity clipped: a handler's append copies instead of writing into
	// the cached template.
	e.token = BearerToken{
		Issuer:         issuer,
		Subject:        c.Sub,
		ClientID:       c.ClientID,
		Audience:       slices.Clip([]string(c.Aud)),
		Scopes:         slices.Clip(scopes),
		OrganizationID: org,
		ID:             c.Jti,
		expiry:         e.exp,
		issuedAt:       e.iat,
		claims:         claims,
	}
	e.user = User{
		Subject:       c.Sub,
		Name:          c.Name,
		Email:         c.Email,
		EmailVerified: string(c.EmailVerified) == "true" || string(c.EmailVerified) == `"true"`,
		Picture:       c.Picture,
		Username:      cmp.Or(c.Username, c.PreferredUsername),
		Phone:         c.PhoneNumber,
		Issuer:        issuer,
		claims:        claims,
	}
}
