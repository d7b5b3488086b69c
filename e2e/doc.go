// Package e2e signs in to the example app through a real browser against a
// real OpenID Provider: headless Chromium (Debian's package) driven with
// chromedp, and node-oidc-provider, the engine inside Logto, configured as
// Logto configures it (provider.js beside this file).
//
// It is a module of its own so that the root module's `go test ./...` stays
// fast and free of these dependencies. scripts/e2e.sh installs what is
// missing, starts the provider and the example app on free loopback ports,
// runs these tests and stops everything it started:
//
//	./scripts/e2e.sh
//
// The tests read where things run from the environment that script sets:
//
//	E2E_APP_URL        the example app's base URL
//	E2E_ISSUER         the provider's issuer
//	E2E_PROVIDER_DEBUG the provider's debug URL (what it received)
//	E2E_CHROMIUM       the browser binary (default /usr/bin/chromium)
//	E2E_ARTIFACTS      where screenshots go (default: a temporary folder)
package e2e
