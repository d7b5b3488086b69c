package oidcauthtest

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/internal/jose"
)

// OAuth2Options configure an [OAuth2Provider]. Zero values get the
// documented defaults, which make a GitHub-like provider.
type OAuth2Options struct {
	// ClientID and ClientSecret are the one client the provider knows.
	// Defaults "oauth2-client" and a 66-byte secret, long enough for every
	// client_secret_jwt algorithm (RFC 7518 §3.2).
	ClientID     string
	ClientSecret string
	// RedirectURIs are the registered redirect URIs, compared exactly.
	// Empty accepts any.
	RedirectURIs []string
	// AuthMethod is the one client authentication the token endpoint
	// accepts: "client_secret_post" (default), "client_secret_basic" or
	// "client_secret_jwt".
	AuthMethod string
	// JWTAlgorithm is the one client_secret_jwt algorithm accepted: "HS256"
	// (default), "HS384" or "HS512".
	JWTAlgorithm string
	// ResponseFormat is how the token endpoint answers: "query-string"
	// (default: form-encoded unless the request accepts application/json,
	// as GitHub does) or "json" (always JSON).
	ResponseFormat string
	// Profile is what the userinfo endpoint returns. Default: a GitHub
	// user with a numeric id, "login", "name", "avatar_url" and "email".
	Profile map[string]any
	// RefreshTokens makes the token endpoint issue rotating refresh tokens
	// and access tokens that expire after AccessTokenTTL.
	RefreshTokens bool
	// AccessTokenTTL is the expires_in of access tokens when RefreshTokens
	// is set. Default 8 hours (GitHub's).
	AccessTokenTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// OAuth2Misbehavior makes an [OAuth2Provider] break one rule.
type OAuth2Misbehavior struct {
	// AuthorizeError sends the browser back with this error code.
	AuthorizeError string
	// TokenError answers the token request with this error code: with
	// status TokenStatus (default 200 with the error in the usual format,
	// as GitHub does).
	TokenError  string
	TokenStatus int
	// WrongFormat answers the token request in the other format.
	WrongFormat bool
	// ProfileStatus answers the userinfo request with this status.
	ProfileStatus int
	// ProfileBody replaces the profile's JSON text.
	ProfileBody string
}

// OAuth2Provider is a plain OAuth 2.0 provider in-process, modelled on
// GitHub: /login/oauth/authorize approves at once, /login/oauth/access_token
// redeems codes (PKCE checked when the sign-in sent a challenge) with the
// one client authentication method configured (a client_secret_jwt
// assertion is verified: algorithm, MAC, iss, sub, aud, exp, jti replay),
// and /user returns the profile for a Bearer access token. It records what
// it receives. Its methods are safe for concurrent use.
type OAuth2Provider struct {
	base   string
	opts   OAuth2Options
	client *http.Client

	mu        sync.Mutex
	m         OAuth2Misbehavior
	profile   map[string]any
	calls     map[string]int
	lastAuthz url.Values
	lastToken url.Values
	codes     map[string]oauth2Code
	access    map[string]time.Time // access token → issued
	refresh   map[string]time.Time // refresh token → issued
	jtis      map[string]time.Time // client assertion jti → its exp
	writes    int                  // for the sweeps (memory.go)
}

type oauth2Code struct {
	redirectURI, challenge string
	expires                time.Time
}

// NewOAuth2 returns a provider whose endpoints are below base (an absolute
// URL), to mount at base's path on the caller's server:
//
//	gh, _ := oidcauthtest.NewOAuth2("http://localhost:3000/dev-github", opts)
//	mux.Handle("/dev-github/", gh)
func NewOAuth2(base string, opts OAuth2Options) (*OAuth2Provider, error) {
	u, err := url.Parse(base)
	if err != nil || !u.IsAbs() {
		return nil, errors.New("oidcauthtest: base must be an absolute URL")
	}
	if opts.ClientID == "" {
		opts.ClientID = "oauth2-client"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "oauth2-secret-0123456789abcdef0123456789abcdef0123456789abcdef0123"
	}
	if opts.AuthMethod == "" {
		opts.AuthMethod = "client_secret_post"
	}
	if opts.JWTAlgorithm == "" {
		opts.JWTAlgorithm = "HS256"
	}
	if opts.ResponseFormat == "" {
		opts.ResponseFormat = "query-string"
	}
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = 8 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	profile := opts.Profile
	if profile == nil {
		profile = map[string]any{
			"login": "octo-dev", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "name": "Octo Dev",
			"avatar_url": "https://avatars.example.com/u/583231?v=4", "email": "octo.dev@example.com", "type": "User",
		}
	}
	return &OAuth2Provider{
		base: strings.TrimSuffix(base, "/"), opts: opts, client: http.DefaultClient, profile: profile,
		calls: map[string]int{}, codes: map[string]oauth2Code{}, access: map[string]time.Time{},
		refresh: map[string]time.Time{}, jtis: map[string]time.Time{},
	}, nil
}

// NewOAuth2Server starts a provider on an httptest TLS server closed when
// the test ends. Use [OAuth2Provider.Client] for the app's HTTPClient.
func NewOAuth2Server(t testing.TB, opts OAuth2Options) *OAuth2Provider {
	t.Helper()
	srv := httptest.NewTLSServer(nil)
	t.Cleanup(srv.Close)
	p, err := NewOAuth2(srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	p.client = srv.Client()
	return p
}

// AuthorizationEndpoint, TokenEndpoint and UserInfoEndpoint are the
// provider's endpoint URLs.
func (p *OAuth2Provider) AuthorizationEndpoint() string { return p.base + "/login/oauth/authorize" }

// TokenEndpoint is the URL of the token endpoint.
func (p *OAuth2Provider) TokenEndpoint() string { return p.base + "/login/oauth/access_token" }

// UserInfoEndpoint is the URL of the profile endpoint.
func (p *OAuth2Provider) UserInfoEndpoint() string { return p.base + "/user" }

// ClientID and ClientSecret are the client's credentials.
func (p *OAuth2Provider) ClientID() string { return p.opts.ClientID }

// ClientSecret is the client's secret.
func (p *OAuth2Provider) ClientSecret() string { return p.opts.ClientSecret }

// Client returns an HTTP client that reaches the provider.
func (p *OAuth2Provider) Client() *http.Client { return p.client }

// SetProfile changes the profile returned from now on.
func (p *OAuth2Provider) SetProfile(profile map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.profile = profile
}

// Misbehave makes the provider break the rules m names, from the next
// request on; Misbehave(OAuth2Misbehavior{}) restores correct behaviour.
func (p *OAuth2Provider) Misbehave(m OAuth2Misbehavior) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m = m
}

// Calls reports how many requests an endpoint received: "authorize",
// "token" or "userinfo".
func (p *OAuth2Provider) Calls(endpoint string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[endpoint]
}

// LastAuthorizeRequest returns the query of the latest authorization
// request.
func (p *OAuth2Provider) LastAuthorizeRequest() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastAuthz)
}

