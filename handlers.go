package oidcauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// SignInOption customises one sign-in, like x/oauth2's AuthCodeOption. Only
// this package implements it.
type SignInOption interface{ apply(*signInOptions) }

type signInOptions struct {
	returnTo string
	prompt   string
	params   map[string]string
	provider string // an OAuth2Provider's name; "" the OpenID Connect provider
}

type optionFunc func(*signInOptions)

func (f optionFunc) apply(o *signInOptions) { f(o) }

// WithReturnTo sets where the browser lands after signing in. Only a path on
// the app's own origin is honoured; anything else lands on "/".
func WithReturnTo(path string) SignInOption {
	return optionFunc(func(o *signInOptions) { o.returnTo = path })
}

// WithFirstScreen asks the provider to open on a given screen: Logto's
// first_screen parameter ("sign_in", "register", "reset_password",
// "single_sign_on", "identifier:sign_in", "identifier:register").
// WithFirstScreen("register") is Logto SDKs' sign-up first screen.
func WithFirstScreen(screen string) SignInOption { return WithAuthParam("first_screen", screen) }

// WithInteractionMode sets Logto's older interaction_mode parameter
// ("signUp" opens the sign-up screen) for Logto versions that predate
// first_screen.
func WithInteractionMode(mode string) SignInOption { return WithAuthParam("interaction_mode", mode) }

// WithLoginHint pre-fills the user's identifier (OIDC Core §3.1.2.1
// login_hint), such as an e-mail address.
func WithLoginHint(hint string) SignInOption { return WithAuthParam("login_hint", hint) }

// WithPrompt overrides [Config.Prompt] for this sign-in ("login",
// "consent", "none", or "" for no prompt parameter).
func WithPrompt(prompt string) SignInOption {
	return optionFunc(func(o *signInOptions) { o.prompt = prompt })
}

// WithAuthParam adds an authorization request parameter, such as Logto's
// "identifier" or "direct_sign_in". Parameters the library controls (state,
// nonce, PKCE, redirect_uri, scope, …) are ignored.
func WithAuthParam(key, value string) SignInOption {
	return optionFunc(func(o *signInOptions) {
		if slices.Contains(reservedAuthParams, key) {
			return
		}
		if o.params == nil {
			o.params = map[string]string{}
		}
		o.params[key] = value
	})
}

// firstScreens are the values of Logto's first_screen that the sign-in
// handler passes through from its query string.
var firstScreens = []string{"sign_in", "register", "reset_password", "single_sign_on", "identifier:sign_in", "identifier:register"}

// SignInHandler starts a sign-in. It reads these query parameters:
// returnTo (a same-origin path to land on afterwards), first_screen (one of
// Logto's values; e.g. first_screen=register opens sign-up),
// interaction_mode=signUp (Logto's older form), login_hint, and provider
// (the name of one of [Config.OAuth2Providers]). Without a provider and
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
		opts := []SignInOption{WithReturnTo(q.Get("returnTo")), WithProvider(q.Get("provider"))}
		if s := q.Get("first_screen"); slices.Contains(firstScreens, s) {
			opts = append(opts, WithFirstScreen(s))
		}
		if q.Get("interaction_mode") == "signUp" {
			opts = append(opts, WithInteractionMode("signUp"))
		}
		if h := q.Get("login_hint"); h != "" && len(h) <= 256 {
			opts = append(opts, WithLoginHint(h))
		}
		a.SignIn(w, r, opts...)
	})
}

// SignIn redirects the browser to the provider to sign in, using the
// authorization code flow with PKCE (S256), a fresh state and nonce, and
// the given options. While the provider cannot be reached it answers 503.
func (a *Auth) SignIn(w http.ResponseWriter, r *http.Request, opts ...SignInOption) {
	o := signInOptions{prompt: a.cfg.Prompt}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if p, err := a.pickProvider(o.provider); err != nil {
		a.fail(w, r, "sign-in", err)
		return
	} else if p != nil {
		a.signInOAuth2(w, r, p, &o)
		return
	}
	m, err := a.discovery.get(r.Context())
	if err != nil {
		w.Header().Set("Retry-After", "5")
		a.fail(w, r, "sign-in", err)
		return
	}
	t := newTransaction(safeReturnTo(o.returnTo), a.cfg.Now())
	a.saveTransaction(w, r, t)
	params := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(t.verifier),
		oauth2.SetAuthURLParam("nonce", t.nonce),
	}
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
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// CallbackHandler finishes a sign-in at the redirect URI. It checks the
// state against this browser's pending sign-in (single use), the RFC 9207
// issuer, redeems the code with the PKCE verifier, verifies the ID token,
// replaces any earlier session with a fresh one and redirects to the
// returnTo path with 303. Any failure answers 4xx/5xx and leaves no session.
func (a *Auth) CallbackHandler() http.Handler { return a.callbackHandler(a.callback) }

