// Command gorillamux signs in with oidcauth on a gorilla/mux router.
// gorilla/mux's Handle returns a *mux.Route, so the three oidcauth routes
// are registered one by one; the middleware fits mux.MiddlewareFunc.
//
// Run it as ../README.md says.
package main

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/examples/internal/exampleapp"
)

func main() { exampleapp.Main(newApp) }

func newApp(auth *oidcauth.Auth) http.Handler {
	r := mux.NewRouter()
	r.Handle("/sign-in", auth.SignInHandler())
	r.Handle("/callback", auth.CallbackHandler())
	r.Handle("/sign-out", auth.SignOutHandler())
	r.Handle("/", auth.LoadUser(exampleapp.Home)).Methods("GET")
	r.Handle("/api/me", auth.RequireAuthAPI(exampleapp.Me)).Methods("GET")

	// A subrouter whose routes all need a signed-in user.
	private := r.NewRoute().Subrouter()
	private.Use(auth.RequireAuth)
	private.Handle("/profile", exampleapp.Profile).Methods("GET")
	private.Handle("/admin", auth.Require(oidcauth.AnyRole("admin"))(exampleapp.Admin)).Methods("GET")
	return r
}
