// Command example is a small web app signed in with oidcauth.
//
// With no configuration it serves an embedded development provider, so
// `go run ./example` lets you sign in at http://localhost:3000 with no
// account anywhere (it signs in anyone, so it runs on localhost only).
// With configuration it signs in with Logto or any OpenID Connect provider:
//
//	OIDC_ISSUER         issuer URL (Logto: https://<tenant>.logto.app/oidc)
//	OIDC_CLIENT_ID      client / App ID
//	OIDC_CLIENT_SECRET  client secret / App secret
//	BASE_URL            where the app is reached (default http://localhost:3000);
//	                    the redirect URI is BASE_URL/callback, the post sign-out
//	                    redirect URI is BASE_URL/
//	SESSION_SECRET      32 bytes or more of secret; session keys derive from it
//	                    (required with OIDC_ISSUER; random in development mode)
//	SESSION_SECRET_PREVIOUS  the secret before the last rotation (optional)
//	ADDR                listen address (default: BASE_URL's host and port, or :3000)
//	OIDC_SCOPES         space-separated scopes (default openid profile email offline_access)
//	OIDC_RESOURCES      space-separated API resources (Logto: API identifiers) to get
//	                    access tokens for at /api/token (development mode: https://api.example.com)
//	OAUTH2_PROVIDERS    space-separated names of plain OAuth 2.0 providers offered
//	                    beside (or, without OIDC_ISSUER, instead of) the OIDC provider
//	OAUTH2_<NAME>_CONFIG  each one's Logto OAuth2-connector JSON; <NAME> upper-cased,
//	                    '-' as '_'; its callback is BASE_URL/callback/<name>
//
// Development mode also serves a GitHub-like OAuth 2.0 provider, so the home
// page shows a second sign-in button.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcauthtest"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	app, err := newApp(os.Getenv, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(2)
	}
	srv := &http.Server{
		Addr:              app.addr,
		Handler:           app.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	logger.Info("example app listening", "url", app.baseURL, "addr", app.addr, "provider", app.providerNote)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// app is the configured example: its handler and where it listens.
type app struct {
	handler      http.Handler
	addr         string
	baseURL      string
	providerNote string
}

// newApp builds the app from environment lookups, without touching the
// network: the provider is discovered on first use, so the app serves even
// while the provider is down.
func newApp(getenv func(string) string, logger *slog.Logger) (*app, error) {
	baseURL := strings.TrimSuffix(getenv("BASE_URL"), "/")
	if baseURL == "" {
		baseURL = "http://localhost:3000"
	}
	base, err := url.Parse(baseURL)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, fmt.Errorf("BASE_URL %q must be an absolute http(s) URL", baseURL)
	}
	addr := getenv("ADDR")
	if addr == "" {
		addr = defaultAddr(base)
	}
	cfg := oidcauth.Config{
		Issuer:                getenv("OIDC_ISSUER"),
		ClientID:              getenv("OIDC_CLIENT_ID"),
		ClientSecret:          getenv("OIDC_CLIENT_SECRET"),
		RedirectURL:           baseURL + "/callback",
		PostLogoutRedirectURL: baseURL + "/",
		Logger:                logger,
	}
	if scopes := strings.Fields(getenv("OIDC_SCOPES")); len(scopes) > 0 {
		cfg.Scopes = scopes
	}
	cfg.Resources = strings.Fields(getenv("OIDC_RESOURCES"))
	mux := http.NewServeMux()
	a := &app{addr: addr, baseURL: baseURL}
	if err := addOAuth2Providers(&cfg, getenv); err != nil {
		return nil, err
	}

	secret := getenv("SESSION_SECRET")
	if cfg.Issuer == "" && len(cfg.OAuth2Providers) == 0 {
		// Development mode: the embedded provider, served by this app. It
		// signs in anyone, so it serves only on this machine.
		if !isLoopback(base.Hostname()) {
			return nil, fmt.Errorf("OIDC_ISSUER is not set and BASE_URL %s is not on this machine: the development provider signs in anyone, so it runs on localhost only; set OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and SESSION_SECRET for a real provider", baseURL)
		}
		if cfg.ClientID == "" {
			cfg.ClientID = "example-app"
		}
		if cfg.ClientSecret == "" {
			cfg.ClientSecret = randomHex(16)
		}
		cfg.Issuer = baseURL + "/dev-idp"
		if len(cfg.Resources) == 0 {
			cfg.Resources = []string{"https://api.example.com"}
		}
		idp, err := oidcauthtest.New(cfg.Issuer, oidcauthtest.Options{
			ClientID:               cfg.ClientID,
			ClientSecret:           cfg.ClientSecret,
			RedirectURIs:           []string{cfg.RedirectURL},
			PostLogoutRedirectURIs: []string{cfg.PostLogoutRedirectURL},
			LoginForm:              true,
			User: oidcauthtest.User{
				Subject: "dev-user-1", Name: "Dev User", Email: "dev.user@example.com",
				EmailVerified: true, Username: "devuser",
			},
		})
		if err != nil {
			return nil, err
		}
		mux.Handle("/dev-idp/", idp)
		gh, err := devOAuth2Provider(&cfg, baseURL)
		if err != nil {
			return nil, err
		}
		mux.Handle("/dev-github/", gh)
		if secret == "" {
			secret = randomHex(32)
			logger.Info("SESSION_SECRET not set: using a random one; sessions end when the app restarts")
		}
		a.providerNote = "embedded development provider at " + cfg.Issuer
	} else {
		if secret == "" {
			return nil, errors.New("SESSION_SECRET is required with OIDC_ISSUER or OAUTH2_PROVIDERS (32 bytes or more, e.g. `openssl rand -hex 32`)")
		}
		a.providerNote = cfg.Issuer
		for _, p := range cfg.OAuth2Providers {
			a.providerNote += " " + p.Name
		}
	}
	cfg.SessionKeys = [][]byte{[]byte(secret)}
	if prev := getenv("SESSION_SECRET_PREVIOUS"); prev != "" {
		cfg.SessionKeys = append(cfg.SessionKeys, []byte(prev))
	}

	auth, err := oidcauth.New(cfg)
	if err != nil {
		return nil, err
	}
	auth.Mount(mux) // /sign-in, /callback, /sign-out
	mux.Handle("GET /profile", auth.RequireAuth(http.HandlerFunc(profilePage)))
	mux.Handle("GET /api/me", auth.RequireAuthAPI(http.HandlerFunc(apiMe)))
	mux.Handle("GET /api/token", auth.RequireAuthAPI(apiToken(auth, cfg.Resources)))
	mux.Handle("GET /{$}", auth.LoadUser(homePage(cfg.Issuer != "", cfg.OAuth2Providers)))
	a.handler = securityHeaders(mux)
	return a, nil
}

// defaultAddr listens where BASE_URL points when that is this machine, and
// on port 3000 of every interface otherwise (behind a proxy).
func defaultAddr(base *url.URL) string {
	port := base.Port()
	host := base.Hostname()
	if isLoopback(host) {
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[base.Scheme]
		}
		return net.JoinHostPort(host, port)
	}
	if port == "" {
		port = "3000"
	}
	return ":" + port
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
