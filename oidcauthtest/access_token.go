package oidcauthtest

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

// AccessToken describes an access token for [Provider.IssueAccessToken]:
// by default an RFC 9068 JWT (typ at+jwt) signed by the provider's current
// key, as Logto and node-oidc-provider issue them for an API resource.
type AccessToken struct {
	// Audience is the API resource (RFC 8707 resource indicator; Logto's
	// "API identifier") the token is for, or Logto's organization
	// audience "urn:logto:organization:<id>". Required.
	Audience string
	// Subject is the sub claim. Default: the current user's subject.
	Subject string
	// ClientID is the client_id claim. Default: [Options.ClientID].
	ClientID string
	// Scopes are the granted scopes, in the space-separated scope claim.
	Scopes []string
	// OrganizationID sets Logto's organization_id claim (an
	// organization-level API resource token).
	OrganizationID string
	// TTL is the lifetime from now. Default [Options.AccessTokenTTL]; a
	// negative TTL issues a token that has already expired.
	TTL time.Duration
	// Type is the JWS typ header. Default "at+jwt" (RFC 9068 §2.1).
	Type string
	// Claims are set last, replacing any claim above; a nil value
	// removes the claim (to test a token without exp, say).
	Claims map[string]any
	// Opaque issues a random string the provider remembers instead of a
	// JWT: only its introspection endpoint (RFC 7662) knows what it grants.
	Opaque bool
}

// issuedToken is what introspection answers for an access token.
type issuedToken struct {
	sub, clientID, aud, scope, org string
	iat, exp                       int64
	family                         *family // nil for tokens outside a sign-in
}

// IssueAccessToken returns a new access token as t describes, signed (for
// a JWT) as the current [Misbehavior] says: AlgNone, HMACWithSecret,
// SignWithUnknownKey, CorruptSignature and OmitKeyID apply to it as to ID
// tokens, so a test can present each forgery to a resource server.
func (p *Provider) IssueAccessToken(t AccessToken) (string, error) {
	if t.Audience == "" {
		return "", errors.New("oidcauthtest: AccessToken.Audience is required")
	}
	p.mu.Lock()
	m := p.m
	user := p.user
	p.mu.Unlock()
	if t.Subject == "" {
		t.Subject = user.Subject
	}
	if t.ClientID == "" {
		t.ClientID = p.opts.ClientID
	}
	ttl := t.TTL
	if ttl == 0 {
		ttl = p.opts.AccessTokenTTL
	}
	now := p.opts.Now()
	rec := &issuedToken{sub: t.Subject, clientID: t.ClientID, aud: t.Audience, scope: strings.Join(t.Scopes, " "),
		org: t.OrganizationID, iat: now.Unix(), exp: now.Add(ttl).Unix()}
	if t.Opaque {
		at := randomString()
		p.remember(at, rec)
		return at, nil
	}
	typ := t.Type
	if typ == "" {
		typ = "at+jwt"
	}
	claims := rec.claims(p.issuer)
	claims["jti"] = randomString()[:22]
	for k, v := range t.Claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	at, err := p.jwt(claims, typ, m)
	if err == nil {
		p.remember(at, rec)
	}
	return at, err
}

// claims are an RFC 9068 access token's claims (§2.2).
func (t *issuedToken) claims(issuer string) map[string]any {
	c := map[string]any{
		"iss": issuer, "sub": t.sub, "aud": t.aud, "client_id": t.clientID,
		"iat": t.iat, "exp": t.exp,
	}
	if t.scope != "" {
		c["scope"] = t.scope
	}
	if t.org != "" {
		c["organization_id"] = t.org
	}
	return c
}

func (p *Provider) remember(at string, t *issuedToken) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.issued == nil {
		p.issued = map[string]*issuedToken{}
	}
	p.issued[at] = t
	p.recorded(p.opts.Now())
}

// resourceScopes are the scopes of a token for resource: with
// [Options.APIResources] naming it, those of requested it defines (Logto
// grants an API's permissions only); otherwise all of requested.
func (p *Provider) resourceScopes(resource, requested string) (string, bool) {
	if p.opts.APIResources == nil {
		return requested, true
	}
	defined, ok := p.opts.APIResources[resource]
	if !ok {
		return "", false
	}
	var out []string
	for _, s := range strings.Fields(requested) {
		if slices.Contains(defined, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " "), true
}

// clientCredentialsGrant is RFC 6749 §4.4 with Logto's parameters: the
// resource (RFC 8707) the token is for, the scopes asked for (those the
// resource defines are granted), and an optional organization_id. Only a
// confidential client may use it; the client is its own subject, as at
// Logto and node-oidc-provider.
func (p *Provider) clientCredentialsGrant(w http.ResponseWriter, form map[string][]string) {
	if p.opts.ClientSecret == "" {
		tokenError(w, http.StatusBadRequest, "unauthorized_client", "a public client cannot use client_credentials")
		return
	}
	res := form["resource"]
	if len(res) != 1 || res[0] == "" {
		tokenError(w, http.StatusBadRequest, "invalid_target", "exactly one resource is required")
		return
	}
	scope, ok := p.resourceScopes(res[0], strings.Join(form["scope"], " "))
	if !ok {
		tokenError(w, http.StatusBadRequest, "invalid_target", "unknown resource")
		return
	}
	var org string
	if o := form["organization_id"]; len(o) > 0 {
		org = o[0]
	}
	at, err := p.IssueAccessToken(AccessToken{
		Audience: res[0], Subject: p.opts.ClientID, Scopes: strings.Fields(scope), OrganizationID: org,
	})
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", "signing failed")
		return
	}
	resp := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(p.opts.AccessTokenTTL / time.Second)}
	if scope != "" {
		resp["scope"] = scope
	}
	writeJSON(w, http.StatusOK, resp)
}

// introspect is RFC 7662's endpoint: the client authenticates as at the
// token endpoint and learns whether an access token is active and what it
// grants. Refresh tokens and unknown, expired or revoked tokens are
// inactive.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	m := p.count("introspection")
	if !readForm(w, r) {
		return
	}
	if failWith(w, m.IntrospectionStatus, "introspection unavailable") {
		return
	}
	id, secret, method := clientCredentials(r)
	if id != p.opts.ClientID || method == "none" || subtle.ConstantTimeCompare([]byte(secret), []byte(p.opts.ClientSecret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	p.mu.Lock()
	t := p.issued[r.PostForm.Get("token")]
	revoked := t != nil && t.family != nil && t.family.revoked // written by revocation and replays, under p.mu
	p.mu.Unlock()
	now := p.opts.Now().Unix()
	if t == nil || now >= t.exp || revoked {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	c := t.claims(p.issuer)
	c["active"] = true
	c["token_type"] = "Bearer"
	writeJSON(w, http.StatusOK, c)
}