// LastTokenRequest returns the form of the latest token request, plus
// "client_auth" naming the client authentication the provider saw.
func (p *OAuth2Provider) LastTokenRequest() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return cloneValues(p.lastToken)
}

// ServeHTTP serves the endpoints below the provider's base path.
func (p *OAuth2Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u, _ := url.Parse(p.base)
	switch strings.TrimPrefix(r.URL.Path, u.Path) {
	case "/login/oauth/authorize":
		p.authorize(w, r)
	case "/login/oauth/access_token":
		p.token(w, r)
	case "/user":
		p.user(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (p *OAuth2Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls["authorize"]++
	p.lastAuthz = cloneValues(q)
	redirect := q.Get("redirect_uri")
	if q.Get("client_id") != p.opts.ClientID || redirect == "" || (len(p.opts.RedirectURIs) > 0 && !uriAllowed(redirect, p.opts.RedirectURIs)) {
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	}
	back := url.Values{"state": {q.Get("state")}}
	switch {
	case q.Get("response_type") != "code":
		back.Set("error", "unsupported_response_type")
	case p.m.AuthorizeError != "":
		back.Set("error", p.m.AuthorizeError)
	case q.Has("code_challenge") && q.Get("code_challenge_method") != "S256":
		back.Set("error", "invalid_request")
	default:
		code := randomString()
		p.codes[code] = oauth2Code{redirectURI: redirect, challenge: q.Get("code_challenge"), expires: p.opts.Now().Add(time.Minute)}
		p.recorded()
		back.Set("code", code)
	}
	sep := "?"
	if strings.Contains(redirect, "?") {
		sep = "&"
	}
	http.Redirect(w, r, redirect+sep+back.Encode(), http.StatusFound)
}

func (p *OAuth2Provider) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "POST a form", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls["token"]++
	form := r.PostForm
	p.lastToken = cloneValues(form)
	auth, err := p.clientAuth(r, form)
	p.lastToken.Set("client_auth", auth)
	if err != nil {
		p.answerToken(w, r, http.StatusUnauthorized, url.Values{"error": {"invalid_client"}})
		return
	}
	if p.m.TokenError != "" {
		p.answerToken(w, r, max(p.m.TokenStatus, http.StatusOK), url.Values{"error": {p.m.TokenError}})
		return
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		code, ok := p.codes[form.Get("code")]
		delete(p.codes, form.Get("code")) // single use
		verifier := form.Get("code_verifier")
		switch {
		case !ok || p.opts.Now().After(code.expires) || form.Get("redirect_uri") != code.redirectURI:
			p.answerToken(w, r, http.StatusOK, url.Values{"error": {"bad_verification_code"}})
			return
		case code.challenge != "" && base64.RawURLEncoding.EncodeToString(s256(verifier)) != code.challenge:
			p.answerToken(w, r, http.StatusOK, url.Values{"error": {"invalid_grant"}})
			return
		}
	case "refresh_token":
		if _, known := p.refresh[form.Get("refresh_token")]; !p.opts.RefreshTokens || !known {
			p.answerToken(w, r, http.StatusOK, url.Values{"error": {"bad_refresh_token"}})
			return
		}
		delete(p.refresh, form.Get("refresh_token")) // rotation
	default:
		p.answerToken(w, r, http.StatusBadRequest, url.Values{"error": {"unsupported_grant_type"}})
		return
	}
	access := "gho_" + randomString()
	p.access[access] = p.opts.Now()
	p.recorded()
	out := url.Values{"access_token": {access}, "token_type": {"bearer"}, "scope": {p.lastAuthz.Get("scope")}}
	if p.opts.RefreshTokens {
		rt := "ghr_" + randomString()
		p.refresh[rt] = p.opts.Now()
		out.Set("refresh_token", rt)
		out.Set("expires_in", strconv.FormatInt(int64(p.opts.AccessTokenTTL/time.Second), 10))
	}
	p.answerToken(w, r, http.StatusOK, out)
}

// clientAuth checks that the client authenticated by the one configured
// method, and names what it saw.
func (p *OAuth2Provider) clientAuth(r *http.Request, form url.Values) (string, error) {
	user, pass, basic := r.BasicAuth()
	seen := "none"
	switch {
	case basic:
		seen = "client_secret_basic"
	case form.Has("client_assertion"):
		seen = "client_secret_jwt"
	case form.Has("client_secret"):
		seen = "client_secret_post"
	}
	if seen != p.opts.AuthMethod {
		return seen, errors.New("wrong client authentication method")
	}
	switch seen {
	case "client_secret_basic":
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || id != p.opts.ClientID || !equal(secret, p.opts.ClientSecret) || form.Has("client_secret") {
			return seen, errors.New("bad basic credentials")
		}
	case "client_secret_post":
		if form.Get("client_id") != p.opts.ClientID || !equal(form.Get("client_secret"), p.opts.ClientSecret) {
			return seen, errors.New("bad posted credentials")
		}
	case "client_secret_jwt":
		if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || form.Has("client_secret") {
			return seen, errors.New("bad assertion type")
		}
		if err := p.verifyAssertion(form.Get("client_assertion")); err != nil {
			return seen, err
		}
	}
	return seen, nil
}

// verifyAssertion checks a client_secret_jwt assertion as RFC 7523 §3
// asks; p.mu is held.
func (p *OAuth2Provider) verifyAssertion(jwt string) error {
	// go-jose checks the algorithm (exactly the one configured) and the MAC.
	payload, _, err := jose.VerifyHMAC(jwt, p.opts.JWTAlgorithm, []byte(p.opts.ClientSecret))
	if err != nil {
		return fmt.Errorf("assertion refused: %w", err)
	}
	var claims struct {
		Iss, Sub, Jti string
		Aud           any
		Exp, Iat      int64
	}
	if json.Unmarshal(payload, &claims) != nil {
		return errors.New("assertion claims do not decode")
	}
	now := p.opts.Now().Unix()
	aud, _ := claims.Aud.(string)
	switch {
	case claims.Iss != p.opts.ClientID || claims.Sub != p.opts.ClientID:
		return errors.New("assertion iss or sub is not the client")
	case aud != p.TokenEndpoint():
		return errors.New("assertion aud is not the token endpoint")
	case claims.Exp <= now || claims.Exp > now+600:
		return errors.New("assertion expired or too long-lived")
	case claims.Jti == "":
		return errors.New("assertion jti missing")
	}
	if _, seen := p.jtis[claims.Jti]; seen {
		return errors.New("assertion jti replayed")
	}
	p.jtis[claims.Jti] = time.Unix(claims.Exp, 0)
	p.recorded()
	return nil
}

// answerToken writes a token response in the configured format: JSON, or
// form-encoded unless the request accepts JSON (GitHub's way).
func (p *OAuth2Provider) answerToken(w http.ResponseWriter, r *http.Request, status int, v url.Values) {
	asJSON := p.opts.ResponseFormat == "json" || strings.Contains(r.Header.Get("Accept"), "application/json")
	if p.m.WrongFormat {
		asJSON = !asJSON
	}
	if !asJSON {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(v.Encode()))
		return
	}
	obj := map[string]any{}
	for k := range v {
		obj[k] = v.Get(k)
	}
	if e := v.Get("expires_in"); e != "" {
		obj["expires_in"] = json.Number(e)
	}
	writeJSON(w, status, obj)
}

func (p *OAuth2Provider) user(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls["userinfo"]++
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if _, known := p.access[tok]; !ok || !known {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	if p.m.ProfileStatus != 0 {
		writeJSON(w, p.m.ProfileStatus, map[string]string{"message": "Server Error"})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if p.m.ProfileBody != "" {
		_, _ = w.Write([]byte(p.m.ProfileBody))
		return
	}
	_ = json.NewEncoder(w).Encode(p.profile)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
