// Command gin signs in with oidcauth on a gin-gonic/gin engine. gin.WrapH
// adapts oidcauth's handlers; wrap adapts its middleware to a
// gin.HandlerFunc, which continues the chain with the request that
// carries the user, or aborts when oidcauth has answered (a redirect to
// sign in, 401 or 403).
//
// Run it as ../README.md says.
package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/examples/internal/exampleapp"
)

func main() { exampleapp.Main(newApp) }

// wrap turns net/http middleware into gin middleware.
func wrap(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		passed := false
		mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r // the user is in r's context
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}
}

func newApp(auth *oidcauth.Auth) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Any("/sign-in", gin.WrapH(auth.SignInHandler()))
	r.Any("/callback", gin.WrapH(auth.CallbackHandler()))
	r.Any("/sign-out", gin.WrapH(auth.SignOutHandler()))
	r.GET("/", wrap(auth.LoadUser), gin.WrapH(exampleapp.Home))
	r.GET("/api/me", wrap(auth.RequireAuthAPI), gin.WrapH(exampleapp.Me))

	// A group whose routes all need a signed-in user; a gin handler reads
	// the user from the request's context.
	private := r.Group("/", wrap(auth.RequireAuth))
	private.GET("/profile", func(c *gin.Context) {
		u, _ := oidcauth.UserFromContext(c.Request.Context())
		c.String(http.StatusOK, "Signed in as %s (%s)\n", u.Name, u.Subject)
	})
	private.GET("/admin", wrap(auth.Require(oidcauth.AnyRole("admin"))), gin.WrapH(exampleapp.Admin))
	return r
}
