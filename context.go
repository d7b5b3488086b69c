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
// [Auth.LoadUser] put in ctx. It returns nil and false when the middleware
// did not run or nobody is signed in; it never panics.
func UserFromContext(ctx context.Context) (*User, bool) {
	s, ok := ctx.Value(sessionContextKey).(*session)
	if !ok || s == nil || s.id == "" {
		return nil, false
	}
	return &s.user, true
}

func sessionFromContext(ctx context.Context) *session {
	s, _ := ctx.Value(sessionContextKey).(*session)
	return s
}
