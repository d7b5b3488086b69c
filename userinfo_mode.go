package oidcauth

// UserInfoMode says when sign-in fetches userinfo; see [Config.UserInfo].
type UserInfoMode int

const (
	// UserInfoAuto fetches userinfo at sign-in when Scopes hold "profile"
	// and the ID token has none of the profile claims, or hold "email" and
	// the ID token has no email claim. The answer's sub must be the ID
	// token's. A failing call (a provider fault, an access token issued
	// for an API resource that userinfo refuses, another subject) is
	// logged with the event "userinfo_failed" and the sign-in goes on with
	// the ID token's claims.
	UserInfoAuto UserInfoMode = iota
	// UserInfoAlways fetches userinfo at every sign-in; a failure fails
	// the sign-in with [ErrUserInfo] (502).
	UserInfoAlways
	// UserInfoNever keeps to the ID token's claims.
	UserInfoNever
)
