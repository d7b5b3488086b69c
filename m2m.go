package oidcauth

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ClientCredentialsConfig configures [ClientCredentials]: access tokens the
// app gets as itself, with no user (the OAuth 2.0 client credentials
// grant, RFC 6749 §4.4; Logto's machine-to-machine applications). It is
// copied by [NewClientCredentials]; zero values get the documented
// defaults.
type ClientCredentialsConfig struct {
	// Issuer is the provider (Logto: https://<tenant>.logto.app/oidc); its
	// token endpoint is discovered on the first token. Required unless
	// TokenURL is set.
	Issuer string
	// TokenURL is the token endpoint, when there is no discovery to ask.
	TokenURL string
	// ClientID and ClientSecret are the machine-to-machine application's
	// (Logto: its App ID and App secret). Required.
	ClientID     string
	ClientSecret string
	// Resource is the API the tokens are for (RFC 8707 resource
	// indicator; Logto: the API identifier, which Logto requires). For
	// Logto's Management API it is https://<tenant>.logto.app/api.
	Resource string
	// Scopes are the scopes asked for (Logto: the API's permissions; "all"
	// for the Management API). Default: none, which Logto answers with
	// every permission the application's roles grant.
	Scopes []string
	// OrganizationID asks Logto for an organization token for the
	// application (an organization the application is a member of).
	OrganizationID string
	// EarlyExpiry is how long before its expiry a token is replaced, so
	// that it is still valid when the API checks it. Default 30 seconds.
	EarlyExpiry time.Duration
	// HTTPClient makes the discovery and token requests, with the same
	// limits as [Config.HTTPClient]. It is not the client that calls the
	// API: see [ClientCredentials.Client].
	HTTPClient *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives a warning when a token cannot be replaced and the
	// previous one is used until it expires. Default slog.Default().
	Logger *slog.Logger
	// InsecureAllowHTTP permits plain-http Issuer and TokenURL on hosts
	// other than loopback.
	InsecureAllowHTTP bool
}

// ClientCredentials gets, caches and replaces the app's own access token
// for one API. It is an [oauth2.TokenSource], so any Go HTTP client can
// use it ([ClientCredentials.Client], or an [oauth2.Transport] of your
// own). A token is reused until EarlyExpiry before it expires; concurrent
// callers then wait for one token request (single flight) instead of
// sending one each. Create it with [NewClientCredentials]; it is safe for
// concurrent use.
//
// The grant itself is golang.org/x/oauth2/clientcredentials', with
// Logto's resource (and organization_id) parameter and the client
// authenticated by client_secret_basic, or client_secret_post when the
// provider supports only that.
type ClientCredentials struct {
	cfg       clientcredentials.Config
	discovery *discovery // nil with TokenURL
	client    *http.Client
	early     time.Duration
	now       func() time.Time
	logger    *slog.Logger

	mu       sync.Mutex
	tok      *oauth2.Token // the cached token; nil before the first
	inflight *tokenFetch
}

// grantClientCredentials is RFC 6749 §4.4's grant_type.
const grantClientCredentials grantType = "client_credentials"

// tokenFetch is one token request that several callers may wait for.
type tokenFetch struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

