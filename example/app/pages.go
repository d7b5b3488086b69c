package app

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/oidcauth/oidcauth"
)

var pages = template.Must(template.New("layout").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · oidcauth example</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}
nav a,nav button{margin-right:1rem}button{font:inherit;cursor:pointer}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
code{word-break:break-all}
</style></head><body>
<nav><a href="/">Home</a>{{if .SignedIn}}<a href="/profile">Profile</a><a href="/api/me">/api/me</a><a href="/api/token">/api/token</a>{{end}}</nav>{{end}}

{{define "signout"}}<form method="post" action="/sign-out"><button type="submit" id="sign-out">Sign out</button></form>{{end}}

{{define "home"}}{{template "head" .Head}}
<main>
<h1>oidcauth example</h1>
{{if .SignedOut}}<p id="signed-out" role="status">You have signed out.</p>{{end}}
{{with .User}}
<p id="greeting">Signed in as <strong id="user-name">{{.Name}}</strong>{{if .Email}} ({{.Email}}){{end}}{{if .OAuth2Provider}} with {{.OAuth2Provider}}{{end}}.</p>
{{template "signout"}}
{{else}}
<p id="greeting">You are not signed in.</p>
<p><a id="sign-in" href="/sign-in">Sign in</a>{{if .OIDC}} · <a id="sign-up" href="/sign-in?first_screen=register">Create an account</a>{{end}}</p>
{{if .Providers}}<p>{{range .Providers}}<a id="sign-in-{{.}}" href="/sign-in?provider={{.}}">Sign in with {{.}}</a> {{end}}</p>{{end}}
{{end}}
</main></body></html>{{end}}

