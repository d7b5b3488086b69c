package oidcauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"
)

// SignInHandler starts a sign-in. It reads these query parameters:
// returnTo (a same-origin path to land on afterwards), provider (the name
// of one of [Config.OAuth2Providers]), silent=1 (a silent sign-in,
// [WithSilentSignIn] with [SilentSignedOut]), and Logto's sign-in
// parameters, each passed on only when it passes its check: first_screen
// (one of Logto's screens; first_screen=register opens sign-up),
// identifier (email, phone and/or username, space separated), login_hint
// (up to 256 printable characters), direct_sign_in (social:<connector> or
// sso:<connector id>), ui_locales (up to 10 BCP 47 language tags) and
// interaction_mode (signIn or signUp, Logto's older form of first_screen).
// Nothing else from the query reaches the provider. Without a provider and
// with no default (no Issuer, several OAuth 2.0 providers) it answers a
// page linking to each. GET only.
func (a *Auth) SignInHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			a.fail(w, r, "sign-in", ErrMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		if !q.Has("provider") && a.cfg.Issuer == "" && len(a.oauth2) > 1 {
			a.chooseProvider(w, r)
			return
		}
		opts := append([]SignInOption{WithReturnTo(q.Get("returnTo")), WithOAuth2Provider(q.Get("provider"))}, queryOptions(q)...)
		if q.Get("silent") == "1" {
			opts = append(opts, WithSilentSignIn(SilentSignedOut))
		}
		a.SignIn(w, r, opts...)
	})
}

// SignIn redirects the browser to the provider to sign in, using the
// authorization code flow with PKCE (S256), a fresh state and nonce, and
// the given options. While the provider cannot be reached it answers 503.
func (a *Auth) SignIn(w http.ResponseWriter, r *http.Request, opts ...SignInOption) {
	a.signIn(w, r, signInOpts(a.cfg.Prompt, opts))
}

// SignInURL starts a sign-in as [Auth.SignIn] does but returns the URL to
// send the browser to instead of redirecting, as Logto's signIn does: for
// a page that opens it itself (a link, a popup, a native browser). The
// sign-in stays bound to this browser: its transaction cookie is set
// through w, so call SignInURL before the response is written, and the URL
// completes a sign-in only in the browser that received that cookie. (A
// silent sign-in already tried gives its fallback: the returnTo path, or
// an interactive sign-in's URL.) The error wraps [ErrProviderUnavailable]
// while the provider cannot be reached, or [ErrUnknownProvider].
func (a *Auth) SignInURL(w http.ResponseWriter, r *http.Request, opts ...SignInOption) (string, error) {
	return a.signInURL(w, r, signInOpts(a.cfg.Prompt, opts))
}

func signInOpts(prompt string, opts []SignInOption) *signInOptions {
	o := &signInOptions{prompt: prompt}
	for _, opt := range opts {
		opt.apply(o)
	}
	return o
}

// signIn redirects to where signInURL says, or answers its failure.
func (a *Auth) signIn(w http.ResponseWriter, r *http.Request, o *signInOptions) {
	a.redirectOrFail(w, r, a.signInURL)(o)
}