// callbackHandler answers a callback that finish completes: the new session
// written and a 303 to returnTo, or a failure that leaves no session.
func (a *Auth) callbackHandler(finish func(http.ResponseWriter, *http.Request) (*session, string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			a.fail(w, r, "sign-in callback", ErrMethodNotAllowed)
			return
		}
		s, returnTo, err := finish(w, r)
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
// identity.
func keepsSession(err error) bool {
	var pe *ProviderError
	return errors.Is(err, ErrInvalidState) || (errors.As(err, &pe) && pe.StatusCode == 0)
}

// refusals are authorization errors meaning the user or provider said no
// (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6).
var refusals = []string{"access_denied", "login_required", "consent_required", "interaction_required", "account_selection_required"}

func (a *Auth) callback(w http.ResponseWriter, r *http.Request) (*session, string, error) {
	q := r.URL.Query()
	// Consume the transaction first: whatever happens next, this state
	// cannot be used again.
	t, err := a.takeTransaction(w, r, q.Get("state"))
	if err != nil {
		return nil, "", err
	}
	// A sign-in with a plain OAuth 2.0 provider finishes at its own
	// callback only (RFC 9700 §4.4.2).
	if t.provider != "" {
		return nil, "", fail(ErrIssuerMismatch, errors.New("response for a sign-in with another provider"))
	}
	m, err := a.discovery.get(r.Context())
	if err != nil {
		return nil, "", err
	}
	// RFC 9207 §2.4: when the provider advertises the iss parameter it must
	// be present; when present it must be our issuer, also on errors.
	if iss, has := q["iss"]; has || m.issParam {
		if !has || len(iss) != 1 || iss[0] != a.cfg.Issuer {
			return nil, "", fail(ErrIssuerMismatch, nil)
		}
	}
	if err := authorizationError(q); err != nil {
		return nil, "", err
	}
	code := q.Get("code")
	if code == "" || len(q["code"]) != 1 {
		return nil, "", fail(ErrInvalidCallback, errors.New("missing code"))
	}
	ctx := oidc.ClientContext(r.Context(), a.cfg.HTTPClient)
	tok, err := m.oauth2.Exchange(ctx, code, oauth2.VerifierOption(t.verifier))
	if err != nil {
		return nil, "", tokenError(err)
	}
	idt, claims, decoded, err := a.verifyIDToken(ctx, m, tok, t)
	if err != nil {
		return nil, "", err
	}
	if a.cfg.FetchUserInfo {
		if claims, err = a.mergeUserInfo(ctx, m, tok.AccessToken, idt.Subject, claims); err != nil {
			return nil, "", err
		}
		decoded = nil // the merged claims are decoded afresh
	}
	s, err := a.newSession(idt, claims, decoded, tok)
	if err != nil {
		return nil, "", err
	}
	if a.cfg.OnSignIn != nil {
		if err := a.cfg.OnSignIn(r.Context(), &s.user); err != nil {
			return nil, "", fail(ErrAccessDenied, err)
		}
		if s.user.Subject != idt.Subject {
			return nil, "", fail(ErrInternal, errors.New("OnSignIn may not change the subject"))
		}
	}
	return s, t.returnTo, nil
}

// authorizationError classifies an authorization error response (RFC 6749
// §4.1.2.1); nil when the response carries no error.
func authorizationError(q url.Values) error {
	code := q.Get("error")
	if code == "" {
		return nil
	}
	if q.Has("code") {
		return fail(ErrInvalidCallback, errors.New("both code and error in the response"))
	}
	pe := newProviderError(code, q.Get("error_description"), q.Get("error_uri"), 0)
	switch {
	case slices.Contains(refusals, code):
		return fail(ErrAccessDenied, pe)
	case code == "temporarily_unavailable":
		return fail(ErrProviderUnavailable, pe)
	default:
		return fail(ErrAuthorization, pe)
	}
}

// tokenError classifies a failed code redemption without keeping the
// response body, which oauth2.RetrieveError prints and which must not reach
// a log.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fail(ErrTokenEndpoint, err)
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	pe := newProviderError(re.ErrorCode, re.ErrorDescription, re.ErrorURI, status)
	if re.ErrorCode == "invalid_grant" {
		return fail(ErrCodeRejected, pe)
	}
	return fail(ErrTokenEndpoint, pe)
}

