package oidcauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/oidcauth/oidcauth"
	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// New explains configuration mistakes instead of failing at the first
// sign-in.
func ExampleNew() {
	_, err := oidcauth.New(oidcauth.Config{
		Issuer:      "https://a1b2c3.logto.app",
		ClientID:    "x7y2kq9wm3z5v8t1l0p4",
		RedirectURL: "http://localhost:3000/callback",
		SessionKeys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
	})
	fmt.Println(err)
	// Output: oidcauth: Issuer for Logto ends in /oidc (https://a1b2c3.logto.app/oidc)
}

// RequireAuth sends a browser that is not signed in to the sign-in page,
// and answers API clients with 401.
func ExampleAuth_RequireAuth() {
	auth, err := oidcauth.New(oidcauth.Config{
		Issuer:      "https://a1b2c3.logto.app/oidc",
		ClientID:    "x7y2kq9wm3z5v8t1l0p4",
		RedirectURL: "http://localhost:3000/callback",
		SessionKeys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
	})
	if err != nil {
		panic(err)
	}
	dashboard := auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := oidcauth.UserFromContext(r.Context())
		fmt.Fprintf(w, "Hello, %s", user.Name)
	}))

	rec := httptest.NewRecorder()
	dashboard.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))

	rec = httptest.NewRecorder()
	api := httptest.NewRequest("GET", "/dashboard", nil)
	api.Header.Set("Accept", "application/json")
	dashboard.ServeHTTP(rec, api)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 303 /sign-in?returnTo=%2Fdashboard
	// 401 {"error":"unauthorized","message":"Please sign in."}
}

// ConfigFromEnv reads the variables the example app uses and explains each
// mistake in them at once; no secret appears in the messages.
func ExampleConfigFromEnv() {
	env := map[string]string{
		"OIDC_ISSUER":    "https://a1b2c3.logto.app",
		"OIDC_CLIENT_ID": "x7y2kq9wm3z5v8t1l0p4",
		"BASE_URL":       "localhost:3000",
		"SESSION_SECRET": "change-me",
	}
	_, err := oidcauth.ConfigFromEnv(func(k string) string { return env[k] })
	fmt.Println(err)
	// Output:
	// oidcauth: OIDC_ISSUER for Logto ends in /oidc, with no trailing slash: set it to https://a1b2c3.logto.app/oidc
	// oidcauth: BASE_URL "localhost:3000" is not an absolute URL such as http://localhost:3000 or https://app.example.com
	// oidcauth: SESSION_SECRET is 9 bytes long; it needs at least 32 (e.g. the output of `openssl rand -hex 32`)
}

// UserFromContext gives a handler behind RequireAuth the signed-in user:
// the common claims typed, any other through Claims. Here the app signs in
// for real against oidcauthtest's provider, as an app's own tests can.
func ExampleUserFromContext() {
	ada := oidcauthtest.User{Subject: "u-1", Name: "Ada", Email: "ada@example.com", EmailVerified: true,
		Extra: map[string]any{"roles": []string{"editor"}}}
	browser, appURL, stop := startExample(ada, nil, func(auth *oidcauth.Auth, mux *http.ServeMux) {
		mux.Handle("GET /me", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user, _ := oidcauth.UserFromContext(r.Context())
			var claims struct {
				Roles []string `json:"roles"` // Logto's roles claim
			}
			_ = user.Claims(&claims)
			fmt.Fprintln(w, user.Subject, user.Name, user.Email, user.EmailVerified, claims.Roles)
		})))
	})
	defer stop()

	resp, err := browser.Get(appURL + "/sign-in?returnTo=/me") // redirects through the provider to /me
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output: u-1 Ada ada@example.com true [editor]
}

