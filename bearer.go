package oidcauth

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// BearerConfig configures a [Bearer]: the API (resource server) side,
// which accepts access tokens instead of session cookies. It is copied by
// [NewBearer] and [Auth.Bearer]; zero values get the documented defaults.
type BearerConfig struct {
	// Issuer is the provider that issues the access tokens, exactly as its
	// discovery document states it (Logto: https://<tenant>.logto.app/oidc).
	// Required by [NewBearer]; [Auth.Bearer] takes the Auth's, and refuses
	// another.
	Issuer string
	// Resource is the API's resource indicator (RFC 8707; Logto: the API
	// resource's "API identifier", e.g. https://api.example.com). A token
	// is accepted only when its aud claim contains it (RFC 9068 §4).
	// Required unless Organizations is set.
	Resource string
	// Organizations also accepts Logto's organization tokens, whose
	// audience is "urn:logto:organization:<id>" (an organization template's
	// permissions rather than an API's); [BearerToken.OrganizationID] then
	// holds the id. Tokens for an organization-level API resource need
	// only Resource: their organization_id claim fills OrganizationID.
	Organizations bool
	// Algorithms are the JWS algorithms accepted on access tokens. Default:
	// RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 and
	// EdDSA. "none" and HMAC algorithms are refused by NewBearer: an
	// HMAC key would be a secret shared with more than the provider.
	Algorithms []string
	// Introspection, when set, accepts opaque (non-JWT) access tokens by
	// asking the provider's introspection endpoint (RFC 7662). Default:
	// opaque tokens are refused.
	Introspection *Introspection
	// ClockSkew is the leeway allowed for exp, nbf and iat against the
	// local clock. Default 1 minute; with [Auth.Bearer], the Auth's
	// [Config.ClockSkew].
	ClockSkew time.Duration
	// CacheSize bounds how many verified tokens are remembered, so that a
	// repeated token costs no signature check (expiry is still checked on
	// every request). Default 4096 (rounded up to a multiple of 16, the
	// shards); negative disables the cache.
	CacheSize int
	// HTTPClient makes discovery, JWKS and introspection calls, with the
	// same limits as [Config.HTTPClient]. [Auth.Bearer] uses the Auth's.
	HTTPClient *http.Client
	// Now is the clock. Default time.Now; [Auth.Bearer] uses the Auth's.
	Now func() time.Time
	// Logger receives one Debug line per refused token (the reason, never
	// the token). Default slog.Default(); [Auth.Bearer] uses the Auth's.
	Logger *slog.Logger
	// InsecureAllowHTTP permits a plain-http Issuer on hosts other than
	// loopback, as [Config.InsecureAllowHTTP] does.
	InsecureAllowHTTP bool
}

// Bearer protects an API with the provider's access tokens (RFC 6750
// bearer tokens; JWTs per RFC 9068, as Logto issues them for an API
// resource). It needs no client ID or secret, no cookie and no session:
// create it with [NewBearer] for a service that only serves an API, or
// with [Auth.Bearer] beside a signed-in web app, sharing its provider
// metadata and key set. It is immutable and safe for concurrent use.
type Bearer struct {
	issuer    string
	resource  string
	orgs      bool
	algs      []string
	skew      int64 // seconds
	now       func() time.Time
	logger    *slog.Logger
	discovery *discovery
	cache     *tokenCache
	intro     *introspector
}

// bearerAlgs are the JWS algorithms accepted by default: asymmetric only.
var bearerAlgs = signingAlgs

const defaultTokenCacheSize = 4096

// NewBearer returns a Bearer for an API whose tokens cfg.Issuer issues. It
// never touches the network: the provider is discovered, and its keys
// fetched, on the first token.
//
//	api, err := oidcauth.NewBearer(oidcauth.BearerConfig{
//		Issuer:   "https://your-tenant.logto.app/oidc",
//		Resource: "https://api.example.com",
//	})
//	mux.Handle("GET /api/orders", api.RequireToken(listOrders))
//	mux.Handle("POST /api/orders", api.Require(oidcauth.Scope("write:orders"))(createOrder))
func NewBearer(cfg BearerConfig) (*Bearer, error) {
	dc := Config{
		Issuer: cfg.Issuer, HTTPClient: limitedClient(cfg.HTTPClient), Now: cfg.Now, Logger: cfg.Logger,
		ClockSkew: cfg.ClockSkew, InsecureAllowHTTP: cfg.InsecureAllowHTTP,
	}
	if dc.Now == nil {
		dc.Now = time.Now
	}
	if dc.Logger == nil {
		dc.Logger = slog.Default()
	}
	if dc.ClockSkew == 0 {
		dc.ClockSkew = defaultClockSkew
	}
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("oidcauth: BearerConfig.Issuer is required (for Logto: https://<tenant>.logto.app/oidc)"))
	} else if _, err := checkURL(cfg.Issuer, cfg.InsecureAllowHTTP); err != nil {
		errs = append(errs, errors.New("oidcauth: BearerConfig.Issuer "+err.Error()))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.InsecureAllowHTTP {
		dc.Logger.Warn("oidcauth: InsecureAllowHTTP is set: a plain-http issuer is accepted")
	}
	return newBearer(cfg, &discovery{cfg: &dc}, &dc)
}