// idClaims are the claims we read beyond go-oidc's checks.
type idClaims struct {
	Azp               string          `json:"azp"`
	Sid               string          `json:"sid"`
	Name              string          `json:"name"`
	Email             string          `json:"email"`
	EmailVerified     json.RawMessage `json:"email_verified"`
	Picture           string          `json:"picture"`
	Username          string          `json:"username"`
	PreferredUsername string          `json:"preferred_username"`
	PhoneNumber       string          `json:"phone_number"`
}

// verifyIDToken checks the ID token (OIDC Core §3.1.3.7): go-oidc verifies
// signature, iss, aud and exp; we add nonce, sub, iat, azp and at_hash.
func (a *Auth) verifyIDToken(ctx context.Context, m *metadata, tok *oauth2.Token, t *transaction) (*oidc.IDToken, json.RawMessage, *idClaims, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, nil, nil, fail(ErrInvalidIDToken, errors.New("token response has no id_token"))
	}
	idt, err := m.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, nil, nil, fail(ErrInvalidIDToken, err)
	}
	bad := func(why string) (*oidc.IDToken, json.RawMessage, *idClaims, error) {
		return nil, nil, nil, fail(ErrInvalidIDToken, errors.New(why))
	}
	// §3.1.3.7 item 11: the nonce ties the token to this browser's attempt.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(t.nonce)) != 1 {
		return bad("nonce does not match")
	}
	if idt.Subject == "" || len(idt.Subject) > 255 {
		return bad("sub missing or longer than 255 characters")
	}
	// §3.1.3.7 item 10: iat must be present and recent; a token issued
	// before this attempt began is a replay.
	skew := a.cfg.ClockSkew
	now := a.cfg.Now()
	if idt.IssuedAt.IsZero() || idt.IssuedAt.After(now.Add(skew)) || idt.IssuedAt.Before(time.Unix(t.created, 0).Add(-skew)) {
		return bad("iat missing, in the future, or before the sign-in began")
	}
	claims, decoded, err := a.checkClaims(idt, raw, tok.AccessToken)
	if err != nil {
		return nil, nil, nil, err
	}
	return idt, claims, decoded, nil
}

// checkClaims returns the ID token's claims after the checks that a
// token from the code exchange and one from a refresh share: azp, and
// at_hash against the access token issued with it.
//
// The claims JSON is the token's payload segment, which go-oidc has just
// decoded as a JSON object; taking it from there, and decoding our claims
// once, saves two passes over it per sign-in.
func (a *Auth) checkClaims(idt *oidc.IDToken, rawIDToken, accessToken string) (json.RawMessage, *idClaims, error) {
	claims := payloadOf(rawIDToken)
	if claims == nil {
		if err := idt.Claims(&claims); err != nil {
			return nil, nil, fail(ErrInvalidIDToken, errors.New("claims are not a JSON object"))
		}
	}
	c := new(idClaims)
	if json.Unmarshal(claims, c) != nil {
		return nil, nil, fail(ErrInvalidIDToken, errors.New("claims are not a JSON object of the expected types"))
	}
	// §3.1.3.7 items 4–5: with several audiences azp must name us.
	if (len(idt.Audience) > 1 && c.Azp == "") || (c.Azp != "" && c.Azp != a.cfg.ClientID) {
		return nil, nil, fail(ErrInvalidIDToken, errors.New("azp missing or not this client"))
	}
	// §3.1.3.8: at_hash, when present, binds the access token.
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return nil, nil, fail(ErrInvalidIDToken, errors.New("at_hash does not match the access token"))
		}
	}
	return claims, c, nil
}

