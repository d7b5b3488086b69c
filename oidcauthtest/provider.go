// Package oidcauthtest runs an OpenID Provider in-process, the way
// net/http/httptest runs a server: for oidcauth's own tests, for the
// example app's development mode, and for your tests of an app that signs
// in with oidcauth.
//
// The provider serves discovery, authorization (approved at once, or through
// a small login form), the token endpoint (client_secret_basic,
// client_secret_post or a public client; PKCE S256 required; refresh
// tokens with rotation; the client credentials grant with Logto's resource
// parameter), RFC 9068 JWT access tokens for API resources, token
// introspection (RFC 7662), token revocation (RFC 7009), userinfo, a JWKS
// with key rotation and end-session. [Provider.IssueAccessToken] mints
// access tokens directly, for tests of an API that oidcauth's Bearer
// protects. Its tokens carry real RS256 or ES256 signatures. It records
// the requests it receives, and [Provider.Misbehave] makes it break one rule
// at a time so a test can prove that each check of the relying party
// rejects.
//
// Endpoint paths follow node-oidc-provider, the engine Logto is built on:
// /auth, /token, /token/revocation, /me, /jwks and /session/end below the
// issuer.
//
// Creating a provider costs microseconds, not the 200 ms of CPU an RSA key
// takes to make: the private keys come from a pool shared by all providers
// in the process, each made once, when first needed. Every provider starts
// with the pool's first key of its algorithm under a key id of its own
// (fresh for each provider and each key), so a token carries the kid of
// the provider that signed it. [Provider.RotateKey] brings the pool's next
// key, one the provider never had; [Misbehavior.SignWithUnknownKey] signs
// with a key no provider publishes. Two providers in one process may thus
// hold the same key material under different key ids: a test that one
// provider's token is refused by a relying party of another is refused for
// the issuer or the unknown kid, not for the key itself.
//
//	idp := oidcauthtest.NewServer(t, oidcauthtest.Options{ClientSecret: "secret"})
//	auth, _ := oidcauth.New(oidcauth.Config{
//		Issuer:       idp.Issuer(),
//		ClientID:     oidcauthtest.DefaultClientID,
//		ClientSecret: "secret",
//		HTTPClient:   idp.Client(),
//		// …
//	})
package oidcauthtest

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultClientID is the client id the provider accepts when
// [Options.ClientID] is empty.
const DefaultClientID = "test-client"

// User is the person the provider signs in.
type User struct {
	Subject       string // sub; default "user-1"
	Name          string // name
	Email         string // email
	EmailVerified bool   // email_verified
	Picture       string // picture
	Username      string // username (Logto's claim)
	// Extra claims added to the ID token and userinfo, such as Logto's
	// "roles" or "organizations".
	Extra map[string]any
}

// defaultUser is who signs in when Options.User is empty.
var defaultUser = User{Subject: "user-1", Name: "Test User", Email: "test.user@example.com", EmailVerified: true, Username: "test.user"}

