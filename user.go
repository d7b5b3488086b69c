package oidcauth

import (
	"encoding/json"
	"errors"
	"log/slog"
)

// userFromClaims builds the user that a JSON object of claims (an ID
// token's, userinfo's, or both merged) describes.
func (a *Auth) userFromClaims(sub string, claims json.RawMessage) (User, error) {
	u, _, err := a.claimsUser(sub, claims, nil)
	return u, err
}

// claimsUser is userFromClaims that also returns the sid claim, from the
// one decode of the claims; c is that decode when the caller has it.
func (a *Auth) claimsUser(sub string, claims json.RawMessage, c *idClaims) (User, string, error) {
	if c == nil {
		c = new(idClaims)
		if err := json.Unmarshal(claims, c); err != nil {
			return User{}, "", fail(ErrUserInfo, errors.New("claims have unexpected types"))
		}
	}
	u := User{
		Subject:       sub,
		Name:          c.Name,
		Email:         c.Email,
		EmailVerified: string(c.EmailVerified) == "true" || string(c.EmailVerified) == `"true"`,
		Picture:       c.Picture,
		Username:      c.Username,
		Phone:         c.PhoneNumber,
		Issuer:        a.cfg.Issuer,
		claims:        string(claims),
	}
	if u.Username == "" {
		u.Username = c.PreferredUsername
	}
	return u, c.Sid, nil
}

// User is the signed-in user, as the ID token (and, when sign-in fetched
// it, the userinfo endpoint: see [Config.UserInfo]) described them. The common
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
	// OAuth2Provider is the name of the [OAuth2Provider] that signed the user
	// in, or "" for the OpenID Connect provider.
	OAuth2Provider string

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
// when sign-in fetched userinfo: always with [Config.UserInfo] set to
// [UserInfoAlways], with the default [UserInfoAuto] only when the ID token
// lacked the profile, or from [Auth.FetchUserInfo].
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
