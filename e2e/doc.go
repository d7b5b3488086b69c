// Package e2e signs in to the example app through a real browser against
// real OpenID Providers: headless Chromium (Debian's package) driven with
// chromedp, against node-oidc-provider, the engine inside Logto, configured
// as Logto configures it (provider.js beside this file), and against the
// example provider of github.com/zitadel/oidc/v3 (command zitadelop).
//
// It is a module of its own so that the root module's `go test ./...` stays
// fast and free of these dependencies. scripts/e2e.sh installs what is
// missing, starts each provider with its own instance of the example app on
// free loopback ports, runs these tests and stops everything it started:
//
//	./scripts/e2e.sh
//
// The tests read where things run from the environment that script sets:
//
//	E2E_APP_URL         the app signing in with node-oidc-provider
//	E2E_ISSUER          node-oidc-provider's issuer
//	E2E_PROVIDER_DEBUG  its debug URL (what it received)
//	E2E_ZITADEL_APP_URL the app signing in with zitadelop
//	E2E_ZITADEL_ISSUER  zitadelop's issuer
//	E2E_CHROMIUM        the browser binary (default /usr/bin/chromium)
//	E2E_ARTIFACTS       where screenshots go (default: a temporary folder)
package e2e
