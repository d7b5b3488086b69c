package app

import (
	"net/http"
	"net/url"

	"github.com/oidcauth/oidcauth"
)

// signOutEverywhere is the profile page's "Sign out on every device": it
// signs this browser out (at the provider too) and then ends every other
// session of the user, on every instance that shares Config.Revocations
// (examples/redis). Only the app's own pages may ask: a POST another site
// made, or one without evidence of where it came from, gets 403.
func signOutEverywhere(auth *oidcauth.Auth, baseURL string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r, baseURL) {
			http.Error(w, "Forbidden", http.StatusForbidden)
			return
		}
		u, _ := oidcauth.UserFromContext(r.Context())
		iss, sub := u.Issuer, u.Subject
		// This browser first, while its session still holds the ID token
		// the provider's end-session endpoint wants as a hint.
		auth.SignOut(w, r)
		// A failure is logged by oidcauth; the sign-out then holds on this
		// instance and reaches the others once the store is back.
		_ = auth.SignOutEverywhere(r.Context(), iss, sub)
	})
}

// sameOrigin reports whether the browser says the request came from the
// app's own pages: Fetch Metadata, else Origin.
func sameOrigin(r *http.Request, baseURL string) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	o, err := url.Parse(r.Header.Get("Origin"))
	b, _ := url.Parse(baseURL)
	return err == nil && o.Scheme == b.Scheme && o.Host == b.Host
}