// NewClientCredentials validates cfg and returns a token source. It never
// touches the network: discovery and the first token wait for the first
// call.
//
//	m2m, err := oidcauth.NewClientCredentials(oidcauth.ClientCredentialsConfig{
//		Issuer:       "https://your-tenant.logto.app/oidc",
//		ClientID:     os.Getenv("LOGTO_M2M_APP_ID"),
//		ClientSecret: os.Getenv("LOGTO_M2M_APP_SECRET"),
//		Resource:     "https://your-tenant.logto.app/api",
//		Scopes:       []string{"all"},
//	})
//	resp, err := m2m.Client(ctx).Get("https://your-tenant.logto.app/api/users")
func NewClientCredentials(cfg ClientCredentialsConfig) (*ClientCredentials, error) {
	var errs []error
	bad := func(msg string) { errs = append(errs, errors.New("oidcauth: ClientCredentialsConfig."+msg)) }
	switch {
	case cfg.Issuer == "" && cfg.TokenURL == "":
		bad("Issuer or TokenURL is required")
	case cfg.Issuer != "" && cfg.TokenURL != "":
		bad("Issuer and TokenURL are exclusive: the token endpoint is discovered from Issuer")
	}
	for name, u := range map[string]string{"Issuer": cfg.Issuer, "TokenURL": cfg.TokenURL} {
		if _, err := checkURL(u, cfg.InsecureAllowHTTP); u != "" && err != nil {
			bad(name + " " + err.Error())
		}
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		bad("ClientID and ClientSecret are required (Logto: the machine-to-machine app's App ID and App secret)")
	}
	if cfg.Resource != "" && !validResource(cfg.Resource) {
		bad("Resource must be an absolute URI without a fragment (Logto: the API identifier)")
	}
	if cfg.EarlyExpiry < 0 {
		bad("EarlyExpiry may not be negative")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	params := url.Values{}
	if cfg.Resource != "" {
		params.Set("resource", cfg.Resource)
	}
	if cfg.OrganizationID != "" {
		params.Set("organization_id", cfg.OrganizationID)
	}
	c := &ClientCredentials{
		cfg: clientcredentials.Config{
			ClientID:       cfg.ClientID,
			ClientSecret:   cfg.ClientSecret,
			TokenURL:       cfg.TokenURL,
			Scopes:         slices.Clone(cfg.Scopes),
			EndpointParams: params,
			// Never auto-detected: x/oauth2 would retry a refused request
			// with the secret in the other place.
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		client: limitedClient(cfg.HTTPClient),
		early:  cmp.Or(cfg.EarlyExpiry, tokenLeeway),
		now:    cfg.Now,
		logger: cmp.Or(cfg.Logger, slog.Default()),
	}
	if c.now == nil {
		c.now = time.Now
	}
	if cfg.Issuer != "" {
		c.discovery = &discovery{cfg: &Config{
			Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, HTTPClient: c.client,
			Now: c.now, Logger: c.logger, ClockSkew: defaultClockSkew, InsecureAllowHTTP: cfg.InsecureAllowHTTP,
		}}
	}
	return c, nil
}

// Token returns a valid access token, from the cache or a new token
// request. It implements [oauth2.TokenSource]; the request is bounded by
// the HTTP client's timeout.
func (c *ClientCredentials) Token() (*oauth2.Token, error) {
	return c.TokenContext(context.Background())
}

// TokenContext is Token for a caller that may give up: ctx ends the
// wait, not the token request, which other callers may share. The error
// wraps [ErrTokenEndpoint] (a *[ProviderError] in the chain has the
// provider's error code, such as invalid_client or invalid_target) or
// [ErrProviderUnavailable] when discovery fails.
func (c *ClientCredentials) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	c.mu.Lock()
	if t := c.tok; t != nil && c.now().Add(c.early).Before(t.Expiry) {
		c.mu.Unlock()
		return copyToken(t), nil
	}
	f := c.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		c.inflight = f
		// Detached from the caller: one caller giving up does not fail
		// the others waiting for the same token.
		go c.fetch(f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return copyToken(f.tok), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Client returns an HTTP client that sends the token in the
// Authorization header of every request, replacing it EarlyExpiry before
// it expires. It is built on ctx's oauth2.HTTPClient (its transport,
// redirect policy, jar and timeout), or http.DefaultClient, as with
// x/oauth2's Config.Client; unlike oauth2.NewClient it adds no second
// token cache, whose own earlier-expiry rule would override EarlyExpiry.
func (c *ClientCredentials) Client(ctx context.Context) *http.Client {
	base := http.DefaultClient
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc != nil {
		base = hc
	}
	return &http.Client{
		Transport:     &oauth2.Transport{Base: base.Transport, Source: c},
		CheckRedirect: base.CheckRedirect,
		Jar:           base.Jar,
		Timeout:       base.Timeout,
	}
}

// fetch runs one token request and publishes its outcome. When it fails
// while the cached token has not expired yet (it is only within
// EarlyExpiry), that token is kept and handed out.
func (c *ClientCredentials) fetch(f *tokenFetch) {
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, c.client)
	ctx, cancel := context.WithTimeout(ctx, c.client.Timeout)
	defer cancel()
	f.tok, f.err = c.request(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight = nil
	switch {
	case f.err == nil && !f.tok.Expiry.IsZero():
		c.tok = f.tok
	case f.err != nil && c.tok != nil && c.now().Before(c.tok.Expiry):
		c.logger.Warn("oidcauth: client credentials token request failed; the current token is used until it expires",
			"error", logSafe(f.err), "expires_in", c.tok.Expiry.Sub(c.now()).Round(time.Second))
		f.tok, f.err = c.tok, nil
	}
	// A token without expires_in is handed out but not cached: there is
	// no telling when it stops working.
	close(f.done)
}

// request asks the token endpoint for a token.
func (c *ClientCredentials) request(ctx context.Context) (*oauth2.Token, error) {
	cfg := c.cfg
	if c.discovery != nil {
		m, err := c.discovery.get(ctx)
		if err != nil {
			return nil, err
		}
		cfg.TokenURL = m.oauth2.Endpoint.TokenURL
		cfg.AuthStyle = m.oauth2.Endpoint.AuthStyle
	}
	tok, err := cfg.Token(ctx)
	if err != nil {
		return nil, clientCredentialsError(err)
	}
	// x/oauth2 dates the expiry by time.Now; Config.Now is the clock
	// every other check here uses.
	if secs := expiresIn(tok); secs > 0 {
		tok.Expiry = c.now().Add(time.Duration(secs) * time.Second)
	}
	return tok, nil
}

// clientCredentialsError classifies a failed grant as every other token
// request is (tokenErrorKind), keeping the provider's error code and
// dropping x/oauth2's response body, which may echo the secret.
func clientCredentialsError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fail(ErrTokenEndpoint, err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	pe := newProviderError(re.ErrorCode, re.ErrorDescription, re.ErrorURI, status)
	if pe.Code == "" {
		pe.Code = "no_error_code"
	}
	return fail(tokenErrorKind(grantClientCredentials, pe), pe)
}

// expiresIn is the token response's expires_in in seconds (a JSON number,
// or a string as some providers send it), or 0.
func expiresIn(tok *oauth2.Token) int64 {
	if tok.ExpiresIn > 0 {
		return tok.ExpiresIn
	}
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

func copyToken(t *oauth2.Token) *oauth2.Token {
	cp := *t
	return &cp
}