// Require guards routes by role, scope, organization or any predicate. A
// signed-in user who lacks the requirement gets 403; a request without a
// session is sent to sign in, as with RequireAuth.
// An API's access token, refreshed when it expires: list the API in
// Resources, then ask for its token in the handler, before writing.
func ExampleAuth_AccessToken() {
	const api = "https://api.example.com" // Logto: the API resource's identifier
	browser, appURL, stop := startExample(oidcauthtest.User{Subject: "u-1"}, func(c *oidcauth.Config) {
		c.Resources = []string{api}
	}, func(auth *oidcauth.Auth, mux *http.ServeMux) {
		mux.Handle("GET /orders", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := auth.AccessToken(w, r, api)
			if err != nil {
				http.Error(w, "no token", oidcauth.ErrorStatus(err))
				return
			}
			// Call the API with "Authorization: Bearer "+tok. Here: show
			// the audience the token was issued for.
			payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
			var claims struct {
				Aud string `json:"aud"`
			}
			_ = json.Unmarshal(payload, &claims)
			fmt.Fprintln(w, "token for", claims.Aud)
		})))
	})
	defer stop()

	resp, err := browser.Get(appURL + "/sign-in?returnTo=/orders")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output: token for https://api.example.com
}

// A plain OAuth 2.0 provider ("Sign in with GitHub") beside Logto,
// configured with the JSON of Logto's OAuth2 connector, unchanged. Users
// choose it with /sign-in?provider=github; its callback is
// RedirectURL+"/github" unless the provider sets its own.
func ExampleParseOAuth2Provider() {
	github, err := oidcauth.ParseOAuth2Provider("github", []byte(`{
		"authorizationEndpoint": "https://github.com/login/oauth/authorize",
		"tokenEndpoint": "https://github.com/login/oauth/access_token",
		"userInfoEndpoint": "https://api.github.com/user",
		"clientId": "Iv1.0123456789abcdef",
		"clientSecret": "0123456789abcdef0123456789abcdef01234567",
		"tokenEndpointAuthMethod": "client_secret_post",
		"tokenEndpointResponseType": "query-string",
		"scope": "read:user user:email",
		"profileMap": {"id": "id", "name": "name", "avatar": "avatar_url", "email": "email"}
	}`))
	if err != nil {
		panic(err)
	}
	auth, err := oidcauth.New(oidcauth.Config{
		Issuer:          "https://your-tenant.logto.app/oidc",
		ClientID:        "logto-app-id",
		ClientSecret:    "logto-app-secret",
		RedirectURL:     "https://app.example.com/callback",
		SessionKeys:     [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		OAuth2Providers: []oidcauth.OAuth2Provider{github},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux)
	for _, path := range []string{"/callback", "/callback/github"} {
		_, pattern := mux.Handler(httptest.NewRequest("GET", path, nil))
		fmt.Println(path, "served:", pattern != "")
	}
	fmt.Println(github.Name, github.TokenEndpointAuthMethod, github.ProfileMap.Avatar)
	fmt.Println(github) // its String keeps the secret out of logs
	// Output:
	// /callback served: true
	// /callback/github served: true
	// github client_secret_post avatar_url
	// oauth2 provider github
}

func ExampleAuth_Require() {
	ada := oidcauthtest.User{Subject: "u-1", Name: "Ada", Extra: map[string]any{
		"roles":              []string{"editor"},
		"organizations":      []string{"org-7"},
		"organization_roles": []string{"org-7:billing"},
	}}
	browser, appURL, stop := startExample(ada, nil, func(auth *oidcauth.Auth, mux *http.ServeMux) {
		hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
		mux.Handle("GET /admin", auth.Require(oidcauth.AnyRole("admin"))(hello))
		mux.Handle("GET /edit", auth.Require(oidcauth.AnyRole("admin", "editor"))(hello))
		mux.Handle("GET /orgs/{org}/invoices", auth.Require(func(r *http.Request, u *oidcauth.User) bool {
			return oidcauth.OrganizationRole(r.PathValue("org"), "billing", "owner")(r, u)
		})(hello))
	})
	defer stop()

	for _, path := range []string{"/edit", "/admin", "/orgs/org-7/invoices", "/orgs/org-9/invoices"} {
		resp, err := browser.Get(appURL + "/sign-in?returnTo=" + url.QueryEscape(path))
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode)
	}
	// Output:
	// /edit 200
	// /admin 403
	// /orgs/org-7/invoices 200
	// /orgs/org-9/invoices 403
}

// OnSignIn maps the provider's user to a local account, or denies the
// sign-in: the callback then answers 403 and no session is created.
func ExampleConfig_onSignIn() {
	accounts := map[string]string{"u-1": "Ada (account 1001)"} // your user table
	configure := func(cfg *oidcauth.Config) {
		cfg.OnSignIn = func(ctx context.Context, u *oidcauth.User) error {
			name, ok := accounts[u.Subject]
			if !ok {
				return errors.New("no local account") // never shown to the user
			}
			u.Name = name
			return nil
		}
	}
	routes := func(auth *oidcauth.Auth, mux *http.ServeMux) {
		mux.Handle("GET /me", auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user, _ := oidcauth.UserFromContext(r.Context())
			fmt.Fprint(w, user.Name)
		})))
	}
	for _, u := range []oidcauthtest.User{{Subject: "u-1", Name: "Ada"}, {Subject: "u-2", Name: "Eve"}} {
		browser, appURL, stop := startExample(u, configure, routes)
		resp, err := browser.Get(appURL + "/sign-in?returnTo=/me")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		stop()
		if resp.StatusCode != http.StatusOK {
			body = []byte(http.StatusText(resp.StatusCode))
		}
		fmt.Println(u.Subject, resp.StatusCode, string(body))
	}
	// Output:
	// u-1 200 Ada (account 1001)
	// u-2 403 Forbidden
}