// redirectOrFail returns a function that runs next and redirects to its
// URL with 303, or answers its error.
func (a *Auth) redirectOrFail(w http.ResponseWriter, r *http.Request, next func(http.ResponseWriter, *http.Request, *signInOptions) (string, error)) func(*signInOptions) {
	return func(o *signInOptions) {
		target, err := next(w, r, o)
		if err != nil {
			if errors.Is(err, ErrProviderUnavailable) {
				w.Header().Set("Retry-After", "5")
			}
			a.fail(w, r, "sign-in", err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusSeeOther)
	}
}

func (a *Auth) signInURL(w http.ResponseWriter, r *http.Request, o *signInOptions) (string, error) {
	if p, err := a.pickProvider(o.provider); err != nil {
		return "", err
	} else if p != nil {
		w.Header().Set("Cache-Control", "no-store")
		return a.oauth2SignInURL(w, r, p, o), nil
	}
	// prompt=none set by WithPrompt or Config.Prompt: a silent sign-in
	// whose fallback is an interactive one (a RequireAuth page must lead
	// to a sign-in, not back to itself).
	if o.prompt == "none" && !o.authn.silent {
		o.authn.silent, o.authn.interactive = true, true
	}
	// One silent attempt per navigation: the next one within the
	// attempt's lifetime is interactive, whatever its fallback, so no
	// page that starts silent sign-ins can loop through the provider.
	if o.authn.silent && a.SilentSignInTried(r) {
		return a.interactiveURL(w, r, o)
	}
	m, err := a.discovery.get(r.Context())
	if err != nil {
		return "", err
	}
	t := newTransaction(safeReturnTo(o.returnTo), a.cfg.Now())
	t.authn = o.authn
	a.saveTransaction(w, r, t)
	params := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(t.verifier),
		oauth2.SetAuthURLParam("nonce", t.nonce),
	}
	params = t.authn.params(params)
	if o.prompt != "" {
		params = append(params, oauth2.SetAuthURLParam("prompt", o.prompt))
	}
	for _, extra := range []map[string]string{a.cfg.AuthParams, o.params} {
		for k, v := range extra {
			params = append(params, oauth2.SetAuthURLParam(k, v))
		}
	}
	target := m.oauth2.AuthCodeURL(t.state, params...)
	if a.resourceParams != "" {
		// x/oauth2 sets one value per parameter; RFC 8707 repeats resource.
		target += "&" + a.resourceParams
	}
	w.Header().Set("Cache-Control", "no-store")
	a.cfg.Logger.Info("oidcauth: sign-in started", "event", "sign_in_started")
	return target, nil
}

// CallbackHandler finishes a sign-in at the redirect URI. It checks the
// state against this browser's pending sign-in (single use), the RFC 9207
// issuer, redeems the code with the PKCE verifier, verifies the ID token,
// replaces any earlier session with a fresh one and redirects to the
// returnTo path with 303. Any failure answers 4xx/5xx and writes no new
// session; an earlier session survives a bad state, an error response from
// the provider and a failed step-up, and any other failure signs the
// browser out.
func (a *Auth) CallbackHandler() http.Handler { return a.callbackHandler(a.callback) }

// callbackHandler answers a callback that finish completes: the new session
// written and a 303 to returnTo, or a failure that writes none.
func (a *Auth) callbackHandler(finish func(http.ResponseWriter, *http.Request) (*session, string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			a.fail(w, r, "sign-in callback", ErrMethodNotAllowed)
			return
		}
		s, returnTo, err := finish(w, r)
		if errors.Is(err, errAnswered) {
			return
		}
		if err == nil && a.revoked(s) {
			// A sign-in within the cut-off of a revocation of its user (a
			// SignOutEverywhere moments ago): its session would be refused
			// at once, and RequireAuth would send the browser round to sign
			// in again, in a loop.
			err = fail(ErrAccessDenied, errors.New("the user's sessions were revoked moments ago"))
		}
		if err == nil {
			err = a.writeSession(w, r, s, true)
		}
		if err != nil {
			if !keepsSession(err) {
				a.clearSession(w, r)
			}
			a.fail(w, r, "sign-in callback", err)
			return
		}
		a.forgetSilentAttempt(w, r)
		a.cfg.Logger.Info("oidcauth: sign-in succeeded", "event", "sign_in_succeeded", "user", &s.user)
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
	})
}

// keepsSession tells the failures that leave the browser's earlier session
// as it was. A bad state may be a forged link, and an error response from
// the provider (a cancel, or login_required from a silent Prompt "none"
// check, which another site can start) put nothing new at stake: neither
// may sign a user out. Any other failure comes after this browser's own
// sign-in was under way, and leaves it signed out rather than in an earlier
// identity; but a step-up ([Auth.RequireStepUp]) that fails leaves the
// session it was asked of.
func keepsSession(err error) bool {
	var pe *ProviderError
	var kept sessionKept
	return errors.Is(err, ErrInvalidState) || (errors.As(err, &pe) && pe.StatusCode == 0) || errors.As(err, &kept)
}

