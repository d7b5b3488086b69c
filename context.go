package oidcauth

import (
	"context"
)

// contextKey is a pointer to a private type, so no other package can read or
// forge the value (net/http's pattern).
type contextKey struct{ name string }

func (k *contextKey) String() string { return "oidcauth context value " + k.name }

var sessionContextKey = &contextKey{"session"}

// UserFromContext returns the signed-in user that [Auth.RequireAuth] or
// [Auth.LoadUser] put in ctx, or the principal of the access token that
// [Bearer.RequireToken] verified (its Subject, Issuer and claims; see
// [BearerTokenFromContext] for the rest). With both middlewares on a
// route, the inner one's principal is returned. It returns nil and false
// when no middleware ran or nobody is signed in; it never panics.
func UserFromContext(ctx context.Context) (*User, bool) {
	switch v := ctx.Value(sessionContextKey).(type) {
	case *session:
		if v != nil && v.id != "" {
			return &v.user, true
		}
	case *bearerPrincipal:
		if v != nil {
			return &v.user, true
		}
	}
	return nil, false
}

func sessionFromContext(ctx context.Context) *session {
	s, _ := ctx.Value(sessionContextKey).(*session)
	return s
}
