package main

import (
	"testing"

	"github.com/oidcauth/oidcauth/examples/internal/smoke"
)

func TestSignInReachesProtectedRoutes(t *testing.T) { smoke.Run(t, newApp) }

func TestForbiddenWithoutRole(t *testing.T) { smoke.Forbidden(t, newApp) }
