// Command servemux signs in with oidcauth on net/http's ServeMux, using Go
// 1.22 patterns: methods and path wildcards, read in a custom Requirement.
//
// Run it as ../README.md says.
package main

import (
	"net/http"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/examples/internal/exampleapp"
)

func main() { exampleapp.Main(newApp) }

func newApp(auth *oidcauth.Auth) http.Handler {
	mux := http.NewServeMux()
	auth.Mount(mux) // /sign-in, /callback, /sign-out
	mux.Handle("GET /{$}", auth.LoadUser(exampleapp.Home))
	mux.Handle("GET /profile", auth.RequireAuth(exampleapp.Profile))
	mux.Handle("GET /api/me", auth.RequireAuthAPI(exampleapp.Me))
	mux.Handle("GET /admin", auth.Require(oidcauth.AnyRole("admin"))(exampleapp.Admin))

	// A Requirement may read the request: here the {org} wildcard, so
	// only members of that organization (Logto organizations) get in.
	member := func(r *http.Request, u *oidcauth.User) bool {
		return oidcauth.Organization(r.PathValue("org"))(r, u)
	}
	mux.Handle("GET /orgs/{org}", auth.Require(member)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("Organization " + r.PathValue("org") + "\n"))
	})))
	return mux
}