// Bearer returns a Bearer for an API of this app, verifying tokens with
// the Auth's provider metadata and key set (one JWKS cache and refetch
// cooldown for ID tokens and access tokens), HTTP client, clock and
// logger. cfg.Issuer must be empty or the Auth's.
//
//	api, err := auth.Bearer(oidcauth.BearerConfig{Resource: "https://api.example.com"})
func (a *Auth) Bearer(cfg BearerConfig) (*Bearer, error) {
	if a.cfg.Issuer == "" {
		return nil, errors.New("oidcauth: Auth.Bearer needs Config.Issuer: access tokens come from the OpenID provider")
	}
	if cfg.Issuer != "" && cfg.Issuer != a.cfg.Issuer {
		return nil, errors.New("oidcauth: BearerConfig.Issuer differs from the Auth's; use NewBearer for another provider")
	}
	cfg.Issuer = a.cfg.Issuer
	return newBearer(cfg, a.discovery, &a.cfg)
}

func newBearer(cfg BearerConfig, d *discovery, base *Config) (*Bearer, error) {
	var errs []error
	bad := func(msg string) { errs = append(errs, errors.New("oidcauth: BearerConfig."+msg)) }
	if cfg.Resource == "" && !cfg.Organizations {
		bad("Resource is required (Logto: the API identifier), unless Organizations is set")
	} else if cfg.Resource != "" && !validResource(cfg.Resource) {
		bad("Resource must be an absolute URI without a fragment (Logto: the API identifier)")
	}
	if cfg.ClockSkew < 0 {
		bad("ClockSkew may not be negative")
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = bearerAlgs
	}
	b := &Bearer{
		issuer:    cfg.Issuer,
		resource:  cfg.Resource,
		orgs:      cfg.Organizations,
		skew:      int64(cmp.Or(cfg.ClockSkew, base.ClockSkew, defaultClockSkew) / time.Second),
		now:       base.Now,
		logger:    base.Logger,
		discovery: d,
	}
	for _, alg := range algs {
		if !slices.Contains(bearerAlgs, alg) {
			bad("Algorithms may hold only asymmetric JWS algorithms (RS*, PS*, ES*, EdDSA), not " + quoteForError(alg))
			continue
		}
		b.algs = append(b.algs, alg)
	}
	if cfg.CacheSize >= 0 {
		b.cache = newTokenCache(cmp.Or(cfg.CacheSize, defaultTokenCacheSize))
	}
	if cfg.Introspection != nil {
		in, err := newIntrospector(*cfg.Introspection, base, cfg.InsecureAllowHTTP)
		if err != nil {
			errs = append(errs, err)
		}
		b.intro = in
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return b, nil
}

// validResource is RFC 8707 §2's rule: an absolute URI without a fragment.
func validResource(res string) bool {
	u, err := url.Parse(res)
	return err == nil && u.IsAbs() && u.Fragment == "" && !strings.Contains(res, "#")
}

// quoteForError keeps a configuration value short and printable in an error.
func quoteForError(s string) string {
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return '?'
		}
		return r
	}, truncate(s, 40)) + `"`
}

// RequireToken lets a request through to next only with a valid access
// token in its Authorization header (RFC 6750 §2.1), with the token's
// principal in the request context ([BearerTokenFromContext], and
// [UserFromContext] as for a signed-in user). Others are answered per RFC
// 6750 §3: 401 with WWW-Authenticate: Bearer (error="invalid_token" for a
// token that fails any check, no detail), or 400 with
// error="invalid_request" for a malformed or ambiguous request; 503 while
// the provider's keys cannot be had. Tokens in the query string or body
// are not read.
//
// A token this Bearer has verified before is found in a bounded cache: no
// signature check, no network; its expiry is checked on every request.
// Responses default to Cache-Control: private, no-store.
func (b *Bearer) RequireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := principalFromContext(r.Context()); p != nil && p.owner == b {
			next.ServeHTTP(w, r) // an outer RequireToken of this Bearer already verified it
			return
		}
		p, err := b.authenticate(r)
		if err != nil {
			b.refuse(w, r, err)
			return
		}
		privateResponse(w)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionContextKey, p)))
	})
}

// Require returns middleware that lets a request through only with a
// valid access token that meets every requirement: the same
// [Requirement]s as [Auth.Require] ([Scope], [AnyRole], [Organization],
// [OrganizationRole], [Claim], [AnyOf] or your own), read from the
// token's claims. A token that lacks one gets 403 with
// WWW-Authenticate: Bearer error="insufficient_scope" and, when a Scope
// requirement failed, the scope it needs (RFC 6750 §3.1).
//
//	mux.Handle("POST /api/resource", api.Require(oidcauth.Scope("write:data"))(create))
func (b *Bearer) Require(reqs ...Requirement) func(http.Handler) http.Handler {
	reqs = slices.Clone(reqs)
	return func(next http.Handler) http.Handler {
		check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := principalFromContext(r.Context()) // put there by RequireToken
			if !meetsAll(reqs, r, &p.user) {
				b.forbid(w, r, p)
				return
			}
			next.ServeHTTP(w, r)
		})
		return b.RequireToken(check)
	}
}

