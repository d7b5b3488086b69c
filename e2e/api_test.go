package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oidcauth/oidcauth"
)

// apiAnswer is what the app's /api/resource answers a valid token.
type apiAnswer struct {
	Method   string   `json:"method"`
	Sub      string   `json:"sub"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
}

// callAPI sends method /api/resource with token (none when "") and
// answers the status, the WWW-Authenticate header and the decoded body.
func callAPI(t *testing.T, method, token string) (int, string, apiAnswer) {
	t.Helper()
	req, err := http.NewRequest(method, env.appURL+"/api/resource", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var a apiAnswer
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("%s /api/resource answered 200 with %q", method, body)
		}
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), a
}

// The signed-in user's access token for the API, as node-oidc-provider
// issued it (a refresh grant naming the resource, ES384, typ at+jwt),
// opens GET /api/resource from the profile page's script; POST needs
// write:data, which the sign-in did not ask for.
func TestAPIResourceWithUserToken(t *testing.T) {
	p, _ := signInForTokens(t)
	p.goTo("/profile")
	p.click("#call-api-get")
	p.do("waiting for the API's answer", chromedp.WaitReady(`#api-result[data-method="GET"][data-status]`))
	if got := p.textContent("#api-result"); !strings.HasPrefix(got, "GET 200\n") || !strings.Contains(got, `"sub":"ada"`) {
		t.Errorf("the profile page's GET /api/resource shows %q", got)
	}
	p.click("#call-api-post")
	p.do("waiting for the API's answer", chromedp.WaitReady(`#api-result[data-method="POST"][data-status]`))
	if got := p.textContent("#api-result"); !strings.HasPrefix(got, "POST 403\nWWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"write:data\"") {
		t.Errorf("the profile page's POST /api/resource shows %q", got)
	}
	p.screenshot("api-resource")

	// The same token from Go: accepted, and the principal is the user.
	status, body := p.fetchJSON("/api/token?resource=" + apiResource)
	token, _ := body["access_token"].(string)
	if status != http.StatusOK || token == "" {
		t.Fatalf("/api/token answered %d without the token", status)
	}
	status, _, a := callAPI(t, "GET", token)
	if status != http.StatusOK || a.Sub != "ada" || a.ClientID != clientID {
		t.Errorf("GET /api/resource with the user's token: %d %+v", status, a)
	}
	// The token for the other API is refused here: its audience is not
	// this API.
	_, body = p.fetchJSON("/api/token?resource=" + shortAPIResource)
	other, _ := body["access_token"].(string)
	if status, challenge, _ := callAPI(t, "GET", other); status != http.StatusUnauthorized || challenge != `Bearer error="invalid_token"` {
		t.Errorf("the other API's token: %d %q", status, challenge)
	}
}

// A machine-to-machine token from node-oidc-provider's client credentials
// grant, got by oidcauth.ClientCredentials, opens the API, POST too with
// write:data; a token without the resource (opaque, for no API) and one
// for another API do not.
func TestAPIResourceWithClientCredentials(t *testing.T) {
	id, secret := os.Getenv("E2E_M2M_CLIENT_ID"), os.Getenv("E2E_M2M_CLIENT_SECRET")
	if id == "" || secret == "" {
		t.Fatal("E2E_M2M_CLIENT_ID and E2E_M2M_CLIENT_SECRET are not set; run ./scripts/e2e.sh")
	}
	source := func(resource string, scopes ...string) *oidcauth.ClientCredentials {
		m2m, err := oidcauth.NewClientCredentials(oidcauth.ClientCredentialsConfig{
			Issuer: env.issuer, ClientID: id, ClientSecret: secret, Resource: resource, Scopes: scopes,
		})
		if err != nil {
			t.Fatal(err)
		}
		return m2m
	}
	m2m := source(apiResource, "read:data", "write:data")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := m2m.Client(ctx).Post(env.appURL+"/api/resource", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var a apiAnswer
	err = json.NewDecoder(resp.Body).Decode(&a)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || a.Sub != id || a.ClientID != id || !slices.Contains(a.Scopes, "write:data") {
		t.Errorf("POST /api/resource with a client credentials token: %d %+v (%v)", resp.StatusCode, a, err)
	}

	readOnly, err := source(apiResource, "read:data").TokenContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status, challenge, _ := callAPI(t, "POST", readOnly.AccessToken); status != http.StatusForbidden || challenge != `Bearer error="insufficient_scope", scope="write:data"` {
		t.Errorf("POST with read:data only: %d %q", status, challenge)
	}
	otherAPI, err := source(shortAPIResource, "read:data").TokenContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status, challenge, _ := callAPI(t, "GET", otherAPI.AccessToken); status != http.StatusUnauthorized || challenge != `Bearer error="invalid_token"` {
		t.Errorf("another API's token: %d %q", status, challenge)
	}
	noAPI, err := source("").TokenContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if status, challenge, _ := callAPI(t, "GET", noAPI.AccessToken); status != http.StatusUnauthorized || challenge != `Bearer error="invalid_token"` {
		t.Errorf("an opaque token for no API: %d %q", status, challenge)
	}
	if status, challenge, _ := callAPI(t, "GET", ""); status != http.StatusUnauthorized || challenge != "Bearer" {
		t.Errorf("no token: %d %q", status, challenge)
	}
}
