package oidcauth

import "slices"

// SignInOption customises one sign-in, like x/oauth2's AuthCodeOption. Only
// this package implements it.
type SignInOption interface{ apply(*signInOptions) }

type signInOptions struct {
	returnTo string
	prompt   string
	params   map[string]string
	provider string // an OAuth2Provider's name; "" the OpenID Connect provider
	authn    authnRequest
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

// WithOAuth2Provider signs in with the [OAuth2Provider] of that name instead of
// the OpenID Connect provider. An unknown name fails the sign-in with
// [ErrUnknownProvider].
func WithOAuth2Provider(name string) SignInOption {
	return optionFunc(func(o *signInOptions) { o.provider = name })
}
