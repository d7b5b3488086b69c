package oidcauth

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Introspection lets a [Bearer] accept opaque access tokens by asking the
// provider about each (RFC 7662 token introspection). The answer is
// cached: a token revoked at the provider can stay accepted for up to
// CacheTTL.
type Introspection struct {
	// Endpoint is the introspection endpoint. Default: the provider's
	// introspection_endpoint from discovery.
	Endpoint string
	// ClientID and ClientSecret authenticate the API at the endpoint
	// (client_secret_basic); RFC 7662 §2.1 requires some authentication
	// so that the endpoint cannot be used to scan for tokens. Required.
	ClientID     string
	ClientSecret string
	// CacheTTL is how long an answer is reused: an active token's never
	// past its exp, an inactive one's (so a flood of one made-up token
	// costs one call per CacheTTL). Default 1 minute.
	CacheTTL time.Duration
}

// introspectionConcurrency bounds the introspection calls in flight: a
// flood of made-up tokens waits for a slot instead of becoming a flood of
// calls to the provider.
const introspectionConcurrency = 8

type introspector struct {
	endpoint  string // "" until discovery
	id        string
	secret    string
	ttl       int64
	client    *http.Client
	allowHTTP bool
	slots     chan struct{}
}

func newIntrospector(cfg Introspection, base *Config, allowHTTP bool) (*introspector, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("oidcauth: Introspection needs ClientID and ClientSecret (the API's credentials at the provider)")
	}
	if cfg.Endpoint != "" {
		if _, err := checkURL(cfg.Endpoint, allowHTTP); err != nil {
			return nil, errors.New("oidcauth: Introspection.Endpoint " + err.Error())
		}
	}
	if cfg.CacheTTL < 0 {
		return nil, errors.New("oidcauth: Introspection.CacheTTL may not be negative")
	}
	return &introspector{
		endpoint:  cfg.Endpoint,
		id:        cfg.ClientID,
		secret:    cfg.ClientSecret,
		ttl:       int64(cmp.Or(cfg.CacheTTL, time.Minute) / time.Second),
		client:    base.HTTPClient,
		allowHTTP: allowHTTP,
		slots:     make(chan struct{}, introspectionConcurrency),
	}, nil
}

// introspectionAnswer is RFC 7662 §2.2's response: active, and the
// token's claims.
type introspectionAnswer struct {
	Active    bool   `json:"active"`
	TokenType string `json:"token_type"`
	accessClaims
}

// introspect asks the provider about raw. An inactive token comes back as
// an entry marked inactive (cached, so it is not asked again at once)
// with an error.
func (in *introspector) introspect(ctx context.Context, b *Bearer, raw string) (*tokenEntry, error) {
	endpoint, err := in.endpointURL(ctx, b)
	if err != nil {
		return nil, err
	}
	// The wait for a slot and the call share one deadline, the HTTP
	// client's timeout: behind a hung endpoint, a queue of opaque tokens
	// is answered 503, not kept waiting for as long as its clients wait.
	ctx, cancel := context.WithTimeout(ctx, in.client.Timeout)
	defer cancel()
	select {
	case in.slots <- struct{}{}:
		defer func() { <-in.slots }()
	case <-ctx.Done():
		return nil, fail(ErrProviderUnavailable, ctx.Err())
	}
	body, err := in.call(ctx, endpoint, raw)
	if err != nil {
		return nil, fail(ErrProviderUnavailable, err)
	}
	var ans introspectionAnswer
	if json.Unmarshal(body, &ans) != nil {
		return nil, fail(ErrProviderUnavailable, errors.New("introspection answer is not a JSON object of the expected types"))
	}
	now := b.now().Unix()
	if !ans.Active {
		return &tokenEntry{inactive: true, fresh: now + in.ttl}, errInvalidToken("inactive")
	}
	e, err := b.checkIntrospected(&ans, body, now)
	if err != nil {
		return nil, err
	}
	e.fresh = min(now+in.ttl, e.exp)
	return e, nil
}

// checkIntrospected applies the checks of a JWT access token to an
// active introspection answer, where RFC 7662 makes every claim optional
// but the audience: an API accepts only tokens issued for it.
func (b *Bearer) checkIntrospected(ans *introspectionAnswer, body []byte, now int64) (*tokenEntry, error) {
	c := &ans.accessClaims
	switch {
	case ans.TokenType != "" && !strings.EqualFold(ans.TokenType, "bearer") && ans.TokenType != "access_token":
		// A refresh token, or a DPoP-bound token (RFC 9449 §7.1).
		return nil, errInvalidToken("token_type is not Bearer")
	case c.Iss != "" && c.Iss != b.issuer:
		return nil, errInvalidToken("iss is not the issuer")
	case len(c.Cnf) > 0:
		return nil, errInvalidToken("sender-constrained (cnf)")
	}
	org, ok := b.audienceOrganization(c.Aud)
	if !ok {
		return nil, errInvalidToken("aud does not name this API")
	}
	if org == "" {
		org = c.OrganizationID
	}
	// A client credentials token has no user: its client is its subject,
	// as in the JWTs Logto and node-oidc-provider issue.
	c.Sub = cmp.Or(c.Sub, c.ClientID)
	if c.Sub == "" {
		return nil, errInvalidToken("neither sub nor client_id")
	}
	e := &tokenEntry{exp: math.MaxInt64, nbf: math.MinInt64, iat: math.MinInt64}
	if c.Exp != nil {
		e.exp = numericDate(c.Exp)
	}
	if c.Nbf != nil {
		e.nbf = numericDate(c.Nbf)
	}
	if c.Iat != nil {
		e.iat = numericDate(c.Iat)
	}
	if err := e.current(now, b.skew); err != nil {
		return nil, err
	}
	e.fill(b.issuer, c, body, org)
	return e, nil
}

// endpointURL is the configured endpoint or discovery's.
func (in *introspector) endpointURL(ctx context.Context, b *Bearer) (string, error) {
	if in.endpoint != "" {
		return in.endpoint, nil
	}
	m, err := b.discovery.get(ctx)
	if err != nil {
		return "", err
	}
	var d struct {
		Endpoint string `json:"introspection_endpoint"`
	}
	if m.provider.Claims(&d) != nil || d.Endpoint == "" {
		return "", fail(ErrProviderUnavailable, errors.New("discovery has no introspection_endpoint"))
	}
	if _, err := checkURL(d.Endpoint, in.allowHTTP); err != nil {
		return "", fail(ErrProviderUnavailable, fmt.Errorf("discovery's introspection_endpoint %w", err))
	}
	return d.Endpoint, nil
}

// call posts the token (RFC 7662 §2.1) and returns the 200 answer's body.
func (in *introspector) call(ctx context.Context, endpoint, raw string) ([]byte, error) {
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: the id and secret are form-encoded inside Basic.
	req.SetBasicAuth(url.QueryEscape(in.id), url.QueryEscape(in.secret))
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidcauth: introspection: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // cut at 1 MiB by the client's transport
	if err != nil {
		return nil, fmt.Errorf("oidcauth: reading the introspection answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oidcauth: introspection endpoint answered %d", resp.StatusCode)
	}
	return body, nil
}
