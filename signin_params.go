package oidcauth

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Logto's sign-in parameters that the sign-in handler takes from its query
// string, each checked before it goes anywhere: a link to /sign-in is
// anyone's to write, so nothing else from it reaches the provider.
var (
	identifierTypes = []string{"email", "phone", "username"}
	directSignIn    = regexp.MustCompile(`^(social|sso):[A-Za-z0-9_-]{1,128}$`)
	localeTag       = regexp.MustCompile(`^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$`)
)

// queryOptions reads Logto's sign-in parameters from a /sign-in query:
// first_screen (one of Logto's screens), identifier (email, phone and/or
// username, space separated), login_hint (up to 256 printable characters),
// direct_sign_in (social:<connector> or sso:<connector id>), ui_locales (up
// to 10 BCP 47 tags, space separated) and interaction_mode (signIn or
// signUp). A value that fails its check is dropped.
func queryOptions(q url.Values) []SignInOption {
	var opts []SignInOption
	if s := q.Get("first_screen"); slices.Contains(firstScreens, s) {
		opts = append(opts, WithFirstScreen(s))
	}
	if ids := strings.Fields(q.Get("identifier")); len(ids) > 0 && len(ids) <= len(identifierTypes) && allIn(ids, identifierTypes) {
		opts = append(opts, WithAuthParam("identifier", strings.Join(ids, " ")))
	}
	if h := q.Get("login_hint"); h != "" && len(h) <= 256 && printable(h) {
		opts = append(opts, WithLoginHint(h))
	}
	if d := q.Get("direct_sign_in"); directSignIn.MatchString(d) {
		opts = append(opts, WithAuthParam("direct_sign_in", d))
	}
	if tags := strings.Fields(q.Get("ui_locales")); len(tags) > 0 && len(tags) <= 10 && allMatch(tags, localeTag) {
		opts = append(opts, WithAuthParam("ui_locales", strings.Join(tags, " ")))
	}
	if m := q.Get("interaction_mode"); m == "signIn" || m == "signUp" {
		opts = append(opts, WithInteractionMode(m))
	}
	return opts
}

func allIn(values, allowed []string) bool {
	for _, v := range values {
		if !slices.Contains(allowed, v) {
			return false
		}
	}
	return true
}

func allMatch(values []string, re *regexp.Regexp) bool {
	for _, v := range values {
		if !re.MatchString(v) {
			return false
		}
	}
	return true
}

// printable: no control characters, which no identifier has.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
