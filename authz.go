package oidcauth

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Requirement is a condition a signed-in request must meet, checked by
// [Auth.Require] after the user is known. It is also the predicate form for
// anything custom: any func with this signature is a Requirement, and it may
// look at the request (a path value, a header) as well as the user.
//
//	owner := oidcauth.Requirement(func(r *http.Request, u *oidcauth.User) bool {
//		return r.PathValue("user") == u.Subject
//	})
//
// The Requirements this package returns read one claim from the session the
// middleware already decrypted; they make no network call. They may also be
// called inside a handler that RequireAuth or LoadUser guards. Claim names
// are matched as encoding/json matches struct fields: exactly, or else
// case-insensitively. Every claim comes from the provider (its signed ID
// token, its userinfo, or the access token it issued), so only the
// provider chooses them.
type Requirement func(r *http.Request, u *User) bool

// Require returns middleware that lets a request through only when it is
// signed in and meets every requirement. A request without a session is
// answered exactly as [Auth.RequireAuth] answers it (a redirect to sign in,
// or 401 for API clients); a signed-in user who lacks a requirement gets
// 403, as a short HTML page for browsers or JSON for API clients (the same
// negotiation), rendered by [Config.ErrorHandler] with [ErrForbidden] when
// one is set. A nil Requirement is never met.
//
// The result has the standard middleware shape:
//
//	mux.Handle("/admin/", auth.Require(oidcauth.AnyRole("admin"))(adminPages))
//	r.With(auth.Require(oidcauth.Scope("write:orders"))).Post("/orders", create) // chi
//
// Behind an outer RequireAuth, RequireAuthAPI or LoadUser it reuses the
// session they decoded; behind RequireAuthAPI, a request without a session
// therefore always gets 401.
func (a *Auth) Require(reqs ...Requirement) func(http.Handler) http.Handler {
	reqs = slices.Clone(reqs)
	return func(next http.Handler) http.Handler {
		check := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := sessionFromContext(r.Context()) // put there by require
			if !meetsAll(reqs, r, &s.user) {
				a.forbid(w, r, s)
				return
			}
			next.ServeHTTP(w, r)
		})
		return a.require(check, false)
	}
}

// meetsAll reports whether u meets every requirement; a nil Requirement
// is never met.
func meetsAll(reqs []Requirement, r *http.Request, u *User) bool {
	for _, req := range reqs {
		if req == nil || !req(r, u) {
			return false
		}
	}
	return true
}

// forbid answers a signed-in request that lacks a requirement. The session
// stays: the user is who they are, just not allowed here.
func (a *Auth) forbid(w http.ResponseWriter, r *http.Request, s *session) {
	a.cfg.Logger.Info("oidcauth: access forbidden", "event", "forbidden", "reason", ErrorReason(ErrForbidden), "user", &s.user, "path", r.URL.Path)
	a.render(w, r, ErrForbidden)
}

// AnyOf is met when at least one of reqs is met. With none it is never met.
func AnyOf(reqs ...Requirement) Requirement {
	reqs = slices.Clone(reqs)
	return func(r *http.Request, u *User) bool {
		for _, req := range reqs {
			if req != nil && req(r, u) {
				return true
			}
		}
		return false
	}
}

// Claim is met when the user's claim name has one of values: a string claim
// equal to one of them, an array claim with an element equal to one of them,
// or a number or boolean whose JSON text is one of them
// (Claim("email_verified", "true")). With no values it is met when the claim
// is present and not null, false, "" or empty. Claims come from the ID token,
// merged with userinfo's when sign-in fetched it ([Config.UserInfo]).
//
// Claim, AnyRole, Organization, OrganizationRole and Scope speak for the
// OpenID provider only: a user signed in through a plain OAuth 2.0
// provider ([Config.OAuth2Providers]) never meets them, since that
// provider's profile fields (a "roles" field at GitHub, say) mean
// something else, or are the user's to edit. Write a Requirement of your
// own (reading [User.OAuth2Provider]) to authorize such users.
func Claim(name string, values ...string) Requirement {
	values = slices.Clone(values)
	quoted := `"` + name + `"`
	// A name of these characters appears verbatim in any JSON encoding;
	// others may be escaped, so only they skip the cheap refusal.
	plain := strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/") == ""
	one := oneClaimType(name)
	return func(_ *http.Request, u *User) bool {
		if u == nil || u.OAuth2Provider != "" || (plain && !strings.Contains(u.claims, quoted)) {
			return false // cheap refusal: the claim is not there at all
		}
		raw, ok := claimRaw(u.claims, name, one)
		if !ok {
			return false
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return false
		}
		if len(values) == 0 {
			switch v := v.(type) {
			case nil:
				return false
			case bool:
				return v
			case string:
				return v != ""
			case []any:
				return len(v) > 0
			}
			return true
		}
		return slices.ContainsFunc(values, func(want string) bool { return claimHas(v, want) })
	}
}

// oneClaimType is a struct type with a single json.RawMessage field tagged
// with name, so that decoding skips every other claim instead of building a
// map of them all; nil when name cannot be a struct tag.
func oneClaimType(name string) reflect.Type {
	if name == "" || strings.ContainsAny(name, "\"\\,`") {
		return nil
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return nil
		}
	}
	return reflect.StructOf([]reflect.StructField{{
		Name: "V",
		Type: reflect.TypeFor[json.RawMessage](),
		Tag:  reflect.StructTag(`json:"` + name + `"`),
	}})
}

