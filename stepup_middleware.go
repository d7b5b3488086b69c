package oidcauth

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StepUp is what a sensitive route asks of how the user signed in, beyond
// being signed in: see [Auth.RequireStepUp].
type StepUp struct {
	// MaxAge, when positive, asks that the user authenticated at the
	// provider at most this long ago (the ID token's auth_time), e.g.
	// 5*time.Minute before changing a password.
	MaxAge time.Duration
	// ACR, when not empty, asks that the user authenticated with one of
	// these authentication context classes (the ID token's acr), e.g. a
	// value naming multi-factor authentication at the provider.
	ACR []string
}

// RequireStepUp returns middleware for sensitive routes: [Auth.RequireAuth],
// and a session whose authentication meets su. A browser navigation whose
// session does not is sent through a fresh sign-in that asks for it
// (max_age, acr_values: OIDC Core §3.1.2.1) and back to the same page; the
// session stays valid meanwhile, and stays if the step-up fails or is
// cancelled. The callback holds the new ID token to su (auth_time within
// MaxAge, plus [Config.ClockSkew]; acr one of ACR) with the same test as
// this middleware, so a sign-in it accepts satisfies the route: the
// browser cannot loop. Any other request gets 401 with a
// WWW-Authenticate error "insufficient_user_authentication" and the
// max_age and acr_values it needs (RFC 9470 §3). A session of a plain
// OAuth 2.0 provider, which states neither, gets 403.
func (a *Auth) RequireStepUp(su StepUp) func(http.Handler) http.Handler {
	acr := slices.Clone(su.ACR)
	maxAge := int64(su.MaxAge / time.Second)
	if su.MaxAge > 0 && maxAge == 0 {
		maxAge = 1
	}
	return func(next http.Handler) http.Handler {
		check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := sessionFromContext(r.Context()) // put there by require
			if a.steppedUp(s, maxAge, acr) {
				next.ServeHTTP(w, r)
				return
			}
			if s.provider != "" {
				a.forbid(w, r, s)
				return
			}
			a.cfg.Logger.Info("oidcauth: step-up required", "event", "step_up", "user", &s.user, "path", r.URL.Path)
			if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !wantsJSON(r) {
				opts := []SignInOption{WithReturnTo(r.URL.RequestURI()), optionFunc(func(o *signInOptions) { o.authn.stepUp = true })}
				if maxAge > 0 {
					opts = append(opts, WithMaxAge(time.Duration(maxAge)*time.Second))
				}
				if len(acr) > 0 {
					opts = append(opts, WithRequiredACR(acr...))
				}
				a.SignIn(w, r, opts...)
				return
			}
			challenge := `Cookie realm="` + a.sessionCookie + `", form-action="` + a.cfg.SignInPath + `", error="insufficient_user_authentication"`
			if maxAge > 0 {
				challenge += `, max_age=` + strconv.FormatInt(maxAge, 10)
			}
			if len(acr) > 0 {
				challenge += `, acr_values="` + strings.Join(acr, " ") + `"`
			}
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("WWW-Authenticate", challenge)
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "insufficient_user_authentication", "message": "Please sign in again."})
		})
		return a.require(check, false)
	}
}

// steppedUp reports whether s's authentication, as its ID token states it,
// meets maxAge (seconds; 0 any) and acr (empty: any).
func (a *Auth) steppedUp(s *session, maxAge int64, acr []string) bool {
	if maxAge <= 0 && len(acr) == 0 {
		return true
	}
	if s.provider != "" || s.idToken.empty() {
		return false
	}
	payload := s.idToken.seg[1]
	if payload == "" {
		payload = string(payloadOf(s.idToken.raw))
	}
	var c struct {
		AuthTime float64 `json:"auth_time"`
		ACR      string  `json:"acr"`
	}
	if json.Unmarshal([]byte(payload), &c) != nil {
		return false
	}
	if maxAge > 0 && (c.AuthTime <= 0 || !authnRecent(int64(c.AuthTime), maxAge, a.cfg.Now(), a.cfg.ClockSkew)) {
		return false
	}
	return len(acr) == 0 || slices.Contains(acr, c.ACR)
}
