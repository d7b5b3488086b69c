// Package exampleapp holds what the router examples share, so that each
// example's main.go shows only how oidcauth mounts on its router: the page
// handlers (plain http.Handlers, which every router accepts) and Main.
package exampleapp

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/oidcauth/oidcauth"
)

// Main configures oidcauth from the environment ([oidcauth.ConfigFromEnv]:
// OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, BASE_URL,
// SESSION_SECRET, …), builds the app with newApp and serves it on ADDR
// (default 127.0.0.1:3000, this machine only). The callback is at
// BASE_URL/callback.
func Main(newApp func(*oidcauth.Auth) http.Handler) {
	cfg, err := oidcauth.ConfigFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	auth, err := oidcauth.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	h := newApp(auth)
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:3000"
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, "listening on", addr)
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// text answers with plain text; the explicit type stops content sniffing
// from turning a user's name into markup.
func text(w http.ResponseWriter, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	fmt.Fprintf(w, format, args...)
}

// Home is public; behind LoadUser it greets a signed-in user.
var Home = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if u, ok := oidcauth.UserFromContext(r.Context()); ok {
		text(w, "Hello, %s. See /profile, /api/me or /admin; POST /sign-out to leave.\n", u.Name)
		return
	}
	text(w, "Hello. Sign in at /sign-in.\n")
})

// Profile is a protected page.
var Profile = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	u, _ := oidcauth.UserFromContext(r.Context())
	text(w, "Signed in as %s (%s)\n", u.Name, u.Subject)
})

// Me is a protected JSON route: all the user's claims.
var Me = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	u, _ := oidcauth.UserFromContext(r.Context())
	var claims map[string]any
	if err := u.Claims(&claims); err != nil {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(claims)
})

// Admin is for users with the admin role.
var Admin = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	u, _ := oidcauth.UserFromContext(r.Context())
	text(w, "Welcome to the admin area, %s\n", u.Name)
})
