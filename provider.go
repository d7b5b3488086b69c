package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oidcauth/oidcauth/internal/jose"
)

// metadata is what one successful discovery gives: endpoints, the verifier
// and its key set. It is immutable; a refresh replaces it whole.
type metadata struct {
	provider   *oidc.Provider
	oauth2     oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
	revocation string // RFC 7009 revocation_endpoint; "" none
	issParam   bool   // RFC 9207 authorization_response_iss_parameter_supported
	keys       *jose.KeySet
	fetchedAt  time.Time
}

// discoveryExtras are discovery fields go-oidc does not expose directly.
type discoveryExtras struct {
	EndSession  string   `json:"end_session_endpoint"`
	Revocation  string   `json:"revocation_endpoint"`
	IssParam    bool     `json:"authorization_response_iss_parameter_supported"`
	AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	UserInfo    string   `json:"userinfo_endpoint"`
	JWKS        string   `json:"jwks_uri"`
	Algs        []string `json:"id_token_signing_alg_values_supported"`
}

// signingAlgs are the JWS algorithms accepted for ID, logout and access
// tokens: asymmetric ones only ([jose.Algorithms]). "none" and HMAC (whose
// key would be the client secret, known to more than the provider) are
// never accepted (OIDC Core §3.1.3.7 items 6–8).
var signingAlgs = jose.Algorithms

// signatureRefused reports whether err, from the key set, is a verdict on
// the token (malformed, an algorithm not allowed, a key the provider does
// not publish, a signature that does not verify) rather than the keys
// being out of reach (no JWKS loaded yet, a fetch failing, ctx ending).
func signatureRefused(err error) bool {
	return errors.Is(err, jose.ErrMalformed) || errors.Is(err, jose.ErrAlgorithm) ||
		errors.Is(err, jose.ErrUnknownKey) || errors.Is(err, jose.ErrBadSignature)
}

// authStyle picks how the client authenticates at the token endpoint. It is
// never left to x/oauth2's auto-detection, which retries a failed exchange
// with the other style and so sends the authorization code twice; providers
// treat a reused code as an attack and revoke what it issued (RFC 6749
// §4.1.2). client_secret_basic is the default every provider must support
// (RFC 6749 §2.3.1); _post only when the provider lists it and not basic.
func authStyle(secret string, methods []string) oauth2.AuthStyle {
	if secret == "" {
		return oauth2.AuthStyleInParams // public client: client_id in the body
	}
	if len(methods) > 0 && !slices.Contains(methods, "client_secret_basic") && slices.Contains(methods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

const (
	discoveryTimeout = 5 * time.Second
	metadataTTL      = 24 * time.Hour
	minBackoff       = time.Second
	maxBackoff       = 30 * time.Second
)

// discovery fetches the provider's metadata lazily, one fetch at a time,
// keeps the last good copy when a refresh fails, and backs off after
// failures so an unreachable provider costs one timed-out call per backoff
// period, not one per request.
type discovery struct {
	cfg *Config

	mu       sync.Mutex
	cur      *metadata
	inflight chan struct{} // closed when the running fetch ends
	failures int
	retryAt  time.Time
	lastErr  error
}

// get returns the metadata, fetching it if there is none yet. A stale copy
// is returned at once while a refresh runs in the background.
func (d *discovery) get(ctx context.Context) (*metadata, error) {
	for {
		d.mu.Lock()
		now := d.cfg.Now()
		if m := d.cur; m != nil {
			if now.Sub(m.fetchedAt) > metadataTTL && d.inflight == nil && !now.Before(d.retryAt) {
				d.start()
			}
			d.mu.Unlock()
			return m, nil
		}
		if d.inflight == nil {
			if now.Before(d.retryAt) {
				err := d.lastErr
				d.mu.Unlock()
				return nil, fail(ErrProviderUnavailable, err)
			}
			d.start()
		}
		ch := d.inflight
		d.mu.Unlock()
		select {
		case <-ch:
			d.mu.Lock()
			m, err := d.cur, d.lastErr
			d.mu.Unlock()
			if m != nil {
				return m, nil
			}
			return nil, fail(ErrProviderUnavailable, err)
		case <-ctx.Done():
			return nil, fail(ErrProviderUnavailable, ctx.Err())
		}
	}
}

// cached returns the current metadata without fetching.
func (d *discovery) cached() *metadata {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur
}

// start runs a fetch in the background; d.mu is held. The fetch is detached
// from any request so that one caller giving up does not fail the others.
func (d *discovery) start() {
	ch := make(chan struct{})
	d.inflight = ch
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), discoveryTimeout)
		m, err := d.fetch(ctx)
		cancel()
		d.mu.Lock()
		defer d.mu.Unlock()
		d.inflight = nil
		close(ch)
		if err != nil {
			d.failures++
			backoff := min(minBackoff<<min(d.failures-1, 5), maxBackoff)
			d.retryAt = d.cfg.Now().Add(backoff)
			d.lastErr = err
			d.cfg.Logger.Warn("oidcauth: provider discovery failed", "issuer", d.cfg.Issuer, "retry_in", backoff, "error", logSafe(err))
			return
		}
		d.failures, d.lastErr, d.retryAt = 0, nil, time.Time{}
		d.cur = m
	}()
}

