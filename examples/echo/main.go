// Command echo signs in with oidcauth on a labstack/echo server. Echo
// adapts net/http: echo.WrapHandler for oidcauth's handlers and
// echo.WrapMiddleware for its middleware, which hands the request, with
// the user in its context, on to the echo handler.
//
// Run it as ../README.md says.
package main

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/examples/internal/exampleapp"
)

func main() { exampleapp.Main(newApp) }

func newApp(auth *oidcauth.Auth) http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.Any("/sign-in", echo.WrapHandler(auth.SignInHandler()))
	e.Any("/callback", echo.WrapHandler(auth.CallbackHandler()))
	e.Any("/sign-out", echo.WrapHandler(auth.SignOutHandler()))
	e.GET("/", echo.WrapHandler(exampleapp.Home), echo.WrapMiddleware(auth.LoadUser))
	e.GET("/api/me", echo.WrapHandler(exampleapp.Me), echo.WrapMiddleware(auth.RequireAuthAPI))

	// Per-route middleware: an echo Group with middleware would also catch
	// unknown paths. An echo handler reads the user from the request.
	signedIn := echo.WrapMiddleware(auth.RequireAuth)
	e.GET("/profile", func(c echo.Context) error {
		u, _ := oidcauth.UserFromContext(c.Request().Context())
		return c.String(http.StatusOK, "Signed in as "+u.Name+" ("+u.Subject+")\n")
	}, signedIn)
	e.GET("/admin", echo.WrapHandler(exampleapp.Admin), signedIn, echo.WrapMiddleware(auth.Require(oidcauth.AnyRole("admin"))))
	return e
}
