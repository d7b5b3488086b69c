package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// apiToken gets the signed-in user's access token for the API, as the
// profile page's script does.
func (b *browser) apiToken(resource string) string {
	b.t.Helper()
	resp, page := b.do("GET", "/api/token?resource="+resource, nil, http.Header{"Accept": {"application/json"}})
	b.want(resp, http.StatusOK)
	var got struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(page), &got); err != nil || got.AccessToken == "" {
		b.t.Fatalf("/api/token = %s (%v)", page, err)
	}
	return got.AccessToken
}

// With no configuration, /api/resource takes the development provider's
// access token for the default API and nothing else.
func TestDevModeAPIResource(t *testing.T) {
	b := startApp(t, map[string]string{})
	resp, _ := b.do("GET", "/api/resource", nil, nil)
	b.want(resp, http.StatusUnauthorized)
	if got := resp.Header.Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("anonymous: WWW-Authenticate %q", got)
	}
	resp, _ = b.signIn("/sign-in", "approve")
	b.want(resp, http.StatusSeeOther)
	// The session cookie alone does not open the API: it wants a token.
	resp, _ = b.do("GET", "/api/resource", nil, nil)
	b.want(resp, http.StatusUnauthorized)

	resp, page := b.do("GET", "/profile", nil, nil)
	b.want(resp, http.StatusOK)
	if !strings.Contains(page, `id="call-api-get"`) || !strings.Contains(page, `const resource = "https://api.example.com"`) {
		t.Errorf("the profile page does not show how to call the API:\n%s", page)
	}

	tok := b.apiToken("https%3A%2F%2Fapi.example.com")
	for _, method := range []string{"GET", "POST"} {
		resp, page := b.do(method, "/api/resource", nil, http.Header{"Authorization": {"Bearer " + tok}})
		b.want(resp, http.StatusOK)
		var got struct {
			Method, Sub string
			ClientID    string `json:"client_id"`
			Scopes      []string
		}
		if err := json.Unmarshal([]byte(page), &got); err != nil || got.Method != method || got.Sub != "dev-user-1" || got.ClientID != "example-app" || strings.Join(got.Scopes, " ") != "read:data write:data" {
			t.Errorf("%s /api/resource = %s (%v)", method, page, err)
		}
	}
	// A token that does not verify, and one for another audience's
	// shape, are refused per RFC 6750.
	resp, _ = b.do("GET", "/api/resource", nil, http.Header{"Authorization": {"Bearer " + tok[:len(tok)-4] + "AAAA"}})
	b.want(resp, http.StatusUnauthorized)
	if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("forged token: WWW-Authenticate %q", got)
	}
}

// OIDC_SCOPES without the API's write:data: GET works, POST is 403
// insufficient_scope naming the scope.
func TestDevModeAPIResourceScope(t *testing.T) {
	b := startApp(t, map[string]string{"OIDC_SCOPES": "openid profile offline_access read:data"})
	resp, _ := b.signIn("/sign-in", "approve")
	b.want(resp, http.StatusSeeOther)
	tok := b.apiToken("https%3A%2F%2Fapi.example.com")
	auth := http.Header{"Authorization": {"Bearer " + tok}}
	resp, _ = b.do("GET", "/api/resource", nil, auth)
	b.want(resp, http.StatusOK)
	resp, _ = b.do("POST", "/api/resource", nil, auth)
	b.want(resp, http.StatusForbidden)
	if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer error="insufficient_scope", scope="write:data"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
}

// Without OIDC_RESOURCES a configured app has no API to protect.
func TestNoAPIWithoutResources(t *testing.T) {
	b := startApp(t, map[string]string{
		"OIDC_ISSUER": "https://a1b2c3.logto.app/oidc", "OIDC_CLIENT_ID": "app", "OIDC_CLIENT_SECRET": "secret",
		"SESSION_SECRET": strings.Repeat("k", 32),
	})
	resp, _ := b.do("GET", "/api/resource", nil, nil)
	b.want(resp, http.StatusNotFound)
}
