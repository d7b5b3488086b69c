package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
)

// User is the signed-in user, as the ID token (and, with
// [Config.FetchUserInfo], the userinfo endpoint) described them. The common
// claims are typed; [User.Claims] decodes any other.
type User struct {
	// Subject is the provider's stable identifier for the user (sub).
	Subject string
	// Name is the display name (name).
	Name string
	// Email is the e-mail address (email); check EmailVerified before
	// trusting it as an identity.
	Email string
	// EmailVerified reports the email_verified claim.
	EmailVerified bool
	// Picture is the profile picture URL (picture).
	Picture string
	// Username is Logto's username claim, or preferred_username.
	Username string
	// Phone is the phone number: a plain OAuth 2.0 provider's mapped
	// phone field (ProfileMap.Phone), or the phone_number claim.
	Phone string
	// Issuer is the provider that signed the user in: the OpenID Connect
	// issuer, or a plain OAuth 2.0 provider's authorization endpoint.
	// Issuer and Subject together identify a user (OIDC Core §5.7); an
	// e-mail address alone never does.
	Issuer string
	// Provider is the name of the [OAuth2Provider] that signed the user
	// in, or "" for the OpenID Connect provider.
	Provider string

	claims string // raw JSON object of every claim
}

// Claims decodes all the user's claims (the ID token's, merged with
// userinfo's when fetched; a plain OAuth 2.0 provider's raw profile) into v, like go-oidc's IDToken.Claims. Use it
// for claims without a typed field, such as Logto's "roles" or
// "organizations".
func (u *User) Claims(v any) error {
	if u == nil || u.claims == "" {
		return errors.New("oidcauth: no claims")
	}
	return json.Unmarshal([]byte(u.claims), v)
}

// logtoClaims are the list claims Logto issues by scope.
type logtoClaims struct {
	Roles             []string        `json:"roles"`
	Organizations     []string        `json:"organizations"`
	OrganizationRoles []string        `json:"organization_roles"`
	CustomData        json.RawMessage `json:"custom_data"`
}

func (u *User) logto() logtoClaims {
	var c logtoClaims
	if u != nil && u.claims != "" {
		_ = json.Unmarshal([]byte(u.claims), &c)
	}
	return c
}

// Roles returns the user's global roles: Logto's "roles" claim, issued
// with the "roles" scope. Nil when absent.
func (u *User) Roles() []string { return u.logto().Roles }

// Organizations returns the ids of the organizations the user belongs to:
// Logto's "organizations" claim, issued with [OrganizationsScope]. Use
// one with [Auth.OrganizationToken].
func (u *User) Organizations() []string { return u.logto().Organizations }

// OrganizationRoles returns the user's roles in organizations as
// "organizationID:role": Logto's "organization_roles" claim, issued with
// the "urn:logto:scope:organization_roles" scope.
func (u *User) OrganizationRoles() []string { return u.logto().OrganizationRoles }

// CustomData decodes Logto's "custom_data" claim into v. Logto serves it
// from the userinfo endpoint with the "custom_data" scope, so it is there
// with [Config.FetchUserInfo], or from [Auth.FetchUserInfo].
func (u *User) CustomData(v any) error {
	c := u.logto()
	if len(c.CustomData) == 0 {
		return errors.New("oidcauth: no custom_data claim")
	}
	return json.Unmarshal(c.CustomData, v)
}

// LogValue keeps log lines to the subject and issuer: a user's name and
// e-mail are personal data that do not belong in logs by default.
func (u *User) LogValue() slog.Value {
	if u == nil {
		return slog.Value{}
	}
	return slog.GroupValue(slog.String("sub", u.Subject), slog.String("iss", u.Issuer))
}

// contextKey is a pointer to a private type, so no other package can read or
// forge the value (net/http's pattern).
type contextKey struct{ name string }

func (k *contextKey) String() string { return "oidcauth context value " + k.name }

var sessionContextKey = &contextKey{"session"}

// UserFromContext returns the signed-in user that [Auth.RequireAuth] or
// [Auth.LoadUser] put in ctx, or the principal of the access token that
// [Bearer.RequireToken] verified (its Subject, Issuer and claims; see
// [BearerTokenFromContext] for the rest). With both middlewares on a
// route, the inner one's principal is returned. It returns nil and false
// when no middleware ran or nobody is signed in; it never panics.
func UserFromContext(ctx context.Context) (*User, bool) {
	switch v := ctx.Value(sessionContextKey).(type) {
	case *session:
		if v != nil && v.id != "" {
			return &v.user, true
		}
	case *bearerPrincipal:
		if v != nil {
			return &v.user, true
		}
	}
	return nil, false
}

func sessionFromContext(ctx context.Context) *session {
	s, _ := ctx.Value(sessionContextKey).(*session)
	return s
}