// Verify checks an access token as RequireToken does and returns what it
// grants, for a token that does not arrive in an HTTP Authorization
// header (a WebSocket subprotocol, a gRPC metadata entry). The error
// wraps [ErrInvalidToken] for a token that fails a check, or
// [ErrProviderUnavailable] when the provider's keys or introspection
// endpoint cannot be reached.
func (b *Bearer) Verify(ctx context.Context, token string) (*BearerToken, error) {
	if len(token) > maxBearerToken {
		return nil, errInvalidToken("oversized")
	}
	e, err := b.entry(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := e.current(b.now().Unix(), b.skew); err != nil {
		return nil, err
	}
	t := e.token
	return &t, nil
}

// authenticate returns the request's principal, a copy of its cached
// template; an error says how to answer.
func (b *Bearer) authenticate(r *http.Request) (*bearerPrincipal, error) {
	raw, err := requestToken(r)
	if err != nil {
		return nil, err
	}
	e, err := b.entry(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	if err := e.current(b.now().Unix(), b.skew); err != nil {
		b.cache.drop(raw)
		return nil, err
	}
	return &bearerPrincipal{owner: b, user: e.user, token: e.token}, nil
}

// entry finds raw in the cache, or verifies it (a JWT) or asks the
// provider about it (an opaque token, with Introspection) and caches the
// answer.
func (b *Bearer) entry(ctx context.Context, raw string) (*tokenEntry, error) {
	now := b.now().Unix()
	if e := b.cache.get(raw, now); e != nil {
		if e.inactive {
			return nil, errInvalidToken("inactive (cached)")
		}
		return e, nil
	}
	if !isB64Token(raw) {
		return nil, errMalformed("not a b64token")
	}
	var e *tokenEntry
	var err error
	if strings.Count(raw, ".") == 2 {
		e, err = b.verifyJWT(ctx, raw)
	} else if b.intro != nil {
		e, err = b.intro.introspect(ctx, b, raw)
	} else {
		err = errInvalidToken("opaque token and no introspection")
	}
	if e != nil {
		b.cache.put(raw, e)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Answers of RFC 6750 §3. The bodies are fixed; nothing from the request
// or the token is echoed.
var (
	challengeBare    = []string{`Bearer`}
	challengeInvalid = []string{`Bearer error="invalid_token"`}
	challengeRequest = []string{`Bearer error="invalid_request"`}
	jsonContentType  = []string{"application/json"}
	noStore          = []string{"no-store"}
)

// refuse answers a request whose token is missing, malformed or invalid.
func (b *Bearer) refuse(w http.ResponseWriter, r *http.Request, err error) {
	status, challenge, body := http.StatusUnauthorized, challengeInvalid, `{"error":"invalid_token"}`
	switch {
	case errors.Is(err, errNoToken):
		// §3.1: a request without credentials gets no error code.
		challenge, body = challengeBare, `{"error":"unauthorized"}`
	case errors.Is(err, errBadRequest):
		status, challenge, body = http.StatusBadRequest, challengeRequest, `{"error":"invalid_request"}`
	case errors.Is(err, ErrProviderUnavailable):
		status, challenge, body = http.StatusServiceUnavailable, nil, `{"error":"temporarily_unavailable"}`
		w.Header().Set("Retry-After", "5")
	}
	if !errors.Is(err, errNoToken) {
		b.logger.Debug("oidcauth: bearer token refused", "event", "bearer_refused", "status", status, "reason", logSafe(err), "path", r.URL.Path)
	}
	h := w.Header()
	if challenge != nil {
		h["Www-Authenticate"] = challenge
	}
	writeBearerAnswer(h, w, status, body)
}

// forbid answers a valid token that lacks a requirement: 403
// insufficient_scope, naming the scopes a failed Scope requirement wanted.
func (b *Bearer) forbid(w http.ResponseWriter, r *http.Request, p *bearerPrincipal) {
	b.logger.Debug("oidcauth: bearer token lacks a requirement", "event", "forbidden", "reason", "insufficient_scope", "sub", p.token.Subject, "client_id", p.token.ClientID, "path", r.URL.Path)
	challenge := `Bearer error="insufficient_scope"`
	if scope := challengeScope(p.missing); scope != "" {
		challenge += `, scope="` + scope + `"`
	}
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	writeBearerAnswer(h, w, http.StatusForbidden, `{"error":"insufficient_scope"}`)
}

func writeBearerAnswer(h http.Header, w http.ResponseWriter, status int, body string) {
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}

// challengeScope joins scopes for the scope attribute, keeping only
// RFC 6749 §3.3 scope-tokens, which need no escaping inside quotes.
func challengeScope(scopes []string) string {
	var out []string
	for _, s := range scopes {
		ok := s != ""
		for i := 0; i < len(s) && ok; i++ {
			c := s[i]
			ok = c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e)
		}
		if ok {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}
