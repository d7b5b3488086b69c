package oidcauthtest

import (
	"crypto/subtle"
	"net/http"
)

// revocation is the token revocation endpoint (RFC 7009), at
// /token/revocation as in node-oidc-provider. The client authenticates as
// at the token endpoint. Revoking a refresh token revokes every token of
// its grant (§2.1: the provider SHOULD also invalidate the access tokens of
// the same grant); revoking an access token ends that token. Unknown and
// already revoked tokens are answered 200 too (§2.2).
func (p *Provider) revocation(w http.ResponseWriter, r *http.Request) {
	m := p.count("revocation")
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || len(r.PostForm["token"]) != 1 {
		tokenError(w, http.StatusBadRequest, "invalid_request", "one token is required")
		return
	}
	if !m.hold(r, "revocation") || failWith(w, m.RevocationStatus, "revocation unavailable") {
		return
	}
	clientID, secret, method := clientCredentials(r)
	record := cloneValues(r.PostForm)
	record.Set("client_auth", method)
	p.mu.Lock()
	p.lastRevocation = record
	p.mu.Unlock()
	if !p.clientAuthenticated(clientID, secret, method) {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	tok := r.PostForm.Get("token")
	p.mu.Lock()
	if rt := p.refresh[tok]; rt != nil {
		rt.g.family.revoked = true
	}
	delete(p.access, tok)
	delete(p.issued, tok)
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// clientAuthenticated checks the client's credentials (RFC 6749 §2.3.1): a
// confidential client authenticates with its secret; a public one only
// names itself (and proves PKCE at the token endpoint).
func (p *Provider) clientAuthenticated(clientID, secret, method string) bool {
	if clientID != p.opts.ClientID {
		return false
	}
	if p.opts.ClientSecret == "" {
		return method == "none"
	}
	return method != "none" && subtle.ConstantTimeCompare([]byte(secret), []byte(p.opts.ClientSecret)) == 1
}

// LastRevocationRequest returns the form of the latest revocation request,
// plus "client_auth" naming how the client authenticated.
func (p *Provider) LastRevocationRequest() map[string][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastRevocation)
}

// RefreshTokenActive reports whether the provider would still redeem
// refreshToken: issued by it, not rotated out, and not revoked.
func (p *Provider) RefreshTokenActive(refreshToken string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := p.refresh[refreshToken]
	return rt != nil && !rt.used && !rt.g.family.revoked
}
