package oidcauth

import (
	"net/url"
	"path"
	"strings"
)

// maxReturnToLen bounds what a sign-in link can make us store in a cookie.
const maxReturnToLen = 2048

// safeReturnTo returns p when it is a path on the app's own origin, cleaned
// of dot segments, and "/" otherwise. It is the open-redirect defence
// (RFC 9700 §4.11): browsers read "//host" and "/\host" as another origin,
// treat backslashes as slashes and drop tabs and newlines inside URLs, so
// anything with a scheme, a host, a backslash or a control character is
// refused rather than repaired.
func safeReturnTo(p string) string {
	if p == "" || len(p) > maxReturnToLen || p[0] != '/' {
		return "/"
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x21 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	if strings.HasPrefix(p, "//") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	// Cleaning removes "/a/../..//host" tricks; keep a meaningful trailing
	// slash.
	clean := path.Clean(u.EscapedPath())
	if strings.HasSuffix(u.EscapedPath(), "/") && clean != "/" {
		clean += "/"
	}
	if !strings.HasPrefix(clean, "/") || strings.HasPrefix(clean, "//") {
		return "/"
	}
	if u.RawQuery != "" {
		clean += "?" + u.RawQuery
	}
	// Escaping can triple the length: bound what is stored, not only
	// what came in.
	if len(clean) > maxReturnToLen {
		return "/"
	}
	return clean
}
