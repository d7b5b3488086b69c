package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"golang.org/x/oauth2"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// serve runs the server process: for each session profile, an in-process
// provider, an oidcauth app and a go-oidc + gorilla/sessions app signing in
// with it, plus the bare handler. It listens on loopback only, prints its
// base URL, and exits when stdin closes or after limit.
func serve(fixture string, profiles []string, limit time.Duration, cpuprofile string) error {
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	claims, err := loadClaims(fixture)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	// The bare handler answers what the protected ones do, without a
	// session: the same body length, from the same Cookie header.
	mux.HandleFunc("GET /bare", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, bareBody) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "home") })
	mux.HandleFunc("GET /cpu", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, processCPU().Nanoseconds()) })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, p := range profiles {
		if err := mountProfile(mux, base, p, claims, logger); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go func() {
		// Stop when the load generator goes away or the time is up,
		// whichever comes first.
		done := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
		select {
		case <-done:
		case <-time.After(limit):
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	fmt.Println("READY " + base)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bareBody has the length of the protected handlers' answer for the
// typical user ("hello " and a 12-character subject).
const bareBody = "hello k3xq9pl2vz8m"

// loadClaims reads the typical Logto ID token's claims.
func loadClaims(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		IDTokenClaims map[string]any `json:"id_token_claims"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	return f.IDTokenClaims, nil
}

// user is the person a profile signs in: the typical Logto user, with
// custom_data padding the claims to the profile's size. "typical" pads as
// the package's benchmarks do, standing in for the JWT access token Logto
// issues per API resource (the code exchange gives an opaque one), so the
// cookie is as big as a typical Logto session's; "1k" … "8k" pad the ID
// token's claims to about that many bytes of JSON.
func user(profile string, claims map[string]any) (oidcauthtest.User, error) {
	c := map[string]any{}
	for k, v := range claims {
		c[k] = v
	}
	u := oidcauthtest.User{
		Subject: c["sub"].(string), Name: c["name"].(string), Email: c["email"].(string),
		EmailVerified: c["email_verified"].(bool), Picture: c["picture"].(string), Username: c["username"].(string),
		Extra: map[string]any{},
	}
	for _, k := range []string{"sub", "name", "email", "email_verified", "picture", "username", "iss", "aud", "exp", "iat", "nonce", "at_hash", "sid"} {
		delete(c, k)
	}
	for k, v := range c {
		u.Extra[k] = v
	}
	if profile == "typical" {
		u.Extra["custom_data"] = map[string]any{
			"plan": "business", "seats": 25, "region": "eu-central-1",
			"preferences": map[string]any{"theme": "dark", "locale": "en-GB", "timezone": "Europe/Berlin", "digest": "weekly"},
			"onboarding":  strings.Repeat("step-completed;", 26),
		}
		return u, nil
	}
	var kb int
	if _, err := fmt.Sscanf(profile, "%dk", &kb); err != nil || kb < 1 || kb > 16 {
		return u, fmt.Errorf("profile %q: want typical or 1k … 16k", profile)
	}
	// The claims above and the provider's own (iss, aud, exp, iat,
	// auth_time, sid, at_hash, nonce) come to about 0.8 KB of JSON.
	if pad := kb*1024 - 800; pad > 0 {
		u.Extra["custom_data"] = map[string]any{"notes": strings.Repeat("n", pad)}
	}
	return u, nil
}

// mountProfile serves, below /<profile>/, the provider at idp/, the
// oidcauth app (sign-in, callback, protected) and the gorilla app under g/.
func mountProfile(mux *http.ServeMux, base, profile string, claims map[string]any, logger *slog.Logger) error {
	u, err := user(profile, claims)
	if err != nil {
		return err
	}
	prefix := "/" + profile
	secret := randomString()
	idp, err := oidcauthtest.New(base+prefix+"/idp", oidcauthtest.Options{ClientSecret: secret, User: u})
	if err != nil {
		return err
	}
	mux.Handle(prefix+"/idp/", idp)
	auth, err := oidcauth.New(oidcauth.Config{
		Issuer:       idp.Issuer(),
		ClientID:     oidcauthtest.DefaultClientID,
		ClientSecret: secret,
		RedirectURL:  base + prefix + "/callback",
		SessionKeys:  [][]byte{randomKey()},
		CookieName:   "oidcauth_" + profile,
		SignInPath:   prefix + "/sign-in",
		SignOutPath:  prefix + "/sign-out",
		// Every profile's routes under its own prefix.
		BackChannelLogoutPath: prefix + "/backchannel-logout",
		Logger:                logger,
	})
	if err != nil {
		return err
	}
	auth.Mount(mux)
	mux.Handle("GET "+prefix+"/protected", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := oidcauth.UserFromContext(r.Context())
		io.WriteString(w, "hello "+u.Subject)
	})))
	g := &gorillaApp{
		issuer: idp.Issuer(), clientID: oidcauthtest.DefaultClientID, secret: secret,
		redirect: base + prefix + "/g/callback", name: "gorilla_" + profile,
		store: sessions.NewCookieStore(randomKey(), randomKey()),
	}
	// Sessions this size do not fit securecookie's default 4096 bytes; the
	// limit is lifted so the baseline runs at all (a browser would drop
	// such a cookie).
	for _, c := range g.store.Codecs {
		c.(*securecookie.SecureCookie).MaxLength(0)
	}
	mux.HandleFunc("GET "+prefix+"/g/sign-in", g.signIn)
	mux.HandleFunc("GET "+prefix+"/g/callback", g.callback)
	mux.HandleFunc("GET "+prefix+"/g/protected", g.protected)
	return nil
}

// gorillaApp is the baseline: how an app signs in with go-oidc and keeps
// the tokens in gorilla/sessions' default CookieStore (securecookie: gob,
// AES-CTR, HMAC, base64 twice).
type gorillaApp struct {
	issuer, clientID, secret, redirect, name string
	store                                    *sessions.CookieStore

	once     sync.Once
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
	err      error
}

func (g *gorillaApp) setup(ctx context.Context) error {
	g.once.Do(func() {
		p, err := oidc.NewProvider(ctx, g.issuer)
		if err != nil {
			g.err = err
			return
		}
		g.cfg = oauth2.Config{
			ClientID: g.clientID, ClientSecret: g.secret, RedirectURL: g.redirect, Endpoint: p.Endpoint(),
			Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
		}
		g.verifier = p.Verifier(&oidc.Config{ClientID: g.clientID})
	})
	return g.err
}

func (g *gorillaApp) signIn(w http.ResponseWriter, r *http.Request) {
	if err := g.setup(context.Background()); err != nil {
		http.Error(w, "provider unavailable", http.StatusBadGateway)
		return
	}
	tx, _ := g.store.New(r, g.name+"_tx")
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	tx.Values = map[any]any{"state": state, "nonce": nonce, "verifier": verifier}
	tx.Options = &sessions.Options{Path: "/", MaxAge: 600, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if err := tx.Save(r, w); err != nil {
		http.Error(w, "session", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, g.cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")), http.StatusSeeOther)
}

func (g *gorillaApp) callback(w http.ResponseWriter, r *http.Request) {
	tx, err := g.store.Get(r, g.name+"_tx")
	if err != nil || tx.IsNew || r.URL.Query().Get("state") != tx.Values["state"] {
		http.Error(w, "bad state", http.StatusBadRequest)
		return
	}
	tok, err := g.cfg.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(tx.Values["verifier"].(string)))
	if err != nil {
		http.Error(w, "exchange failed", http.StatusBadGateway)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := g.verifier.Verify(r.Context(), rawID)
	if err != nil || idt.Nonce != tx.Values["nonce"] {
		http.Error(w, "bad ID token", http.StatusBadRequest)
		return
	}
	var c struct {
		Name, Email, Picture, Username, Sid string
	}
	if err := idt.Claims(&c); err != nil {
		http.Error(w, "bad claims", http.StatusBadRequest)
		return
	}
	tx.Options.MaxAge = -1
	_ = tx.Save(r, w)
	s, _ := g.store.New(r, g.name)
	s.Values = map[any]any{
		"sub": idt.Subject, "name": c.Name, "email": c.Email, "picture": c.Picture, "username": c.Username,
		"sid": c.Sid, "id_token": rawID, "access_token": tok.AccessToken, "refresh_token": tok.RefreshToken,
		"created": time.Now().Unix(), "expiry": tok.Expiry.Unix(),
	}
	s.Options = &sessions.Options{Path: "/", MaxAge: 7 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if err := s.Save(r, w); err != nil {
		http.Error(w, "session", http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (g *gorillaApp) protected(w http.ResponseWriter, r *http.Request) {
	s, err := g.store.Get(r, g.name)
	created, _ := s.Values["created"].(int64)
	sub, _ := s.Values["sub"].(string)
	if err != nil || sub == "" || time.Now().Unix() >= created+7*24*3600 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Cache-Control", "private, no-store")
	io.WriteString(w, "hello "+sub)
}

func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func randomKey() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// readReady waits for the server's READY line.
func readReady(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("server did not start: %w", err)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "READY ")
	if !ok {
		return "", fmt.Errorf("server said %q", line)
	}
	return base, nil
}
