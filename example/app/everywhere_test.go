package app

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// Two browsers of the same user: "Sign out on every device" in one signs
// out both (the other's copy of its cookie too), and only from the app's
// own pages.
func TestSignOutEverywhere(t *testing.T) {
	first := startApp(t, map[string]string{})
	jar, _ := cookiejar.New(nil)
	second := &browser{t: t, base: first.base, client: &http.Client{Jar: jar, CheckRedirect: first.client.CheckRedirect}}
	json := http.Header{"Accept": {"application/json"}}
	for _, b := range []*browser{first, second} {
		resp, _ := b.signIn("/sign-in", "approve")
		b.want(resp, http.StatusSeeOther)
	}
	_, page := first.do("GET", "/profile", nil, nil)
	if !strings.Contains(page, `action="/sign-out-everywhere"`) {
		t.Errorf("the profile page has no sign-out-everywhere button:\n%s", page)
	}

	for name, h := range map[string]http.Header{
		"another site":   {"Origin": {"https://evil.example"}},
		"no evidence":    {},
		"same-site only": {"Sec-Fetch-Site": {"same-site"}},
	} {
		resp, _ := first.do("POST", "/sign-out-everywhere", url.Values{}, h)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	resp, _ := second.do("GET", "/api/me", nil, json)
	second.want(resp, http.StatusOK)

	resp, _ = first.do("POST", "/sign-out-everywhere", url.Values{}, http.Header{"Origin": {first.base}})
	first.want(resp, http.StatusSeeOther)
	if end := resp.Header.Get("Location"); !strings.HasPrefix(end, first.base+"/dev-idp/session/end?") || !strings.Contains(end, "id_token_hint=") {
		t.Errorf("this browser goes to %q, not the provider's end-session with a hint", end)
	}
	for i, b := range []*browser{first, second} {
		resp, _ := b.do("GET", "/api/me", nil, json)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("browser %d after sign-out everywhere: /api/me %d", i+1, resp.StatusCode)
		}
	}
}