func (d *discovery) fetch(ctx context.Context) (*metadata, error) {
	cfg := d.cfg
	// go-oidc uses the client in the context for discovery; it checks that
	// the document names our issuer exactly (OIDC Discovery §4.3), which
	// defeats a mix-up through a wrong issuer.
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		if u, perr := url.Parse(cfg.Issuer); perr == nil && strings.Trim(u.Path, "/") == "" {
			// Logto's endpoint (a Logto Cloud tenant, a custom domain) is
			// not its issuer: the issuer ends in /oidc.
			err = fmt.Errorf("%w (for Logto, the issuer is the endpoint plus /oidc: %s/oidc)", err, strings.TrimSuffix(cfg.Issuer, "/"))
		}
		return nil, err
	}
	var extras discoveryExtras
	if err := p.Claims(&extras); err != nil {
		return nil, err
	}
	m := &metadata{
		provider:   p,
		endSession: extras.EndSession,
		revocation: extras.Revocation,
		issParam:   extras.IssParam,
		fetchedAt:  cfg.Now(),
	}
	endpoint := p.Endpoint()
	endpoint.AuthStyle = authStyle(cfg.ClientSecret, extras.AuthMethods)
	if endpoint.AuthURL == "" || endpoint.TokenURL == "" || extras.JWKS == "" {
		return nil, errors.New("oidcauth: discovery lacks authorization, token or JWKS endpoint")
	}
	// Every endpoint meets the issuer's rules: https (http on loopback), no
	// user info. An http token endpoint would carry the code, verifier and
	// secret in clear; a javascript: end-session endpoint would land in the
	// sign-out redirect.
	for _, e := range []struct{ name, url string }{
		{"authorization_endpoint", endpoint.AuthURL}, {"token_endpoint", endpoint.TokenURL},
		{"userinfo_endpoint", extras.UserInfo}, {"jwks_uri", extras.JWKS}, {"end_session_endpoint", extras.EndSession},
		{"revocation_endpoint", extras.Revocation},
	} {
		if e.url == "" {
			continue
		}
		if _, err := checkURL(e.url, cfg.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("oidcauth: discovery's %s %w", e.name, err)
		}
	}
	m.oauth2 = oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     endpoint,
		RedirectURL:  cfg.RedirectURL,
		Scopes:       cfg.Scopes,
	}
	skew := cfg.ClockSkew
	var algs []string
	for _, a := range extras.Algs {
		if slices.Contains(jose.Algorithms, a) {
			algs = append(algs, a)
		}
	}
	// go-oidc's verifier checks the algorithm, iss, aud and exp, and asks
	// our key set (internal/jose: refetch cooldown, cached keys kept
	// through JWKS outages, a JWK's alg binding its key) for the signature,
	// which go-jose verifies. Its Now is moved back by the allowed skew so
	// an ID token is accepted up to ClockSkew after its exp. Algorithms are
	// what discovery advertises, less "none" and HMAC; with none advertised
	// go-oidc requires RS256, the mandatory one.
	// A refresh of the metadata keeps the key set (and its cached keys)
	// while jwks_uri is the same: keys keep working through a JWKS outage
	// that outlasts the metadata's lifetime.
	m.keys = jose.NewKeySet(extras.JWKS, cfg.HTTPClient, cfg.Now)
	if prev := d.cached(); prev != nil && prev.keys != nil && prev.keys.URL() == extras.JWKS {
		m.keys = prev.keys
	}
	m.verifier = oidc.NewVerifier(cfg.Issuer, m.keys, &oidc.Config{
		ClientID:             cfg.ClientID,
		SupportedSigningAlgs: algs,
		Now:                  func() time.Time { return cfg.Now().Add(-skew) },
	})
	return m, nil
}
