package oidcauth

import (
	"context"
	"crypto/rand"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// oauth2Client is a configured, checked [OAuth2Provider].
type oauth2Client struct {
	OAuth2Provider
	callbackPath string
	authorize    oauth2.Config // builds the authorization URL
	token        tokenEndpoint
}

func newOAuth2Clients(cfg *Config) []*oauth2Client {
	out := make([]*oauth2Client, 0, len(cfg.OAuth2Providers))
	for _, p := range cfg.OAuth2Providers {
		u, _ := url.Parse(p.RedirectURL) // checked by normalize
		c := &oauth2Client{OAuth2Provider: p, callbackPath: u.EscapedPath()}
		c.authorize = oauth2.Config{
			ClientID:    p.ClientID,
			Endpoint:    oauth2.Endpoint{AuthURL: p.AuthorizationEndpoint, TokenURL: p.TokenEndpoint},
			RedirectURL: p.RedirectURL,
			Scopes:      strings.Fields(p.Scope),
		}
		c.token = tokenEndpoint{url: p.TokenEndpoint, clientID: p.ClientID, secret: p.ClientSecret,
			auth: p.TokenEndpointAuthMethod, jwtAlg: p.ClientSecretJWTSigningAlgorithm, format: p.TokenEndpointResponseType}
		out = append(out, c)
	}
	return out
}

// oauth2Provider returns the provider named name; nil when name is "" (the
// OpenID Connect provider) or unknown.
func (a *Auth) oauth2Provider(name string) *oauth2Client {
	if name == "" {
		return nil
	}
	for _, p := range a.oauth2 {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// providerOf reports whether s, a session of a plain OAuth 2.0 provider,
// was signed in by a provider configured now under its name: the same
// authorization endpoint (the session's issuer). A provider renamed onto
// another service's endpoints does not inherit its sessions.
func (a *Auth) providerOf(s *session) bool {
	p := a.oauth2Provider(s.provider)
	return p != nil && p.AuthorizationEndpoint == s.user.Issuer
}

// pickProvider resolves a sign-in's provider: nil means the OpenID Connect
// provider. With no Issuer, a single OAuth 2.0 provider is the default.
func (a *Auth) pickProvider(name string) (*oauth2Client, error) {
	if name == "" {
		switch {
		case a.cfg.Issuer != "":
			return nil, nil
		case len(a.oauth2) == 1:
			return a.oauth2[0], nil
		}
		return nil, fail(ErrUnknownProvider, errors.New("no provider chosen and no default"))
	}
	if p := a.oauth2Provider(name); p != nil {
		return p, nil
	}
	return nil, fail(ErrUnknownProvider, nil)
}

// oauth2SignInURL starts a sign-in with a plain OAuth 2.0 provider: the code flow with
// a fresh state and (unless the provider cannot take it) PKCE S256. The
// transaction names the provider, so only its callback redeems the code.
func (a *Auth) oauth2SignInURL(w http.ResponseWriter, r *http.Request, p *oauth2Client, o *signInOptions) string {
	t := newTransaction(safeReturnTo(o.returnTo), a.cfg.Now())
	t.provider = p.Name
	t.nonce = "" // no ID token to bind
	if p.InsecureSkipPKCE {
		t.verifier = ""
	}
	a.saveTransaction(w, r, t)
	var params []oauth2.AuthCodeOption
	if t.verifier != "" {
		params = append(params, oauth2.S256ChallengeOption(t.verifier))
	}
	for _, extra := range []map[string]string{p.CustomConfig, o.params} {
		for k, v := range extra {
			params = append(params, oauth2.SetAuthURLParam(k, v))
		}
	}
	a.cfg.Logger.Info("oidcauth: sign-in started", "event", "sign_in_started", "provider", p.Name)
	return p.authorize.AuthCodeURL(t.state, params...)
}

// OAuth2CallbackHandler finishes a sign-in with the [OAuth2Provider]
// named name, at that provider's RedirectURL path ([Auth.Mount] puts it
// there). It accepts only a response to a sign-in started with that same
// provider (400 otherwise: a mix-up), redeems the code with the client's
// authentication method and the PKCE verifier, fetches the profile with the
// access token, maps it, and replaces any earlier session with a fresh one.
// Any failure answers 4xx/5xx and writes no new session (an earlier one
// is kept or cleared as [Auth.CallbackHandler] says). An unknown name gives
// a handler that answers 404.
func (a *Auth) OAuth2CallbackHandler(name string) http.Handler {
	p := a.oauth2Provider(name)
	if p == nil {
		return http.NotFoundHandler()
	}
	return a.callbackHandler(func(w http.ResponseWriter, r *http.Request) (*session, string, error) {
		return a.oauth2Callback(w, r, p)
	})
}

func (a *Auth) oauth2Callback(w http.ResponseWriter, r *http.Request, p *oauth2Client) (*session, string, error) {
	q := r.URL.Query()
	t, err := a.takeTransaction(w, r, q.Get("state"))
	if err != nil {
		return nil, "", err
	}
	// RFC 9700 §4.4.2: each provider has a redirect URI of its own, and a
	// response arriving at one provider's must belong to a sign-in with it.
	if t.provider != p.Name {
		return nil, "", fail(ErrIssuerMismatch, errors.New("response for a sign-in with another provider"))
	}
	if err := authorizationError(q); err != nil {
		return nil, "", err
	}
	code := q.Get("code")
	if code == "" || len(q["code"]) != 1 {
		return nil, "", fail(ErrInvalidCallback, errors.New("missing code"))
	}
	tok, err := p.token.exchange(r.Context(), a.cfg.HTTPClient, code, p.RedirectURL, t.verifier, p.CustomConfig, a.cfg.Now())
	if err != nil {
		return nil, "", err
	}
	prof, err := a.fetchProfile(r.Context(), p, tok.AccessToken)
	if err != nil {
		return nil, "", err
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	now := a.cfg.Now().Unix()
	s := &session{
		id:       string(id[:]),
		provider: p.Name,
		user: User{
			Subject:        prof.id,
			Name:           prof.name,
			Email:          prof.email,
			Picture:        prof.avatar,
			Phone:          prof.phone,
			Issuer:         p.AuthorizationEndpoint,
			OAuth2Provider: p.Name,
			claims:         prof.raw,
		},
		created:      now,
		touched:      now,
		accessToken:  packToken(tok.AccessToken),
		refreshToken: tok.RefreshToken,
		expiry:       tok.expiry(now),
	}
	if a.cfg.OnSignIn != nil {
		if err := a.cfg.OnSignIn(r.Context(), &s.user); err != nil {
			return nil, "", fail(ErrAccessDenied, err)
		}
		if s.user.Subject != prof.id || s.user.OAuth2Provider != p.Name || s.user.Issuer != p.AuthorizationEndpoint {
			return nil, "", fail(ErrInternal, errors.New("OnSignIn may not change the subject, issuer or provider"))
		}
	}
	s.oauth2Subject = oauth2Subject(s.user.Issuer, s.user.Subject) // as decoding sets it
	return s, t.returnTo, nil
}

// mountOAuth2 registers each provider's callback at its path.
func (a *Auth) mountOAuth2(mux interface {
	Handle(pattern string, handler http.Handler)
}) {
	for _, p := range a.oauth2 {
		mux.Handle(p.callbackPath, a.OAuth2CallbackHandler(p.Name))
	}
}

var chooserPage = template.Must(template.New("choose").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}li{margin:.5rem 0}</style>
</head><body><main>
<h1>Sign in with</h1>
<ul>{{range .}}<li><a id="sign-in-{{.Name}}" href="{{.Href}}">{{.Name}}</a></li>{{end}}</ul>
</main></body></html>
`))

// chooseProvider answers a sign-in that named no provider when there is no
// default: a page linking to each provider's sign-in, returnTo kept.
func (a *Auth) chooseProvider(w http.ResponseWriter, r *http.Request) {
	type choice struct{ Name, Href string }
	returnTo := safeReturnTo(r.URL.Query().Get("returnTo"))
	var choices []choice
	for _, p := range a.oauth2 {
		q := url.Values{"provider": {p.Name}, "returnTo": {returnTo}}
		choices = append(choices, choice{p.Name, a.cfg.SignInPath + "?" + q.Encode()})
	}
	writePage(w, http.StatusOK, chooserPage, choices)
}

// fetchOAuth2User is FetchUserInfo for a plain OAuth 2.0 provider's
// session: the profile fetched again, mapped, and refused when its id is
// not the session's subject.
func (a *Auth) fetchOAuth2User(ctx context.Context, s *session, accessToken string) (*User, error) {
	p := a.oauth2Provider(s.provider)
	if p == nil {
		return nil, fail(ErrNotSignedIn, nil)
	}
	prof, err := a.fetchProfile(ctx, p, accessToken)
	if err != nil {
		return nil, err
	}
	if err := sameSubject(prof.id, s.user.Subject); err != nil {
		return nil, err
	}
	return &User{
		Subject: prof.id, Name: prof.name, Email: prof.email, Picture: prof.avatar, Phone: prof.phone,
		Issuer: p.AuthorizationEndpoint, OAuth2Provider: p.Name, claims: prof.raw,
	}, nil
}
