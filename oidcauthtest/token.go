package oidcauthtest

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// refreshToken is a refresh token's state: rotated on use (RFC 9700
// §4.14.2), so a second use revokes the whole family.
type refreshToken struct {
	g       *grant
	used    bool
	usedAt  time.Time // when it was rotated out
	expires time.Time
}

func tokenError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// token is the token endpoint (RFC 6749 §3.2): authorization_code with PKCE,
// refresh_token with rotation, and client_credentials.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	m := p.count("token")
	if !readForm(w, r) {
		return
	}
	// After the body is read: only then does the server notice a client
	// that gave up, and end the wait.
	if m.TokenDelay > 0 {
		select {
		case <-time.After(m.TokenDelay):
		case <-r.Context().Done():
			return
		}
	}
	form := r.PostForm
	clientID, secret, method := clientCredentials(r)
	record := cloneValues(form)
	record.Set("client_auth", method)
	p.mu.Lock()
	p.lastToken = record
	p.mu.Unlock()

	if m.TokenRedirect != "" {
		http.Redirect(w, r, m.TokenRedirect, http.StatusTemporaryRedirect)
		return
	}
	if m.TokenStatus != 0 {
		body, ctype := m.TokenBody, m.TokenContentType
		if body == "" {
			body = `{"error":"server_error"}`
			if m.TokenStatus == http.StatusBadRequest {
				body = `{"error":"invalid_grant","error_description":"grant request is invalid"}`
			}
		}
		if ctype == "" {
			ctype = "application/json"
		}
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(m.TokenStatus)
		_, _ = w.Write([]byte(body))
		return
	}
	// RFC 6749 §2.3.1: a confidential client authenticates with its secret;
	// a public one only names itself (and proves PKCE below).
	if !p.clientAuthenticated(clientID, secret, method) {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		p.redeemCode(w, form, m)
	case "refresh_token":
		p.redeemRefresh(w, form, m)
	case "client_credentials":
		p.clientCredentialsGrant(w, form)
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "authorization_code, refresh_token or client_credentials")
	}
}

// readForm reads a POSTed form of 64 KiB at most, or answers the error.
func readForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return false
	}
	return true
}

// clientCredentials reads client_secret_basic (RFC 6749 §2.3.1: the id and
// secret are form-encoded inside Basic) or client_secret_post.
func clientCredentials(r *http.Request) (id, secret, method string) {
	if u, pw, ok := r.BasicAuth(); ok {
		id, err1 := url.QueryUnescape(u)
		secret, err2 := url.QueryUnescape(pw)
		if err1 != nil || err2 != nil {
			return "", "", "client_secret_basic"
		}
		return id, secret, "client_secret_basic"
	}
	if r.PostForm.Has("client_secret") {
		return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), "client_secret_post"
	}
	return r.PostForm.Get("client_id"), "", "none"
}

func (p *Provider) redeemCode(w http.ResponseWriter, form url.Values, m Misbehavior) {
	now := p.opts.Now()
	p.mu.Lock()
	g := p.codes[form.Get("code")]
	var replay bool
	if g != nil {
		replay = g.used
		g.used = true
		if replay {
			g.family.revoked = true // RFC 6749 §4.1.2: revoke what the code issued
		}
	}
	p.mu.Unlock()
	switch {
	case g == nil || replay || now.After(g.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code unknown, expired or already used")
	case form.Get("redirect_uri") != g.redirectURI:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
	case !pkceMatches(form.Get("code_verifier"), g.challenge):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
	default:
		if aud, ok := p.audience(w, g, form, false); ok {
			p.issue(w, g, aud, true, m)
		}
	}
}

// OrganizationsScope is the scope that lets a client ask for organization
// tokens, as in Logto.
const OrganizationsScope = "urn:logto:scope:organizations"

// audience picks the access token's audience for a token request: an
// RFC 8707 resource granted at authorization, or (on a refresh, Logto's
// organization tokens) an organization the user belongs to, named
// "urn:logto:organization:<id>". "" means an opaque token for userinfo.
func (p *Provider) audience(w http.ResponseWriter, g *grant, form url.Values, refresh bool) (string, bool) {
	if org := form.Get("organization_id"); org != "" && refresh {
		if !slices.Contains(strings.Fields(g.scope), OrganizationsScope) {
			tokenError(w, http.StatusBadRequest, "invalid_scope", "organization tokens need the "+OrganizationsScope+" scope")
			return "", false
		}
		orgs, _ := g.user.Extra["organizations"].([]string)
		if !slices.Contains(orgs, org) {
			tokenError(w, http.StatusForbidden, "access_denied", "the user is not a member of the organization")
			return "", false
		}
		return "urn:logto:organization:" + org, true
	}
	res := form["resource"]
	if len(res) == 0 && !refresh && p.opts.DefaultResource && len(g.resources) == 1 {
		res = g.resources
	}
	switch {
	case len(res) == 0:
		return "", true
	case len(res) > 1 || !slices.Contains(g.resources, res[0]):
		tokenError(w, http.StatusBadRequest, "invalid_target", "resource was not granted")
		return "", false
	}
	return res[0], true
}

// pkceMatches checks RFC 7636 §4.6 for S256.
func pkceMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(b64.EncodeToString(s256(verifier))), []byte(challenge)) == 1
}

