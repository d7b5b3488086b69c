// Package oidcauth adds OpenID Connect sign-in to any net/http app: handlers
// for /sign-in, /callback and /sign-out, a RequireAuth middleware that puts
// the signed-in user in the request context, and sessions in encrypted,
// authenticated cookies. Logto is the first-class provider; any provider
// that implements OpenID Connect discovery works (Auth0, Keycloak, Zitadel,
// Google, Dex, …).
//
// # Quick start
//
//	auth, err := oidcauth.New(oidcauth.Config{
//		Issuer:                "https://<tenant>.logto.app/oidc",
//		ClientID:              os.Getenv("OIDC_CLIENT_ID"),
//		ClientSecret:          os.Getenv("OIDC_CLIENT_SECRET"),
//		RedirectURL:           "http://localhost:3000/callback",
//		PostLogoutRedirectURL: "http://localhost:3000/",
//		SessionKeys:           [][]byte{[]byte(os.Getenv("SESSION_SECRET"))},
//	})
//	if err != nil {
//		log.Fatal(err) // a configuration mistake, explained
//	}
//	mux := http.NewServeMux()
//	auth.Mount(mux) // /sign-in, /callback, /sign-out, /backchannel-logout
//	mux.Handle("/dashboard", auth.RequireAuth(http.HandlerFunc(dashboard)))
//	log.Fatal(http.ListenAndServe("localhost:3000", mux))
//
//	func dashboard(w http.ResponseWriter, r *http.Request) {
//		user, _ := oidcauth.UserFromContext(r.Context())
//		fmt.Fprintf(w, "Hello, %s", html.EscapeString(user.Name))
//	}
//
// Handlers and middleware take and return http.Handler (a function becomes
// one with http.HandlerFunc), so RequireAuth is also chi's
// r.Use(auth.RequireAuth). The README has the same app as a complete
// main.go, and every snippet here and there is compiled by the package's
// tests.
//
// [New] never touches the network: the provider is discovered on first use,
// retried with backoff while it is down (sign-in answers 503 meanwhile) and
// its last good metadata is kept.
//
// [ConfigFromEnv] builds the Config from the variables the example app
// uses (OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, BASE_URL,
// SESSION_SECRET, SESSION_SECRET_PREVIOUS, OIDC_SCOPES) and explains every
// mistake in them at once:
//
//	cfg, err := oidcauth.ConfigFromEnv(os.Getenv)
//
// # Coming from Logto's SDKs
//
// Logto's endpoint plus /oidc is the [Config.Issuer]. As Logto's SDKs do,
// openid, offline_access and profile are requested whatever
// [Config.Scopes] lists (unless [Config.ExactScopes]). Sign-in fetches
// userinfo when the ID token lacks the profile or e-mail claims the scopes
// asked for ([Config.UserInfo]). signIn is [Auth.SignIn] or
// [Auth.SignInURL]; getIdToken [Auth.IDToken]; getIdTokenClaims
// [UserFromContext]; getAccessToken [Auth.AccessToken]; getAccessTokenClaims
// [Auth.Token] and [Token.Claims]; fetchUserInfo [Auth.FetchUserInfo]. The
// README maps every call, each with its test.
//
// # Plain OAuth 2.0 providers
//
// Plain OAuth 2.0 providers ("Sign in with GitHub"), which have no ID token
// and no discovery, are listed in [Config.OAuth2Providers] with the fields
// of Logto's OAuth2 connector ([ParseOAuth2Provider] loads its JSON), beside
// the OpenID Connect provider or instead of it. Users choose one with
// /sign-in?provider=<name>; each has its own callback, and a response that
// arrives at another provider's callback is refused (mix-up defence). Their
// users carry [User.OAuth2Provider] and the provider's authorization endpoint as
// [User.Issuer]; (Issuer, Subject) identifies a user.
//
// # Which middleware
//
// [Auth.RequireAuth] for pages (a signed-out navigation is sent to sign in,
// anything else gets 401); [Auth.RequireAuthAPI] for routes that must never
// redirect (always 401); [Auth.LoadUser] where signing in is optional (the
// user in the context when there is one); [Auth.Require] when a signed-in
// user must also have a role, scope, organization or claim (403 otherwise;
// it includes RequireAuth's check, so it needs no outer middleware).
//
// An API that takes access tokens instead of cookies uses a [Bearer]
// ([NewBearer], or [Auth.Bearer] beside a web app): [Bearer.RequireToken]
// accepts the provider's RFC 9068 access tokens for one API resource and
// answers per RFC 6750; [Bearer.Require] adds the same Requirements as
// Auth.Require, read from the token. [BearerTokenFromContext] and
// [UserFromContext] give the principal. [ClientCredentials] gets the app's
// own tokens (machine to machine) as an oauth2.TokenSource.
//
// # Routers and frameworks
//
// The handlers are http.Handlers and the middleware has the standard shape
// func(http.Handler) http.Handler, so they fit any router: [Auth.Mount]
// takes a ServeMux or a chi.Router; with gorilla/mux register
// [Auth.SignInHandler], [Auth.CallbackHandler], [Auth.SignOutHandler] and
// [Auth.BackChannelLogoutHandler] one by one; echo adapts them with echo.WrapHandler and
// echo.WrapMiddleware, gin with gin.WrapH and a small middleware adapter.
// The examples/ folder of the repository has a runnable, tested app for
// each (ServeMux with Go 1.22 patterns, chi, gorilla/mux, echo, gin).
//
// # Authorization
//
// [Auth.Require] is RequireAuth plus [Requirement]s that the signed-in user
// must meet, checked locally from the session:
//
//	mux.Handle("GET /admin", auth.Require(oidcauth.AnyRole("admin"))(adminPage))
//	mux.Handle("POST /orders", auth.Require(oidcauth.Scope("write:orders"))(createOrder))
//	mux.Handle("GET /orgs/{org}/", auth.Require(func(r *http.Request, u *oidcauth.User) bool {
//		return oidcauth.OrganizationRole(r.PathValue("org"), "admin")(r, u)
//	})(orgPages))
//
// [AnyRole] reads Logto's "roles" claim, [Organization] and
// [OrganizationRole] its "organizations" and "organization_roles" claims
// (request the "roles", "urn:logto:scope:organizations" and
// "urn:logto:scope:organization_roles" scopes), [Scope] the access token's
// scopes, [Claim] any claim; [AnyOf] combines them, and any func with the
// Requirement signature is one. A user who lacks a requirement gets 403
// (JSON for API clients) and keeps the session.
//
// [Auth.RequireStepUp] guards sensitive routes by how the user signed in:
//
//	mux.Handle("/admin/keys", auth.RequireStepUp(oidcauth.StepUp{MaxAge: 5 * time.Minute})(adminPage))
//
// A session whose authentication at the provider (the ID token's
// auth_time, and acr with StepUp.ACR) is too old or too weak is sent
// through a fresh sign-in with max_age (and acr_values) and back to the
// same page; it stays valid meanwhile, and stays if the step-up fails. The
// sign-in options [WithMaxAge], [WithACRValues] and [WithRequiredACR] ask
// the same of one sign-in; the callback then checks auth_time and, when
// required, acr (OIDC Core §3.1.2.1, §3.1.3.7).
//
// A silent sign-in ([WithSilentSignIn], or /sign-in?silent=1) asks the
// provider with prompt=none; when it needs the user (login_required,
// interaction_required, consent_required, account_selection_required) the
// browser goes back to returnTo signed out, or on to an interactive
// sign-in, by option; never to an error page. A browser tries once per
// navigation: within 5 minutes, [Auth.SilentSignInTried] is true and a
// new silent sign-in is an interactive one, so no page can loop through
// the provider. A prompt of "none" from [WithPrompt] or [Config.Prompt]
// falls back to an interactive sign-in.
//
// # Logging and errors
//
// [Config.Logger] (a *slog.Logger) receives one line per event, with a
// stable "event" attribute: sign_in_started, sign_in_succeeded,
// sign_in_failed (with a "reason" such as invalid_state, code_rejected or
// access_denied, see [ErrorReason]), sign_out, sign_out_failed,
// refresh, refresh_failed, back_channel_logout,
// back_channel_logout_failed, sign_out_everywhere, forbidden, step_up (a
// route asked for a fresh sign-in), silent_sign_in_fallback,
// userinfo_failed (automatic userinfo at sign-in; the ID token's claims
// are kept) and token_revocation_failed (RFC 7009 at sign-out; never the
// token). A [Bearer] logs bearer_refused and forbidden at Debug level, with
// the reason, never the token. Users appear as their subject
// and issuer only. No token, authorization code, secret or cookie value is
// ever logged: the values that hold tokens print as "[token redacted]" in
// String and LogValue.
//
// Failures wrap one of the Err* sentinels; [Config.ErrorHandler] replaces
// the default error page (a short fixed, escaped phrase, with headings and
// a link home; JSON for API clients), and [ErrorStatus] and [ErrorReason]
// classify the error. [Config.OnSignIn] maps a provider's user to a local
// account, or denies the sign-in.
//
// # Testing
//
// Package oidcauthtest runs an OpenID Provider in-process, so an app's
// tests sign in for real with no network; its User.Extra adds claims such
// as roles and organizations, and Misbehave breaks one protocol rule at a
// time. It also runs a GitHub-like OAuth 2.0 provider.
//
// # Security
//
// These are defaults, not options:
//
//   - Authorization code flow only, with PKCE (S256), and a fresh 256-bit
//     state and nonce per sign-in attempt. Each attempt lives in its own
//     encrypted cookie for ten minutes and is consumed by the callback,
//     whatever the outcome; at most five are pending per browser.
//   - The redirect URI is the configured one, never derived from Host or
//     forwarding headers. The RFC 9207 iss parameter is checked, and
//     required when the provider advertises it.
//   - ID tokens are verified by go-oidc (algorithm, iss, aud, exp), by
//     go-jose (the signature, with the provider's JWKS, which go-jose
//     parses; a key published with an "alg" verifies only that algorithm)
//     and here (nonce, sub, iat not before the attempt began, azp,
//     at_hash). Unsigned and HMAC-signed ID tokens are refused. ClockSkew
//     (1 minute) is the only leeway.
//   - returnTo accepts same-origin paths only: schemes, "//", "/\",
//     backslashes and control characters send the user to "/".
//   - Session and transaction cookies are AES-256-GCM encrypted and
//     authenticated with the cookie name bound in, under keys derived from
//     SessionKeys together with the app's origin (RedirectURL's), the
//     issuer and the client ID (another deployment sharing the secret,
//     staging for production, cannot pass its cookies off as this app's). They are HttpOnly, SameSite=Lax, Secure on https (with the
//     __Host- prefix), and carry no Domain. The absolute and idle lifetimes
//     are enforced inside the encrypted payload. A tampered, foreign or
//     expired cookie means "signed out", never an error. Signing in always
//     replaces the earlier session (no fixation); a server-side
//     [Config.Store] holds the session sealed the same way.
//   - Sign-out clears the session locally before involving the provider. A
//     GET signs out only with same-origin evidence (Fetch Metadata, or an
//     Origin or Referer on the app's origin), and a request another site made gets a
//     confirmation page instead, so no cross-site link or form signs a user
//     out silently; nor can a failed sign-in that another site started.
//     When the provider advertises a revocation_endpoint, the session's
//     refresh and access tokens are revoked there (RFC 7009), in the
//     background, never holding up or failing the sign-out.
//   - Sign-out and back-channel logout (checked per Back-Channel Logout
//     1.0 §2.6, replayed tokens refused) revoke sessions in
//     [Config.Revocations], which RequireAuth consults in memory on every
//     request, so a copied cookie is refused afterwards.
//   - Refresh never spends a rotated refresh token twice, in a process
//     and across the instances sharing [Config.RefreshCoordinator]; a
//     refreshed ID token must name the same subject.
//   - Every call to the provider has a timeout (10 s; discovery and JWKS
//     fetches 5 s), a 1 MiB response limit (token and userinfo answers
//     64 KiB), and follows no redirects; every endpoint that discovery names
//     must meet the issuer's https rule. A token naming an unknown signing
//     key refetches the JWKS at most once a minute.
//   - A Bearer takes tokens from the Authorization header only, refuses
//     none and HMAC, an ID token (typ), another issuer or audience, an
//     expired or not-yet-valid token and a sender-constrained one (cnf),
//     and answers 401 invalid_token without detail.
//   - Error pages show a short fixed phrase; logs carry event names and
//     error classes, never a token, code, secret or cookie value.
//
// What the app must still do: keep SessionKeys secret and rotate them,
// serve over https in production, protect its own state-changing routes
// against CSRF, and set Cache-Control on pages with personal data that
// no middleware of this package serves (RequireAuth, Require, LoadUser
// and a Bearer default signed-in responses to private, no-store).
//
// Revocations and refresh outcomes live in one process's memory by
// default: with several instances, share them through Redis (the
// stores/redis module: Config.Revocations and Config.RefreshCoordinator),
// or a sign-out on one instance does not hold on the others, and two
// instances refreshing one session at once spend its refresh token twice
// (the provider then ends the grant). On one instance, the stores/bolt
// module keeps both across restarts, which the default forgets.
// Auth.SignOutEverywhere ends every session of a user through the same
// Config.Revocations. SECURITY.md in the
// repository has the whole list, with the tests that prove each point.
package oidcauth