{{define "profile"}}{{template "head" .Head}}
<main>
<h1>Profile</h1>
<p>Signed in as <strong id="user-name">{{.User.Name}}</strong>.</p>
<table>
<tr><th>Subject</th><td id="user-sub"><code>{{.User.Subject}}</code></td></tr>
<tr><th>E-mail</th><td id="user-email">{{.User.Email}}{{if .User.EmailVerified}} (verified){{end}}</td></tr>
{{if .User.Username}}<tr><th>Username</th><td>{{.User.Username}}</td></tr>{{end}}
<tr><th>Issuer</th><td><code>{{.User.Issuer}}</code></td></tr>
{{if .User.OAuth2Provider}}<tr><th>Provider</th><td id="user-provider">{{.User.OAuth2Provider}}</td></tr>{{end}}
</table>
<h2>All claims</h2>
<table id="claims">{{range .Claims}}<tr><th>{{.Name}}</th><td><code>{{.Value}}</code></td></tr>{{end}}</table>
{{with .API}}{{template "call-api" .}}{{end}}
{{template "signout"}}
<form method="post" action="/sign-out-everywhere"><button type="submit" id="sign-out-everywhere">Sign out on every device</button></form>
</main></body></html>{{end}}
`))

// homePage greets the user, or offers to sign in: with the OIDC provider,
// and with each plain OAuth 2.0 provider.
func homePage(oidc bool, providers []oidcauth.OAuth2Provider) http.Handler {
	var names []string
	for _, p := range providers {
		names = append(names, p.Name)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := oidcauth.UserFromContext(r.Context())
		_, err := r.Cookie(signedOutCookie)
		signedOut := err == nil && user == nil
		if err == nil {
			http.SetCookie(w, &http.Cookie{Name: signedOutCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		render(w, "home", struct {
			Head      head
			User      *oidcauth.User
			OIDC      bool
			Providers []string
			SignedOut bool
		}{head{"Home", user != nil}, user, oidc, names, signedOut})
	})
}

// head is what the layout's head needs: the title, and whether to link
// the pages that need a session.
type head struct {
	Title    string
	SignedIn bool
}

// signedOutCookie marks a browser that just signed out, for the home
// page's notice: the provider sends it back to the registered post sign-out
// URI, BASE_URL/, exactly, so the notice cannot ride on the URL.
const signedOutCookie = "example_signed_out"

// noteSignOut marks the browser when the sign-out handler signs it out (a
// 303 onwards; its confirmation page for cross-site requests is a 200).
func noteSignOut(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sign-out" {
			w = &signOutWriter{ResponseWriter: w}
		}
		next.ServeHTTP(w, r)
	})
}

type signOutWriter struct{ http.ResponseWriter }

func (s *signOutWriter) WriteHeader(status int) {
	if status == http.StatusSeeOther {
		http.SetCookie(s.ResponseWriter, &http.Cookie{Name: signedOutCookie, Value: "1", Path: "/", MaxAge: 600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	s.ResponseWriter.WriteHeader(status)
}

type claim struct{ Name, Value string }

// timeClaims are the claims that hold a time in seconds since 1970
// (OIDC Core §2, §5.1).
var timeClaims = []string{"exp", "iat", "nbf", "auth_time", "updated_at"}

// readable shows a time claim as a date beside its raw value.
func readable(name string, raw json.RawMessage) string {
	var secs int64
	if slices.Contains(timeClaims, name) && json.Unmarshal(raw, &secs) == nil {
		return time.Unix(secs, 0).UTC().Format("2006-01-02 15:04:05 UTC") + " (" + string(raw) + ")"
	}
	return string(raw)
}

// profilePage shows the user's claims and, when the app serves an API
// for resource (api.go), how to call it.
func profilePage(resource string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { profile(w, r, resource) })
}

func profile(w http.ResponseWriter, r *http.Request, resource string) {
	user, ok := oidcauth.UserFromContext(r.Context())
	if !ok {
		http.Error(w, "not signed in", http.StatusUnauthorized) // RequireAuth prevents this
		return
	}
	var all map[string]json.RawMessage
	var claims []claim
	if err := user.Claims(&all); err == nil {
		for k, v := range all {
			claims = append(claims, claim{k, readable(k, v)})
		}
		sort.Slice(claims, func(i, j int) bool { return claims[i].Name < claims[j].Name })
	}
	render(w, "profile", struct {
		Head   head
		User   *oidcauth.User
		Claims []claim
		API    string
	}{head{"Profile", true}, user, claims, resource})
}

// apiMe answers the signed-in user's claims as JSON.
func apiMe(w http.ResponseWriter, r *http.Request) {
	user, ok := oidcauth.UserFromContext(r.Context())
	if !ok {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	var claims map[string]any
	if err := user.Claims(&claims); err != nil {
		claims = map[string]any{"sub": user.Subject}
	}
	writeJSON(w, http.StatusOK, claims)
}

// apiToken answers what the app would send to an API: the access token for
// ?resource= (one of OIDC_RESOURCES; none means the sign-in's own token),
// refreshed when it expires: its expiry, scopes and, for a JWT, claims. The
// token itself is in the answer for an API resource only, for the page's
// script to put in an Authorization header (as a single-page app does with
// Logto's getAccessToken); the sign-in's own token, which serves only
// userinfo, never leaves the server. The answer is JSON, private and not
// stored.
func apiToken(auth *oidcauth.Auth, resources, scopes []string) http.Handler {
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile", "email", "offline_access"} // Config's default
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resource := r.URL.Query().Get("resource")
		if resource != "" && !slices.Contains(resources, resource) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unknown_resource", "resources": resources})
			return
		}
		tok, err := auth.Token(w, r, resource)
		if err != nil {
			// A fixed code per failure; the error itself goes nowhere near
			// the response.
			status := oidcauth.ErrorStatus(err)
			writeJSON(w, status, map[string]string{"error": http.StatusText(status)})
			return
		}
		out := map[string]any{"resource": resource, "token_type": "Bearer", "format": "opaque", "resources": resources}
		if !tok.Expiry.IsZero() {
			out["expires_at"] = tok.Expiry.UTC().Format("2006-01-02 15:04:05 UTC")
			out["expires_in"] = int(time.Until(tok.Expiry).Seconds())
		}
		var claims map[string]any
		if tok.Claims(&claims) == nil {
			out["format"] = "jwt"
			out["claims"] = claims // unverified: for display only
			if sc, ok := claims["scope"].(string); ok {
				out["scopes"] = strings.Fields(sc)
			}
		} else {
			out["scopes"] = scopes
			out["scopes_note"] = "requested at sign-in: an opaque token does not say what it grants"
		}
		if resource == "" {
			switch len(resources) {
			case 0:
				out["hint"] = "this is the sign-in's token, for userinfo; list API resources in OIDC_RESOURCES to get tokens for them"
			default:
				out["hint"] = "this is the sign-in's token, for userinfo; for an API, pass ?resource= with one of resources, e.g. /api/token?resource=" + url.QueryEscape(resources[0])
			}
		}
		if resource != "" {
			out["access_token"] = tok.Value
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		http.Error(w, "could not render the page", http.StatusInternalServerError)
	}
}

// securityHeaders sets headers every page of the app should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}