// SignOutHandler signs the user out at GET or POST. A plain link from the
// app's own pages works: the browser marks it same-origin (Sec-Fetch-Site,
// or an Origin or Referer on the app's origin). A GET without that evidence, and any
// request another site made, gets a confirmation page instead, so a
// cross-site link, image or form cannot sign a user out silently, even in
// browsers without Fetch Metadata. A POST without evidence either way (a
// non-browser client) signs out: browsers always mark cross-site POSTs.
func (a *Auth) SignOutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			a.fail(w, r, "sign-out", ErrMethodNotAllowed)
			return
		}
		site := a.requestSite(r)
		if site == siteOther || (r.Method == http.MethodGet && site != siteSame) {
			a.confirmSignOut(w, r)
			return
		}
		a.SignOut(w, r)
	})
}

// SignOut ends the session locally, then sends the browser to the
// provider's end_session_endpoint (OIDC RP-Initiated Logout 1.0 §2) with
// id_token_hint, client_id and post_logout_redirect_uri, or straight to the
// post-logout URL when the provider has none or cannot be reached.
func (a *Auth) SignOut(w http.ResponseWriter, r *http.Request) {
	s := a.session(nil, r)
	a.clearSession(w, r)
	if s != nil {
		// A copy of the cookie, kept by anyone, is refused from now on.
		if err := a.revoke(r.Context(), Revocation{SessionID: s.id}); err != nil {
			a.cfg.Logger.Warn("oidcauth: recording the sign-out failed", "error", logSafe(err))
		}
	}
	target := a.cfg.PostLogoutRedirectURL
	if target == "" {
		target = "/"
	}
	// A plain OAuth 2.0 provider has no end-session endpoint: its sessions
	// end here only.
	var m *metadata // nil: no end-session to visit
	if a.cfg.Issuer != "" && (s == nil || s.provider == "") {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		m, _ = a.discovery.get(ctx) // unreachable: sign out locally
		cancel()
	}
	// RFC 7009: the refresh token (and the access token) revoked at the
	// provider, in the background, never holding up the sign-out.
	a.revokeTokens(m, s)
	if m != nil && m.endSession != "" {
		if u, perr := url.Parse(m.endSession); perr == nil {
			q := u.Query()
			q.Set("client_id", a.cfg.ClientID)
			if a.cfg.PostLogoutRedirectURL != "" {
				q.Set("post_logout_redirect_uri", a.cfg.PostLogoutRedirectURL)
			}
			if s != nil && !s.idToken.empty() {
				q.Set("id_token_hint", s.idToken.compact())
			}
			u.RawQuery = q.Encode()
			target = u.String()
		}
	}
	if s != nil {
		a.cfg.Logger.Info("oidcauth: signed out", "event", "sign_out", "user", &s.user)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// Handler returns every route on one handler, for routers that take an
// http.Handler: those [Auth.Mount] registers ([Config.SignInPath],
// RedirectURL's path, each OAuth 2.0 provider's callback,
// [Config.SignOutPath] and [Config.BackChannelLogoutPath]); anything else
// is 404. It matches the full request path, so mount it where paths
// arrive unchanged (not behind http.StripPrefix); to serve under a prefix,
// put the prefix in those settings.
func (a *Auth) Handler() http.Handler {
	mux := http.NewServeMux()
	a.Mount(mux)
	return mux
}

// Mount registers the sign-in handler at [Config.SignInPath], the callback
// at RedirectURL's path (when there is an Issuer), each OAuth 2.0
// provider's callback at its RedirectURL's path, the sign-out handler at
// [Config.SignOutPath] and (with an Issuer) the back-channel logout
// handler at [Config.BackChannelLogoutPath] on mux.
func (a *Auth) Mount(mux interface {
	Handle(pattern string, handler http.Handler)
}) {
	mux.Handle(a.cfg.SignInPath, a.SignInHandler())
	if a.cfg.Issuer != "" {
		mux.Handle(a.callbackPath, a.CallbackHandler())
	}
	a.mountOAuth2(mux)
	mux.Handle(a.cfg.SignOutPath, a.SignOutHandler())
	if a.cfg.Issuer != "" {
		mux.Handle(a.cfg.BackChannelLogoutPath, a.BackChannelLogoutHandler())
	}
}
