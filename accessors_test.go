package oidcauth

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// Logto's getIdToken, getAccessTokenClaims and the refresh token's
// presence: Auth.IDToken, Auth.Token(…).Claims and Auth.HasRefreshToken.
func TestTokenAccessors(t *testing.T) {
	t.Parallel()
	f := tokenFlow(t, oidcauthtest.Options{User: oidcauthtest.User{Subject: "u-4"}}, nil)
	f.mux.Handle("/accessors", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api, err := f.auth.Token(w, r, r.URL.Query().Get("resource"))
		if err != nil {
			http.Error(w, err.Error(), ErrorStatus(err))
			return
		}
		var claims struct {
			Aud   string `json:"aud"`
			Scope string `json:"scope"`
		}
		cerr := api.Claims(&claims)
		// x/oauth2 reads expires_in against the real clock: a second either way.
		ttl := (api.Expiry.Unix() - f.clock.Now().Unix() + 5) / 10 * 10
		fmt.Fprintf(w, "jwt=%v aud=%s claimsErr=%v exp=%d refresh=%v idparts=%d str=%s json=%s",
			api.IsJWT(), claims.Aud, cerr != nil, ttl, f.auth.HasRefreshToken(r),
			len(strings.Split(f.auth.IDToken(r), ".")), api, mustJSON(api))
	})))
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	resp := f.get("/accessors?resource=" + apiResource)
	got := body(t, resp)
	if want := "jwt=true aud=" + apiResource + " claimsErr=false exp=600 refresh=true idparts=3 str=[token redacted] json=\"[token redacted]\""; got != want {
		t.Errorf("resource token:\n got %s\nwant %s", got, want)
	}
	resp = f.get("/accessors")
	if got, want := body(t, resp), "jwt=false aud= claimsErr=true exp=600 refresh=true"; !strings.HasPrefix(got, want) {
		t.Errorf("sign-in token:\n got %s\nwant %s…", got, want)
	}

	// Signed out: nothing.
	r, _ := http.NewRequest("GET", "/", nil)
	if f.auth.IDToken(r) != "" || f.auth.HasRefreshToken(r) {
		t.Error("accessors answer without a session")
	}
}

// Without offline_access there is no refresh token to report.
func TestHasRefreshTokenWithoutOfflineAccess(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) { c.Scopes = []string{"openid", "profile"}; c.ExactScopes = true })
	f.mux.Handle("/has", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, f.auth.HasRefreshToken(r))
	})))
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	resp := f.get("/has")
	if b, _ := io.ReadAll(resp.Body); string(b) != "false" {
		t.Errorf("HasRefreshToken = %s", b)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// As Logto's SDKs do, a custom scope list keeps openid, offline_access and
// profile (so the refresh token and the user's name are not lost);
// ExactScopes sends the list as given, plus openid.
func TestScopesAsLogtosSDK(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scopes      []string
		exact       bool
		want        string
		wantConsent bool
	}{
		{nil, false, "openid profile email offline_access", true},
		{[]string{"roles"}, false, "openid offline_access profile roles", true},
		{[]string{"email", "profile"}, false, "openid offline_access profile email", true},
		{[]string{"profile", "email"}, true, "openid profile email", false},
		{[]string{"openid", "roles"}, true, "openid roles", false},
	} {
		a := testAuth(t, func(c *Config) { c.Scopes, c.ExactScopes = tc.scopes, tc.exact })
		if got := strings.Join(a.cfg.Scopes, " "); got != tc.want || (a.cfg.Prompt == "consent") != tc.wantConsent {
			t.Errorf("Scopes %v exact %v: requested %q prompt %q, want %q", tc.scopes, tc.exact, got, a.cfg.Prompt, tc.want)
		}
	}
}

// A Token held by value (a struct field, a dereferenced pointer) prints,
// logs and marshals as redacted too, not only a *Token.
func TestTokenValueRedacted(t *testing.T) {
	tok := Token{Value: "secret-access-token", Resource: apiResource}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("m", "tok", tok, "in", struct{ T Token }{tok})
	js, err := json.Marshal(struct{ T Token }{tok})
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", tok), "%+v": fmt.Sprintf("%+v", struct{ T Token }{tok}),
		"slog": logs.String(), "json": string(js),
	} {
		if strings.Contains(out, tok.Value) {
			t.Errorf("%s shows the token: %s", name, out)
		}
	}
}
