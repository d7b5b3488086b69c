// Command chi signs in with oidcauth on a go-chi/chi router. oidcauth's
// middleware has chi's shape, func(http.Handler) http.Handler, so it goes
// straight into r.Use and r.With, and Mount takes a chi.Router.
//
// Run it as ../README.md says.
package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/examples/internal/exampleapp"
)

func main() { exampleapp.Main(newApp) }

func newApp(auth *oidcauth.Auth) http.Handler {
	r := chi.NewRouter()
	auth.Mount(r) // /sign-in, /callback, /sign-out
	r.With(auth.LoadUser).Get("/", exampleapp.Home)

	// Every route in the group needs a signed-in user.
	r.Group(func(r chi.Router) {
		r.Use(auth.RequireAuth)
		r.Get("/profile", exampleapp.Profile)
		r.With(auth.Require(oidcauth.AnyRole("admin"))).Get("/admin", exampleapp.Admin)
	})
	r.With(auth.RequireAuthAPI).Get("/api/me", exampleapp.Me)
	return r
}
