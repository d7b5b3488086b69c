// Package app is the example app, the command in the directory above, as
// a package: examples/redis runs the same app with its state on Redis.
// [Main] runs it as a command; [New] builds it, for tests.
package app

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

// Stores keeps the app's state outside the process, configured from the
// environment: example's STATE_DIR (an embedded database) or
// examples/redis's REDIS_URL. It sets cfg's stores (Revocations, Store,
// …) and returns what to close when the app stops (nil for nothing).
type Stores func(cfg *oidcauth.Config, getenv func(string) string) (close func() error, err error)

// Main runs the app as a command: configured from the environment, with
// its state where stores keeps it (nil: in process memory), serving until
// SIGINT or SIGTERM.
func Main(stores Stores) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	app, err := New(os.Getenv, logger, stores)
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
	ln, err := app.Listen()
	if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		_ = app.Close()
		os.Exit(1)
	}
	logger.Info("example app listening", "url", app.baseURL, "addr", app.addr, "provider", app.providerNote)
	err = srv.Serve(ln)
	if cerr := app.Close(); cerr != nil {
		logger.Error("closing the app's stores", "err", cerr)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// App is the configured example: its handler and where it listens.
type App struct {
	handler      http.Handler
	addr         string
	baseURL      string
	providerNote string
	close        func() error
}

// New builds the app from environment lookups, without touching the
// network: the provider is discovered on first use, so the app serves even
// while the provider is down. stores, when not nil, keeps its state.
func New(getenv func(string) string, logger *slog.Logger, stores Stores) (*App, error) {
	addr := getenv("ADDR")
	baseURL := strings.TrimSuffix(getenv("BASE_URL"), "/")
	if baseURL == "" {
		baseURL = "http://localhost:3000"
		if addr != "" {
			// ADDR alone moves the app: the development provider and the
			// redirect URI follow it.
			host, port, err := net.SplitHostPort(addr)
			if err != nil || port == "" {
				return nil, fmt.Errorf("ADDR %q must be host:port or :port (e.g. ADDR=localhost:3103)", addr)
			}
			if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
				host = "localhost"
			}
			baseURL = "http://" + net.JoinHostPort(host, port)
		}
	}
	base, err := url.Parse(baseURL)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, fmt.Errorf("BASE_URL %q must be an absolute http(s) URL", baseURL)
	}
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
	a := &App{addr: addr, baseURL: baseURL}
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
			APIResources:           devAPIResources(&cfg),
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

	if stores != nil {
		if a.close, err = stores(&cfg, getenv); err != nil {
			return nil, err
		}
	}
	auth, err := oidcauth.New(cfg)
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	auth.Mount(mux)                       // /sign-in, /callback, /sign-out
	api, err := mountAPI(mux, auth, &cfg) // GET|POST /api/resource (api.go)
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	mux.Handle("GET /profile", auth.RequireAuth(profilePage(api)))
	// A sensitive page: the profile again, for a user who authenticated at
	// the provider within the last 5 minutes (step-up otherwise).
	mux.Handle("GET /account", auth.RequireStepUp(oidcauth.StepUp{MaxAge: 5 * time.Minute})(profilePage(api)))
	mux.Handle("GET /api/me", auth.RequireAuthAPI(http.HandlerFunc(apiMe)))
	mux.Handle("GET /api/token", auth.RequireAuthAPI(apiToken(auth, cfg.Resources, cfg.Scopes)))
	mux.Handle("GET /{$}", auth.LoadUser(homePage(cfg.Issuer != "", cfg.OAuth2Providers)))
	mux.Handle("POST /sign-out-everywhere", auth.RequireAuth(signOutEverywhere(auth, baseURL))) // everywhere.go
	a.handler = securityHeaders(noteSignOut(mux))
	return a, nil
}

// Listen opens the listening socket before anything claims to listen, so a
// busy port is the first and only message.
func (a *App) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("cannot listen on ADDR=%s: the port is in use (another copy of the app?); set ADDR to a free one, e.g. ADDR=localhost:3103", a.addr)
		}
		return nil, fmt.Errorf("cannot listen on ADDR=%s: %w", a.addr, err)
	}
	return ln, nil
}

// Handler returns the app's routes.
func (a *App) Handler() http.Handler { return a.handler }

// Close closes the app's stores.
func (a *App) Close() error {
	if a.close == nil {
		return nil
	}
	return a.close()
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