// payloadOf decodes a compact JWS's payload segment, or returns nil.
func payloadOf(jwt string) json.RawMessage {
	_, rest, ok := strings.Cut(jwt, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil
	}
	return b
}

func (a *Auth) newSession(idt *oidc.IDToken, claims json.RawMessage, decoded *idClaims, tok *oauth2.Token) (*session, error) {
	user, sid, err := a.claimsUser(idt.Subject, claims, decoded)
	if err != nil {
		return nil, err
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	now := a.cfg.Now().Unix()
	s := &session{
		id:           string(id[:]),
		sid:          sid,
		user:         user,
		created:      now,
		touched:      now,
		idToken:      packToken(tok.Extra("id_token").(string)),
		accessToken:  packToken(tok.AccessToken),
		refreshToken: tok.RefreshToken,
	}
	if !tok.Expiry.IsZero() {
		s.expiry = tok.Expiry.Unix()
	}
	return s, nil
}

// userFromClaims builds the user that a JSON object of claims (an ID
// token's, userinfo's, or both merged) describes.
func (a *Auth) userFromClaims(sub string, claims json.RawMessage) (User, error) {
	u, _, err := a.claimsUser(sub, claims, nil)
	return u, err
}

// claimsUser is userFromClaims that also returns the sid claim, from the
// one decode of the claims; c is that decode when the caller has it.
func (a *Auth) claimsUser(sub string, claims json.RawMessage, c *idClaims) (User, string, error) {
	if c == nil {
		c = new(idClaims)
		if err := json.Unmarshal(claims, c); err != nil {
			return User{}, "", fail(ErrUserInfo, errors.New("claims have unexpected types"))
		}
	}
	u := User{
		Subject:       sub,
		Name:          c.Name,
		Email:         c.Email,
		EmailVerified: string(c.EmailVerified) == "true" || string(c.EmailVerified) == `"true"`,
		Picture:       c.Picture,
		Username:      c.Username,
		Phone:         c.PhoneNumber,
		Issuer:        a.cfg.Issuer,
		claims:        string(claims),
	}
	if u.Username == "" {
		u.Username = c.PreferredUsername
	}
	return u, c.Sid, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// SignOutHandler signs the user out at GET or POST. A plain link from the
// app's own pages works: the browser marks it same-origin (Sec-Fetch-Site,
// or a Referer on the app's origin). A GET without that evidence, and any
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

// site is what a request's headers say about who made it.
type site int

const (
	siteUnknown site = iota // no evidence: a non-browser client, or an old browser
	siteSame                // the app's own origin, or the user typing the URL
	siteOther               // another site, a sibling subdomain included
)

// requestSite reads Fetch Metadata first, then Origin, then Referer.
func (a *Auth) requestSite(r *http.Request) site {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return siteSame
	case "cross-site", "same-site":
		return siteOther
	}
	for _, h := range [...]string{"Origin", "Referer"} {
		if v := r.Header.Get(h); v != "" {
			if u, err := url.Parse(v); err == nil && originOf(u) == a.origin {
				return siteSame
			}
			return siteOther // "null", another origin, or unparseable
		}
	}
	return siteUnknown
}

// originOf is u's origin as browsers serialise it (RFC 6454 §6.2): scheme
// and host in lower case, the scheme's default port left out.
func originOf(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

var confirmPage = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign out?</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}</style>
</head><body><main>
<h1>Sign out?</h1>
<p>Another site asked to sign you out.</p>
<form method="post"><button type="submit" id="confirm-sign-out">Sign out</button></form>
<p><a href="/">Stay signed in</a></p>
</main></body></html>
`))

func (a *Auth) confirmSignOut(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	// No form-action: browsers apply it to the redirects after the form
	// is sent, and sign-out goes on to the provider's end-session endpoint.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	// The form has no action: it posts back to this very URL, which holds
	// wherever the handler is mounted.
	_ = confirmPage.Execute(w, nil)
}