// Options configure a [Provider]. Zero values get the documented defaults.
type Options struct {
	// ClientID is the one client the provider knows. Default
	// [DefaultClientID].
	ClientID string
	// ClientSecret authenticates the client at the token endpoint, by
	// client_secret_basic or client_secret_post. Empty makes it a public
	// client that authenticates with PKCE alone.
	ClientSecret string
	// RedirectURIs are the registered redirect URIs, compared exactly.
	// Empty accepts any https URI or http URI on a loopback host.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the registered post-logout redirect URIs,
	// compared exactly. Empty accepts any, like RedirectURIs.
	PostLogoutRedirectURIs []string
	// User signs in. Default: subject "user-1", "Test User".
	User User
	// LoginForm shows a small sign-in page at the authorization endpoint
	// (with a way to cancel) instead of approving at once. The example
	// app's development mode uses it.
	LoginForm bool
	// SigningAlg is the ID token signing algorithm: "RS256" (default),
	// "ES256", or "ES384" (what Logto signs with).
	SigningAlg string
	// DefaultResource makes the code exchange issue its access token for
	// the authorization request's only resource indicator, a JWT, as
	// node-oidc-provider with a default resource (and Auth0 with its
	// audience parameter) do. By default the code exchange gives an opaque
	// token for userinfo, as Logto does, and resource tokens come from the
	// refresh grant.
	DefaultResource bool
	// APIResources are the API resources the provider knows, each with the
	// scopes (Logto: permissions) it defines. A token for one of them
	// carries the requested scopes it defines, as Logto's do; a resource
	// not listed is refused (invalid_target). Nil accepts any resource
	// the sign-in granted and copies the requested scopes into its tokens.
	APIResources map[string][]string
	// MaxGrants bounds how many authorization codes, access tokens and
	// refresh tokens the provider remembers, each: beyond it the oldest are
	// forgotten, so a long-running server's memory levels off. Expired
	// codes and tokens, and rotated refresh tokens once their replay
	// window (10 minutes) has passed, are dropped anyway. Default 10,000.
	MaxGrants int
	// RefreshTokenTTL is the lifetime of refresh tokens. Default 14 days,
	// Logto's.
	RefreshTokenTTL time.Duration
	// ClaimsInUserInfoOnly leaves the profile and e-mail claims out of the
	// ID token issued with an access token, so that only userinfo has
	// them, as node-oidc-provider (Logto's engine, with its default
	// conformIdTokenClaims) and zitadel's OP do. The ID token keeps sub,
	// the protocol claims and User.Extra.
	ClaimsInUserInfoOnly bool
	// ACR is the acr claim (OIDC Core §2) of ID tokens when the
	// authorization request names no acr_values; with acr_values, the
	// provider authenticates with the first one requested and says so.
	// Empty leaves the claim out.
	ACR string
	// AccessTokenTTL is the lifetime of access tokens. Default 1 hour.
	AccessTokenTTL time.Duration
	// IDTokenTTL is the lifetime of ID tokens. Default 1 hour.
	IDTokenTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Provider is an in-process OpenID Provider. It is an http.Handler for
// everything below its issuer's path. Its methods are safe for concurrent
// use.
type Provider struct {
	issuer   string
	basePath string // the issuer's path, without a trailing slash
	opts     Options
	client   *http.Client

	mu             sync.Mutex
	user           User
	keys           []*signingKey // keys[len-1] signs; all are published
	m              Misbehavior
	calls          map[string]int
	lastAuthz      url.Values
	lastToken      url.Values
	lastRevocation url.Values
	pending        map[string]*authRequest // login form interactions by id
	codes          map[string]*grant
	access         map[string]*grant // access token → grant
	refresh        map[string]*refreshToken
	issued         map[string]*issuedToken // access token → what introspection answers
	authAt         time.Time               // the provider's own session: when the user authenticated; zero: none
	writes         int                     // codes and tokens recorded, for the sweeps
}

// New returns a provider for issuer (an absolute http or https URL) to mount
// at issuer's path on the caller's server, as the example app does:
//
//	idp, err := oidcauthtest.New("http://localhost:3000/dev-idp", opts)
//	mux.Handle("/dev-idp/", idp)
func New(issuer string, opts Options) (*Provider, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("oidcauthtest: issuer must be an absolute http(s) URL without query or fragment")
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.User.Subject == "" {
		opts.User = defaultUser
	}
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if opts.IDTokenTTL <= 0 {
		opts.IDTokenTTL = time.Hour
	}
	if opts.MaxGrants <= 0 {
		opts.MaxGrants = defaultMaxGrants
	}
	if opts.RefreshTokenTTL <= 0 {
		opts.RefreshTokenTTL = defaultRefreshTokenTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch opts.SigningAlg {
	case "":
		opts.SigningAlg = "RS256"
	case "RS256", "ES256", "ES384":
	default:
		return nil, errors.New("oidcauthtest: SigningAlg must be RS256, ES256 or ES384")
	}
	key, err := newSigningKey(opts.SigningAlg, 0)
	if err != nil {
		return nil, err
	}
	return &Provider{
		issuer:   strings.TrimSuffix(issuer, "/"),
		basePath: strings.TrimSuffix(u.EscapedPath(), "/"),
		opts:     opts,
		client:   http.DefaultClient,
		user:     opts.User,
		keys:     []*signingKey{key},
		calls:    map[string]int{},
		pending:  map[string]*authRequest{},
		codes:    map[string]*grant{},
		access:   map[string]*grant{},
		refresh:  map[string]*refreshToken{},
	}, nil
}

// NewServer starts a provider on an httptest TLS server whose issuer ends
// in /oidc, like Logto's, and closes it when the test ends. Use
// [Provider.Client] for the relying party's HTTPClient: it trusts the
// server's certificate.
func NewServer(t testing.TB, opts Options) *Provider {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p, err := New(srv.URL+"/oidc", opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	p.client = srv.Client()
	return p
}

// Issuer returns the provider's issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// Client returns an HTTP client that reaches the provider: for NewServer,
// one that trusts its test certificate.
func (p *Provider) Client() *http.Client { return p.client }

// SetUser changes who signs in from the next authorization on.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// Misbehave makes the provider break the rules m names, from the next
// request on, replacing any earlier misbehaviour. Misbehave(Misbehavior{})
// restores correct behaviour.
func (p *Provider) Misbehave(m Misbehavior) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m = m
}

// RotateKey adds a new signing key, which signs from now on. Earlier keys
// stay published in the JWKS, as providers do during a rotation. The new
// key differs from every key the provider had, and it has a new key id.
func (p *Provider) RotateKey() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	key, err := newSigningKey(p.opts.SigningAlg, len(p.keys))
	if err != nil {
		return err
	}
	p.keys = append(p.keys, key)
	return nil
}

// Calls reports how many requests an endpoint has received: "discovery",
// "authorize", "token", "introspection", "revocation", "userinfo", "jwks"
// or "end_session".
func (p *Provider) Calls(endpoint string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[endpoint]
}

// LastAuthorizeRequest returns the query of the latest authorization
// request.
func (p *Provider) LastAuthorizeRequest() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastAuthz)
}

