// Command example is a small web app signed in with oidcauth.
//
// With no configuration it serves an embedded development provider, so
// `go run ./example` lets you sign in at http://localhost:3000 with no
// account anywhere (it signs in anyone, so it runs on localhost only).
// With configuration it signs in with Logto or any OpenID Connect provider:
//
//	OIDC_ISSUER         issuer URL (Logto: https://<tenant>.logto.app/oidc)
//	OIDC_CLIENT_ID      client / App ID
//	OIDC_CLIENT_SECRET  client secret / App secret
//	BASE_URL            where the app is reached (default http://localhost:3000);
//	                    the redirect URI is BASE_URL/callback, the post sign-out
//	                    redirect URI is BASE_URL/
//	SESSION_SECRET      32 bytes or more of secret; session keys derive from it
//	                    (required with OIDC_ISSUER; random in development mode)
//	SESSION_SECRET_PREVIOUS  the secret before the last rotation (optional)
//	ADDR                listen address (default: BASE_URL's host and port, or :3000);
//	                    set alone, BASE_URL follows it (http://localhost:<port>)
//	OIDC_SCOPES         space-separated scopes (default openid profile email offline_access)
//	OIDC_RESOURCES      space-separated API resources (Logto: API identifiers) to get
//	                    access tokens for at /api/token (development mode: https://api.example.com);
//	                    the first is the API the app serves at /api/resource, which takes
//	                    that resource's access tokens (POST needs the write:data scope)
//	OAUTH2_PROVIDERS    space-separated names of plain OAuth 2.0 providers offered
//	                    beside (or, without OIDC_ISSUER, instead of) the OIDC provider
//	OAUTH2_<NAME>_CONFIG  each one's Logto OAuth2-connector JSON; <NAME> upper-cased,
//	                    '-' as '_'; its callback is BASE_URL/callback/<name>
//	STATE_DIR           a directory for an embedded database (stores/bolt) that keeps
//	                    revocations and refresh outcomes across restarts, so a
//	                    signed-out cookie stays refused (default: none; state in
//	                    process memory)
//	SESSION_STORE       cookie (default) or bolt: sessions in the STATE_DIR database,
//	                    the cookie holding only an id and a key
//
// Development mode also serves a GitHub-like OAuth 2.0 provider, so the home
// page shows a second sign-in button.
package main

import "github.com/oidcauth/oidcauth/example/app"

func main() { app.Main(stateStores) }
