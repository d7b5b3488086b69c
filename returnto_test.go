package oidcauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

func TestSafeReturnTo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/profile", "/profile"},
		{"/profile?tab=keys&x=1", "/profile?tab=keys&x=1"},
		{"/docs/", "/docs/"},
		{"/a/./b/../c", "/a/c"},
		{"/%2F%2Fevil.example", "/%2F%2Fevil.example"}, // a path on our origin
		{"/caf%C3%A9", "/caf%C3%A9"},
		{"/profile#frag", "/profile"},
		// Other origins, in every spelling browsers accept.
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\\/evil.example", "/"},
		{"https://evil.example", "/"},
		{"https:evil.example", "/"},
		{"http:/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"JaVaScRiPt:alert(1)", "/"},
		{"data:text/html,x", "/"},
		{"evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r\nLocation: x", "/"},
		{"/ /evil", "/"},
		{"/\x00", "/"},
		{"/\x7f", "/"},
		{"/a/../..//evil.example", "/evil.example"},
		{"/..//evil.example", "/evil.example"},
		{"/%", "/"},
		{"/" + string(make([]byte, maxReturnToLen)), "/"},
		{"/" + strings.Repeat("a", maxReturnToLen), "/"},
		{"/" + strings.Repeat("a", maxReturnToLen-1), "/" + strings.Repeat("a", maxReturnToLen-1)},
	} {
		if got := safeReturnTo(tc.in); got != tc.want {
			t.Errorf("safeReturnTo(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Whatever safeReturnTo lets through resolves to the app's own origin.
func TestSafeReturnToStaysOnOrigin(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://app.example.com/callback")
	for _, in := range []string{"/x", "/a/../b", "/%2F%2Fevil", "/.%2E/evil", "/;@evil.example", "/@evil.example", "/?next=//evil"} {
		out := safeReturnTo(in)
		ref, err := url.Parse(out)
		if err != nil {
			t.Fatalf("%q -> %q unparseable", in, out)
		}
		if got := base.ResolveReference(ref); got.Host != "app.example.com" || got.Scheme != "https" {
			t.Errorf("%q -> %q resolves to %s", in, out, got)
		}
	}
}

func TestOpenRedirectThroughFlow(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	for _, rt := range []string{"//evil.example", "/\\evil.example", "https://evil.example/", "%2F%2Fevil.example", "javascript:alert(1)"} {
		resp := f.signIn("/sign-in?returnTo=" + url.QueryEscape(rt))
		wantStatus(t, resp, http.StatusSeeOther)
		loc := location(t, resp)
		if loc.Host != "" || !strings.HasPrefix(loc.Path, "/") || strings.HasPrefix(loc.String(), "//") {
			t.Errorf("returnTo %q lands on %q", rt, loc)
		}
	}
}

// returnTo validation: whatever comes in, what goes out is a path on the
// app's own origin, and validating it again changes nothing.
func FuzzSafeReturnTo(f *testing.F) {
	for _, s := range []string{"/", "/profile?x=1", "//evil.example", "/\\evil", "%2F%2Fevil", "https:evil", "javascript:alert(1)",
		"/\t/evil", "/a/../..//evil", "/@evil", "/%2e%2e/x", "/caf%C3%A9", "/x#y", "/;@evil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example.com/callback")
	f.Fuzz(func(t *testing.T, in string) {
		out := safeReturnTo(in)
		if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.ContainsAny(out, "\\\t\r\n\x00") {
			t.Fatalf("safeReturnTo(%q) = %q", in, out)
		}
		ref, err := url.Parse(out)
		if err != nil {
			t.Fatalf("safeReturnTo(%q) = %q, unparseable: %v", in, out, err)
		}
		if got := base.ResolveReference(ref); got.Scheme != "https" || got.Host != "app.example.com" || got.User != nil {
			t.Fatalf("safeReturnTo(%q) = %q resolves to %s", in, out, got)
		}
		if again := safeReturnTo(out); again != out {
			t.Fatalf("safeReturnTo not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}