// claimRaw returns the JSON of claim name in claims. Decoding through one
// (see oneClaimType) matches keys case-insensitively, as encoding/json does
// for struct fields; the map fallback matches exactly.
func claimRaw(claims, name string, one reflect.Type) (json.RawMessage, bool) {
	if one != nil {
		v := reflect.New(one)
		if json.Unmarshal([]byte(claims), v.Interface()) != nil {
			return nil, false
		}
		raw := v.Elem().Field(0).Interface().(json.RawMessage)
		return raw, raw != nil
	}
	var all map[string]json.RawMessage
	if json.Unmarshal([]byte(claims), &all) != nil {
		return nil, false
	}
	raw, ok := all[name]
	return raw, ok
}

// claimHas compares one decoded claim value with want.
func claimHas(v any, want string) bool {
	switch v := v.(type) {
	case string:
		return v == want
	case bool:
		return strconv.FormatBool(v) == want
	case float64:
		b, _ := json.Marshal(v)
		return string(b) == want
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// AnyRole is met when the user has at least one of roles in the ID token's
// "roles" claim. Logto puts the user's global roles there when the "roles"
// scope is requested (add it to [Config.Scopes]).
func AnyRole(roles ...string) Requirement {
	roles = slices.Clone(roles)
	return func(_ *http.Request, u *User) bool {
		var c struct {
			Roles []string `json:"roles"`
		}
		if !decodeClaims(u, `"roles"`, &c) {
			return false
		}
		return slices.ContainsFunc(c.Roles, func(r string) bool { return slices.Contains(roles, r) })
	}
}

// Organization is met when the user is a member of the organization orgID:
// it is in the ID token's "organizations" claim, which Logto fills when the
// "urn:logto:scope:organizations" scope is requested.
//
// For an access token ([Bearer.Require]) it is met when the token is for
// orgID: a Logto organization token, or an organization-level API
// resource token whose organization_id is orgID.
func Organization(orgID string) Requirement {
	return func(r *http.Request, u *User) bool {
		if p := requestPrincipal(r, u); p != nil {
			return orgID != "" && p.token.OrganizationID == orgID
		}
		var c struct {
			Organizations []string `json:"organizations"`
		}
		return decodeClaims(u, `"organizations"`, &c) && slices.Contains(c.Organizations, orgID)
	}
}

// OrganizationRole is met when the user has at least one of roles in the
// organization orgID. Logto lists them in the ID token's
// "organization_roles" claim as "orgID:role" when the
// "urn:logto:scope:organization_roles" scope is requested.
func OrganizationRole(orgID string, roles ...string) Requirement {
	want := make([]string, len(roles))
	for i, role := range roles {
		want[i] = orgID + ":" + role
	}
	return func(_ *http.Request, u *User) bool {
		var c struct {
			OrganizationRoles []string `json:"organization_roles"`
		}
		if !decodeClaims(u, `"organization_roles"`, &c) {
			return false
		}
		return slices.ContainsFunc(c.OrganizationRoles, func(r string) bool { return slices.Contains(want, r) })
	}
}

// decodeClaims decodes the user's claims into v, which names the one claim
// it wants; key is that claim's name in quotes, for a cheap refusal when
// the claim is absent.
func decodeClaims(u *User, key string, v any) bool {
	if u == nil || u.OAuth2Provider != "" || !strings.Contains(u.claims, key) {
		return false
	}
	return json.Unmarshal([]byte(u.claims), v) == nil
}

// Scope is met when the session's access token grants every one of scopes.
// The access token must be a JWT: its "scope" claim (a space-separated
// string, RFC 9068 §2.2.3) or "scp" claim (an array or a string, as some
// providers issue) is read. The sign-in's access token is a JWT where the
// provider issues it for an API resource ([Config.Resources]), as
// node-oidc-provider with a default resource and Auth0 with its audience
// do; an opaque access token grants no scope here. Logto gives the sign-in
// an opaque token and puts an API's scopes in the token [Auth.AccessToken]
// gets for that API. The scopes are those granted at sign-in.
//
// For an access token ([Bearer.Require]) it reads that token's scopes;
// when it is not met, the 403 names scopes in its WWW-Authenticate
// header (RFC 6750 §3.1).
func Scope(scopes ...string) Requirement {
	scopes = slices.Clone(scopes)
	return func(r *http.Request, u *User) bool {
		if p := requestPrincipal(r, u); p != nil {
			return p.hasScopes(scopes)
		}
		s := sessionFromContext(r.Context())
		if s == nil || s.provider != "" || s.accessToken.seg[0] == "" {
			return false
		}
		var c struct {
			Scope string          `json:"scope"`
			Scp   json.RawMessage `json:"scp"`
		}
		if json.Unmarshal([]byte(s.accessToken.seg[1]), &c) != nil {
			return false
		}
		granted := grantedScopes(c.Scope, c.Scp)
		for _, want := range scopes {
			if !slices.Contains(granted, want) {
				return false
			}
		}
		return true
	}
}

// requestPrincipal returns the bearer principal u belongs to, or nil when
// u is a signed-in user (or the Requirement runs outside a request).
func requestPrincipal(r *http.Request, u *User) *bearerPrincipal {
	if r == nil {
		return nil
	}
	if p := principalFromContext(r.Context()); p != nil && (u == nil || u == &p.user) {
		return p
	}
	return nil
}

// grantedScopes are the scopes an access token grants: its "scope" claim
// (space-separated, RFC 9068 §2.2.3) and its "scp" claim (an array or a
// string, as some providers issue).
func grantedScopes(scope string, scp json.RawMessage) []string {
	granted := strings.Fields(scope)
	if len(scp) > 0 {
		var list []string
		var one string
		if json.Unmarshal(scp, &list) == nil {
			granted = append(granted, list...)
		} else if json.Unmarshal(scp, &one) == nil {
			granted = append(granted, strings.Fields(one)...)
		}
	}
	return granted
}
