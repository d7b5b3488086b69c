package oidcauth

import (
	"errors"
	"net/http"
	"slices"

	"github.com/oidcauth/oidcauth/internal/cookie"
)

// SilentFallback is what a silent sign-in ([WithSilentSignIn]) does when
// the provider cannot sign the user in without showing a page.
type SilentFallback int

const (
	// SilentSignedOut sends the browser back to the returnTo page, signed
	// out (or still in the session it had): a "does the user have a
	// session at the provider?" check.
	SilentSignedOut SilentFallback = iota
	// SilentInteractive starts an interactive sign-in at once, for the
	// same returnTo.
	SilentInteractive
)

// silentAttemptLifetime is how long a silent sign-in that fell back is
// remembered: within it, another silent sign-in from this browser takes the
// fallback at once instead of asking the provider again.
const silentAttemptLifetime = 300 // seconds

// silentRefusals are the authorization errors by which a provider says a
// prompt=none request needs the user (OIDC Core §3.1.2.6).
var silentRefusals = []string{"login_required", "interaction_required", "consent_required", "account_selection_required"}

// errAnswered tells the callback handler the response is written.
var errAnswered = errors.New("oidcauth: answered")

// WithSilentSignIn makes the sign-in silent: prompt=none (OIDC Core
// §3.1.2.1), so the provider signs the user in only if it can without
// showing anything (a session there, consent given). When it cannot
// (login_required, interaction_required, consent_required,
// account_selection_required) the callback takes fallback instead of
// showing an error page. A browser tries once per navigation: within 5
// minutes of a silent sign-in that fell back, another is an interactive
// sign-in, so a page that starts silent sign-ins cannot loop;
// [Auth.SilentSignInTried] tells a page not to start another. A prompt of
// "none" set by [WithPrompt] or [Config.Prompt] is a silent sign-in with
// SilentInteractive (a RequireAuth page leads to a sign-in, not back to
// itself).
func WithSilentSignIn(fallback SilentFallback) SignInOption {
	return optionFunc(func(o *signInOptions) {
		o.prompt = "none"
		o.authn.silent, o.authn.interactive = true, fallback == SilentInteractive
	})
}

// SilentSignInTried reports whether this browser's silent sign-in fell back
// in the last 5 minutes: a page that starts silent sign-ins checks it, so
// an anonymous visitor is not sent round the provider on every visit.
func (a *Auth) SilentSignInTried(r *http.Request) bool {
	_, ok := cookie.Value(r, a.silentCookie())
	return ok
}

func (a *Auth) silentCookie() string { return a.sessionCookie + "_silent" }

// silentRefusal reports whether err is the provider saying a silent
// sign-in needs the user.
func silentRefusal(err error) bool {
	var pe *ProviderError
	return errors.As(err, &pe) && pe.StatusCode == 0 && slices.Contains(silentRefusals, pe.Code)
}

// silentFallback answers a silent sign-in that cannot complete: o is the
// sign-in as asked.
func (a *Auth) silentFallback(w http.ResponseWriter, r *http.Request, o *signInOptions) {
	a.redirectOrFail(w, r, a.silentFallbackURL)(o)
}

// silentFallbackURL is where silentFallback goes: an interactive sign-in,
// or back to returnTo.
func (a *Auth) silentFallbackURL(w http.ResponseWriter, r *http.Request, o *signInOptions) (string, error) {
	a.cookies.Set(w, a.silentCookie(), "1", silentAttemptLifetime)
	if o.authn.interactive {
		return a.interactiveURL(w, r, o)
	}
	return safeReturnTo(o.returnTo), nil
}

// interactiveURL starts the interactive sign-in a silent one gives way to:
// the same options, the configuration's prompt unless it is "none".
func (a *Auth) interactiveURL(w http.ResponseWriter, r *http.Request, o *signInOptions) (string, error) {
	next := *o
	next.authn.silent, next.authn.interactive = false, false
	next.prompt = a.cfg.Prompt
	if next.prompt == "none" {
		next.prompt = ""
	}
	return a.signInURL(w, r, &next)
}

// forgetSilentAttempt clears the memory of a silent attempt once the user
// has signed in.
func (a *Auth) forgetSilentAttempt(w http.ResponseWriter, r *http.Request) {
	if a.SilentSignInTried(r) {
		a.cookies.Clear(w, a.silentCookie())
	}
}