// ErrorHandler replaces the default error page; ErrorStatus and
// ErrorReason classify the error without showing its text.
func ExampleConfig_errorHandler() {
	auth, err := oidcauth.New(oidcauth.Config{
		Issuer:      "https://a1b2c3.logto.app/oidc",
		ClientID:    "x7y2kq9wm3z5v8t1l0p4",
		RedirectURL: "http://localhost:3000/callback",
		SessionKeys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		Logger:      slog.New(slog.DiscardHandler),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(oidcauth.ErrorStatus(err))
			fmt.Fprintf(w, "<main><h1>Sorry</h1><p>Code: %s</p></main>", oidcauth.ErrorReason(err))
		},
	})
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	auth.CallbackHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/callback?code=abc&state=forged", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output: 400 <main><h1>Sorry</h1><p>Code: invalid_state</p></main>
}

// startExample runs an in-process provider that signs in user and an app
// whose routes are registered by routes, both on loopback, and returns a
// browser-like client (a cookie jar, redirects followed), the app's URL and
// a function that stops both.
func startExample(user oidcauthtest.User, configure func(*oidcauth.Config), routes func(*oidcauth.Auth, *http.ServeMux)) (*http.Client, string, func()) {
	idpMux := http.NewServeMux()
	idpSrv := httptest.NewServer(idpMux)
	idp, err := oidcauthtest.New(idpSrv.URL+"/oidc", oidcauthtest.Options{ClientSecret: "example-secret", User: user})
	if err != nil {
		panic(err)
	}
	idpMux.Handle("/oidc/", idp)

	app := httptest.NewUnstartedServer(nil)
	cfg := oidcauth.Config{
		Issuer:       idp.Issuer(),
		ClientID:     oidcauthtest.DefaultClientID,
		ClientSecret: "example-secret",
		RedirectURL:  "http://" + app.Listener.Addr().String() + "/callback",
		SessionKeys:  [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		Logger:       slog.New(slog.DiscardHandler),
	}
	if configure != nil {
		configure(&cfg)
	}
	auth, err := oidcauth.New(cfg)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	auth.Mount(mux)
	routes(auth, mux)
	app.Config.Handler = mux
	app.Start()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}, app.URL, func() { app.Close(); idpSrv.Close() }
}