// LastTokenRequest returns the form of the latest token request, plus the
// entry "client_auth" naming how the client authenticated:
// "client_secret_basic", "client_secret_post" or "none".
func (p *Provider) LastTokenRequest() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastToken)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// ServeHTTP serves the provider's endpoints below its issuer's path.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, p.basePath)
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch rest {
	case "/.well-known/openid-configuration":
		p.discovery(w, r)
	case "/auth":
		p.authorize(w, r)
	case "/auth/interaction":
		p.interaction(w, r)
	case "/token":
		p.token(w, r)
	case "/token/introspection":
		p.introspect(w, r)
	case "/me":
		p.userinfo(w, r)
	case "/jwks":
		p.jwks(w, r)
	case "/token/revocation":
		p.revocation(w, r)
	case "/session/end":
		p.endSession(w, r)
	default:
		http.NotFound(w, r)
	}
}

// count records a call and returns the current misbehaviour.
func (p *Provider) count(endpoint string) Misbehavior {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[endpoint]++
	return p.m
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	m := p.count("discovery")
	if !m.hold(r, "discovery") || failWith(w, m.DiscoveryStatus, "discovery unavailable") {
		return
	}
	issuer := p.issuer
	if m.DiscoveryIssuer != "" {
		issuer = m.DiscoveryIssuer
	}
	doc := map[string]any{
		"issuer":                                         issuer,
		"authorization_endpoint":                         p.issuer + "/auth",
		"token_endpoint":                                 p.issuer + "/token",
		"userinfo_endpoint":                              p.issuer + "/me",
		"jwks_uri":                                       p.issuer + "/jwks",
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token", "client_credentials"},
		"introspection_endpoint":                         p.issuer + "/token/introspection",
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          []string{p.opts.SigningAlg},
		"scopes_supported":                               []string{"openid", "profile", "email", "offline_access"},
		"claims_supported":                               []string{"sub", "name", "email", "email_verified", "picture", "username", "sid", "auth_time"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
		"authorization_response_iss_parameter_supported": true,
	}
	if !m.NoRevocation {
		doc["revocation_endpoint"] = p.issuer + "/token/revocation"
	}
	if !m.NoEndSession {
		doc["end_session_endpoint"] = p.issuer + "/session/end"
	}
	for k, v := range m.DiscoveryFields {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	writeJSON(w, http.StatusOK, doc)
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	m := p.count("jwks")
	if !m.hold(r, "jwks") || failWith(w, m.JWKSStatus, "jwks unavailable") {
		return
	}
	p.mu.Lock()
	keys := make([]any, 0, len(p.keys)+len(m.JWKSExtraKeys))
	for _, k := range p.keys {
		keys = append(keys, k.jwk())
	}
	p.mu.Unlock()
	for _, k := range m.JWKSExtraKeys {
		keys = append(keys, k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// failWith answers status with text when status is set.
func failWith(w http.ResponseWriter, status int, text string) bool {
	if status == 0 {
		return false
	}
	http.Error(w, text, status)
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// randomString is 256 bits of randomness, base64url-encoded.
func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// s256 is the SHA-256 of the PKCE S256 transform (RFC 7636 §4.2).
func s256(s string) []byte {
	h := crypto.SHA256.New()
	h.Write([]byte(s))
	return h.Sum(nil)
}
