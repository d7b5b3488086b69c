package main

import (
	"net/http"
	"testing"

	"github.com/oidcauth/oidcauth/examples/internal/smoke"
)

func TestSignInReachesProtectedRoutes(t *testing.T) {
	smoke.Run(t, newApp, func(get func(string) int) {
		if got := get("/orgs/org-a"); got != http.StatusOK {
			t.Errorf("GET /orgs/org-a as a member: %d", got)
		}
		if got := get("/orgs/org-b"); got != http.StatusForbidden {
			t.Errorf("GET /orgs/org-b as a stranger: %d", got)
		}
		if got := get("/profile/extra"); got != http.StatusNotFound {
			t.Errorf("GET /profile/extra: %d", got)
		}
	})
}

func TestForbiddenWithoutRole(t *testing.T) { smoke.Forbidden(t, newApp) }
