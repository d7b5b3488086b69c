package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// RequireAuth lets only signed-in requests through to next, with the user in
// the request context ([UserFromContext]). Others are challenged: a browser
// navigation (GET or HEAD) is redirected with 303 to the sign-in path with
// returnTo set to the requested path; any other request (fetch or XHR,
// Accept: application/json, a POST) gets 401 with WWW-Authenticate and a
// JSON body. It makes no network call: the session cookie is
// authenticated and decrypted locally (a cookie this process has already
// opened is found in a bounded cache instead), and expiry and revocation
// are checked on every request.
//
// A signed-in response defaults to Cache-Control: private, no-store, so no
// shared cache keeps one user's page for another; next may Set its own.
//
// It has the standard middleware shape, so it works as
// mux.Handle("/p", auth.RequireAuth(h)) and as chi's r.Use(auth.RequireAuth).
func (a *Auth) RequireAuth(next http.Handler) http.Handler { return a.require(next, false) }

// RequireAuthAPI is RequireAuth for API routes: requests without a session
// always get 401, never a redirect.
func (a *Auth) RequireAuthAPI(next http.Handler) http.Handler { return a.require(next, true) }

func (a *Auth) require(next http.Handler, api bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := sessionFromContext(r.Context()); s != nil && s.owner == a && s.id != "" {
			next.ServeHTTP(w, r) // an outer RequireAuth or LoadUser of this Auth already decoded it
			return
		}
		s := a.session(w, r)
		if s == nil {
			a.challenge(w, r, api)
			return
		}
		privateResponse(w)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionContextKey, s)))
	})
}

// privateNoStore is shared by every response; its capacity equals its
// length, so a handler's Header().Add copies it rather than writing into it.
var privateNoStore = []string{"private, no-store"}

// privateResponse defaults the response to private, no-store without
// allocating; a value already set is kept.
func privateResponse(w http.ResponseWriter) {
	h := w.Header()
	if _, set := h["Cache-Control"]; !set {
		h["Cache-Control"] = privateNoStore[:1:1]
	}
}

// LoadUser is the optional-auth twin of RequireAuth: it puts the user in
// the context when the request has a valid session and lets every request
// through. Responses to signed-in requests default to Cache-Control:
// private, no-store, as with RequireAuth.
func (a *Auth) LoadUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := sessionFromContext(r.Context()); s != nil && s.owner == a {
			next.ServeHTTP(w, r)
			return
		}
		s := a.session(w, r)
		if s == nil {
			s = a.anonymous // remembered, so a nested RequireAuth does not decode again
		} else {
			privateResponse(w)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionContextKey, s)))
	})
}

// session returns r's valid session or nil. With w, it also re-issues the
// cookie when an eighth of the idle window has passed since the last time
// (rolling idle timeout), and expires a cookie that is invalid or out of
// date so the browser stops sending it.
func (a *Auth) session(w http.ResponseWriter, r *http.Request) *session {
	// A session in the context counts only if this Auth put it there: an
	// app with two Auths (customers and staff, two providers) must not let
	// one's session through the other's RequireAuth, nor send one's tokens
	// to the other's provider.
	if s := sessionFromContext(r.Context()); s != nil && s.owner == a {
		if s.id == "" {
			return nil // a.anonymous
		}
		return s
	}
	s, present := a.readSession(r)
	if s == nil {
		if present && w != nil {
			a.clearSession(w, r)
		}
		return nil
	}
	s.owner = a
	now := a.cfg.Now().Unix()
	maxAge, idle := int64(a.cfg.SessionMaxAge.Seconds()), int64(a.cfg.SessionIdleTimeout.Seconds())
	// The times are inside the authenticated payload: a browser or proxy
	// that ignores cookie expiry cannot extend a session.
	// A session of an OAuth 2.0 provider no longer configured, or now
	// configured with other endpoints, ends with it.
	if now >= s.created+maxAge || now >= s.touched+idle || s.touched < s.created || (s.provider != "" && !a.providerOf(s)) {
		if w != nil {
			a.clearSession(w, r)
		}
		return nil
	}
	// Signed out elsewhere, or ended by the provider (back-channel logout).
	if a.revoked(s) {
		if w != nil {
			a.clearSession(w, r)
			a.revokeEndedTokens(s)
		}
		return nil
	}
	// A session whose tokens this process refreshed: refused once the
	// provider ended it, brought up to date when its cookie is older.
	var caughtUp bool
	if st := a.tokens.lookup(s.id); st != nil {
		if n := st.snapshot(); n != nil && n.ended {
			if w != nil {
				a.clearSession(w, r)
			}
			return nil
		}
		caughtUp = st.catchUp(s)
	}
	if w != nil && (caughtUp || now-s.touched >= a.touchEvery) {
		s.touched = now
		if err := a.writeSession(w, r, s, false); errors.Is(err, ErrRecordChanged) {
			// Another request saved the session since this one read it
			// (a refresh elsewhere): its newer record stays.
			a.cfg.Logger.Debug("oidcauth: session re-issue skipped: the record changed")
		} else if err != nil {
			a.cfg.Logger.Warn("oidcauth: session re-issue failed", "error", logSafe(err))
		}
	}
	return s
}

// challenge answers a request that needs a session and has none.
func (a *Auth) challenge(w http.ResponseWriter, r *http.Request, api bool) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if !api && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !wantsJSON(r) {
		http.Redirect(w, r, a.cfg.SignInPath+"?returnTo="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	// There is no registered scheme for cookie sessions; this names the
	// cookie and where to sign in, after draft-broyer-http-cookie-auth.
	h.Set("WWW-Authenticate", `Cookie realm="`+a.sessionCookie+`", form-action="`+a.cfg.SignInPath+`"`)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "unauthorized", "message": "Please sign in."})
}

// wantsJSON tells API clients from browser navigations. Browsers mark a
// navigation with Sec-Fetch-Mode: navigate and ask for text/html; fetch and
// XHR send another mode; API clients ask for JSON. A bare request (curl, a
// plain Go client) counts as a navigation.
func wantsJSON(r *http.Request) bool {
	mode := r.Header.Get("Sec-Fetch-Mode")
	if mode == "navigate" {
		return false
	}
	if r.Header.Get("X-Requested-With") == "XMLHttpRequest" {
		return true
	}
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, "text/html") {
		return false
	}
	return strings.Contains(accept, "json") || mode != ""
}
