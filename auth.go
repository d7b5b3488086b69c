package oidcauth

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oidcauth/oidcauth/internal/cookie"
)

// Auth signs users in with an OpenID Connect provider and guards handlers.
// Create it with [New]. It is immutable and safe for concurrent use.
type Auth struct {
	cfg           Config
	codec         *cookie.Codec
	discovery     *discovery
	cookies       cookie.Options
	sessionCookie string
	txPrefix      string
	origin        string // scheme://host of RedirectURL: the app's origin
	callbackPath  string
	touchEvery    int64 // seconds between rolling re-issues of the session
	tokens        tokenTable
	anonymous     *session        // marks a request this Auth found signed out
	verified      *verifiedCache  // cookies already opened; nil with a Store
	oauth2        []*oauth2Client // Config.OAuth2Providers, checked
	// asksProfile and asksEmail: Scopes hold "profile", "email" (for
	// Config.UserInfo's automatic mode).
	asksProfile, asksEmail bool
	// resourceParams are the RFC 8707 resource parameters of every
	// authorization request, encoded once.
	resourceParams string
	// revoking bounds the token revocations (RFC 7009) under way;
	// background counts them, so tests can wait for them.
	revoking          chan struct{}
	background        sync.WaitGroup
	revocationTimeout time.Duration
	endedMu           sync.Mutex
	ended             map[string]struct{} // sessions whose tokens were revoked when they came back ended
}

// New validates cfg and returns an Auth. It fails on a configuration
// mistake, explaining it, and never touches the network: the provider is
// discovered on first use, so the app starts while the provider is down.
func New(cfg Config) (*Auth, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	redirect, _ := url.Parse(cfg.RedirectURL) // validated by normalize
	// The cookie keys are bound to the deployment: the app's origin (from
	// RedirectURL), the issuer and the client. Staging and production
	// sharing SessionKeys, even with plain OAuth 2.0 providers only (no
	// issuer, no client), open each other's cookies as foreign.
	c, err := cookie.NewCodec(cfg.SessionKeys, originOf(redirect)+"\x00"+cfg.Issuer+"\x00"+cfg.ClientID)
	if err != nil {
		return nil, err
	}
	a := &Auth{
		cfg:          cfg,
		codec:        c,
		cookies:      cookie.Options{Secure: redirect.Scheme == "https"},
		origin:       originOf(redirect),
		callbackPath: redirect.EscapedPath(),
		touchEvery:   max(int64(cfg.SessionIdleTimeout/time.Second)/8, 1),
		asksProfile:  slices.Contains(cfg.Scopes, "profile"),
		asksEmail:    slices.Contains(cfg.Scopes, "email"),
	}
	if a.callbackPath == "" {
		a.callbackPath = "/"
	}
	a.anonymous = &session{owner: a}
	a.revoking = make(chan struct{}, maxRevocationsInFlight)
	a.revocationTimeout = revocationTimeout
	a.discovery = &discovery{cfg: &a.cfg}
	if cfg.Store == nil {
		a.verified = newVerifiedCache()
	}
	a.oauth2 = newOAuth2Clients(&a.cfg)
	resources := slices.Clone(cfg.Resources)
	if slices.Contains(cfg.Scopes, OrganizationsScope) && !slices.Contains(resources, organizationsResource) {
		resources = append(resources, organizationsResource)
	}
	if len(resources) > 0 {
		a.resourceParams = url.Values{"resource": resources}.Encode()
	}
	a.sessionCookie = cfg.CookieName
	if a.cookies.Secure {
		// __Host- cookies are only accepted over https, with Path=/ and no
		// Domain, so a sibling subdomain cannot plant or shadow them.
		a.sessionCookie = "__Host-" + cfg.CookieName
	}
	a.txPrefix = a.sessionCookie + "_tx."
	if cfg.InsecureAllowHTTP {
		cfg.Logger.Warn("oidcauth: InsecureAllowHTTP is set: plain-http provider and redirect URLs are accepted")
	}
	return a, nil
}

// Discover fetches the provider's metadata now instead of on first use, for
// a readiness check or to warm up at start. It is optional.
func (a *Auth) Discover(ctx context.Context) error {
	if a.cfg.Issuer == "" {
		return nil // plain OAuth 2.0 providers have nothing to discover
	}
	_, err := a.discovery.get(ctx)
	return err
}

// IsAuthenticated reports whether r carries a valid, unexpired session.
func (a *Auth) IsAuthenticated(r *http.Request) bool {
	return a.session(nil, r) != nil
}

// fail answers a handler failure: one log line without secrets, then the
// configured or default error response. Any session or transaction has
// already been cleared by the caller.
func (a *Auth) fail(w http.ResponseWriter, r *http.Request, event string, err error) {
	status := ErrorStatus(err)
	level := a.cfg.Logger.Warn
	if status >= 500 {
		level = a.cfg.Logger.Error
	}
	level("oidcauth: "+event+" failed", "event", failedEvent(event), "reason", ErrorReason(err), "status", status, "error", logSafe(err))
	a.render(w, r, err)
}

// render answers err with the configured error handler or the default page.
func (a *Auth) render(w http.ResponseWriter, r *http.Request, err error) {
	if a.cfg.ErrorHandler != nil {
		a.cfg.ErrorHandler(w, r, err)
		return
	}
	writeError(w, r, err)
}

// failedEvent is the stable "event" log attribute of a failure: a failed
// callback is a failed sign-in.
func failedEvent(event string) string {
	if strings.HasPrefix(event, "sign-in") {
		return "sign_in_failed"
	}
	return "sign_out_failed"
}

// logSafe is the text of err for a log line. Our errors never carry a token,
// code, secret or cookie value (token endpoint bodies are reduced to their
// error fields); the cut guards against verbose causes.
func logSafe(err error) string {
	return truncate(err.Error(), 512)
}
