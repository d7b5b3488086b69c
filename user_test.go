package oidcauth

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

func TestUserClaimsAndIsAuthenticated(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{User: oidcauthtest.User{
		Subject: "u-42", Name: "Ada <Lovelace>", Email: "ada@example.com", EmailVerified: true,
		Username: "ada", Extra: map[string]any{"roles": []string{"admin"}},
	}}, nil)
	var got *User
	var authed bool
	f.app.Config.Handler.(*http.ServeMux).Handle("/whoami", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = UserFromContext(r.Context())
		authed = f.auth.IsAuthenticated(r)
	})))
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	wantStatus(t, f.get("/whoami"), http.StatusOK)
	if got == nil || got.Subject != "u-42" || got.Name != "Ada <Lovelace>" || got.Email != "ada@example.com" ||
		!got.EmailVerified || got.Username != "ada" || got.Issuer != f.idp.Issuer() {
		t.Fatalf("user = %+v", got)
	}
	if !authed {
		t.Error("IsAuthenticated = false inside RequireAuth")
	}
	var c struct {
		Roles []string `json:"roles"`
		Nonce string   `json:"nonce"`
	}
	if err := got.Claims(&c); err != nil || len(c.Roles) != 1 || c.Roles[0] != "admin" || c.Nonce == "" {
		t.Errorf("claims = %+v, %v", c, err)
	}
	if u, ok := UserFromContext(context.Background()); u != nil || ok {
		t.Error("UserFromContext without middleware returned a user")
	}
}

func TestLogtoClaimHelpers(t *testing.T) {
	t.Parallel()
	user := oidcauthtest.User{Subject: "u-l", Extra: map[string]any{
		"roles":              []string{"admin", "viewer"},
		"organizations":      []string{"org-1", "org-2"},
		"organization_roles": []string{"org-1:owner"},
		"custom_data":        map[string]any{"plan": "pro", "seats": 5},
	}}
	f := newFlow(t, oidcauthtest.Options{User: user}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	u := f.currentSession().user
	if !slices.Equal(u.Roles(), []string{"admin", "viewer"}) || !slices.Equal(u.Organizations(), []string{"org-1", "org-2"}) || !slices.Equal(u.OrganizationRoles(), []string{"org-1:owner"}) {
		t.Errorf("roles %q, organizations %q, organization roles %q", u.Roles(), u.Organizations(), u.OrganizationRoles())
	}
	var data struct {
		Plan  string
		Seats int
	}
	if err := u.CustomData(&data); err != nil || data.Plan != "pro" || data.Seats != 5 {
		t.Errorf("custom data %+v (%v)", data, err)
	}
	var none User
	if none.Roles() != nil || none.CustomData(&data) == nil {
		t.Error("a user without claims has roles or custom data")
	}
}