func (p *Provider) redeemRefresh(w http.ResponseWriter, form url.Values, m Misbehavior) {
	now := p.opts.Now()
	p.mu.Lock()
	rt := p.refresh[form.Get("refresh_token")]
	var g *grant
	switch {
	case rt == nil || now.After(rt.expires):
	case rt.used || rt.g.family.revoked:
		rt.g.family.revoked = true // reuse of a rotated token: revoke the family
		rt.usedAt = now
	default:
		rt.used = !m.KeepRefreshToken
		rt.usedAt = now
		g = rt.g
	}
	p.mu.Unlock()
	if g == nil {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "refresh token unknown, rotated or revoked")
		return
	}
	if aud, ok := p.audience(w, g, form, true); ok {
		p.issue(w, g, aud, false, m)
	}
}

// issue answers a token request for g: an access token (a JWT for aud, a
// resource or organization, as Logto does; opaque when aud is ""), an ID
// token, and a rotated refresh token when offline_access was granted.
func (p *Provider) issue(w http.ResponseWriter, g *grant, aud string, fromCode bool, m Misbehavior) {
	now := p.opts.Now()
	at := randomString()
	var err error
	if aud != "" {
		scope := g.scope
		if !strings.HasPrefix(aud, "urn:logto:organization:") {
			var known bool
			if scope, known = p.resourceScopes(aud, g.scope); !known {
				tokenError(w, http.StatusBadRequest, "invalid_target", "unknown resource")
				return
			}
		}
		rec := &issuedToken{sub: g.user.Subject, clientID: p.opts.ClientID, aud: aud, scope: scope,
			iat: now.Unix(), exp: now.Add(p.opts.AccessTokenTTL).Unix(), family: g.family}
		claims := rec.claims(p.issuer)
		claims["jti"] = randomString()[:22]
		if at, err = p.jwt(claims, "at+jwt", Misbehavior{}); err != nil {
			tokenError(w, http.StatusInternalServerError, "server_error", "signing failed")
			return
		}
		p.remember(at, rec)
	}
	resp := map[string]any{
		"access_token": at,
		"token_type":   "Bearer",
		"expires_in":   int(p.opts.AccessTokenTTL / time.Second),
		"scope":        g.scope,
	}
	p.mu.Lock()
	issued := *g // under p.mu: a replayed code writes g.used
	issued.expires = now.Add(p.opts.AccessTokenTTL)
	p.access[at] = &issued
	p.recorded(now)
	if slices.Contains(strings.Fields(g.scope), "offline_access") && !(m.KeepRefreshToken && !fromCode) {
		rt := randomString()
		p.refresh[rt] = &refreshToken{g: &issued, expires: now.Add(p.opts.RefreshTokenTTL)}
		resp["refresh_token"] = rt
	}
	p.mu.Unlock()
	if !m.OmitIDToken {
		claims := p.idClaims(g, at, fromCode, now, m)
		idt, err := p.jwt(claims, "JWT", m)
		if err != nil {
			tokenError(w, http.StatusInternalServerError, "server_error", "signing failed")
			return
		}
		resp["id_token"] = idt
	}
	writeJSON(w, http.StatusOK, resp)
}

// idClaims are the ID token's claims (OIDC Core §2): the nonce only in the
// token issued for the code (§12.2 lets a refreshed one omit it).
func (p *Provider) idClaims(g *grant, accessToken string, fromCode bool, now time.Time, m Misbehavior) map[string]any {
	c := userClaims(g.user, g.scope)
	if p.opts.ClaimsInUserInfoOnly {
		c = userClaims(g.user, "")
	}
	c["iss"] = p.issuer
	c["aud"] = p.opts.ClientID
	c["iat"] = now.Unix()
	c["exp"] = now.Add(p.opts.IDTokenTTL).Unix()
	c["auth_time"] = g.authTime
	if g.acr != "" {
		c["acr"] = g.acr
	}
	c["sid"] = g.sid
	// §3.1.3.6: the left half of the access token's hash, with the hash of
	// the signing algorithm.
	if m.WrongAtHash {
		accessToken += "x"
	}
	p.mu.Lock()
	key := p.keys[len(p.keys)-1]
	p.mu.Unlock()
	_, sum := key.digest(accessToken)
	c["at_hash"] = b64.EncodeToString(sum[:len(sum)/2])
	if fromCode && g.nonce != "" {
		c["nonce"] = g.nonce
	}
	if m.IDTokenClaims != nil {
		m.IDTokenClaims(c)
	}
	return c
}

// userClaims are the user's claims that the granted scopes release (OIDC
// Core §5.4), plus the Extra ones.
func userClaims(u User, scope string) map[string]any {
	scopes := strings.Fields(scope)
	c := map[string]any{"sub": u.Subject}
	if slices.Contains(scopes, "profile") {
		for k, v := range map[string]string{"name": u.Name, "picture": u.Picture, "username": u.Username} {
			if v != "" {
				c[k] = v
			}
		}
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	for k, v := range u.Extra {
		c[k] = v
	}
	return c
}

// userinfo is OIDC Core §5.3, with the access token as a Bearer header.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	m := p.count("userinfo")
	if !m.hold(r, "userinfo") {
		return
	}
	if m.UserInfoStatus != 0 {
		writeJSON(w, m.UserInfoStatus, map[string]string{"error": "server_error"})
		return
	}
	at, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	g := p.access[at]
	valid := ok && g != nil && !g.family.revoked && p.opts.Now().Before(g.expires)
	p.mu.Unlock()
	if !valid {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	c := userClaims(g.user, g.scope)
	if m.UserInfoSubject != "" {
		c["sub"] = m.UserInfoSubject
	}
	writeJSON(w, http.StatusOK, c)
}
