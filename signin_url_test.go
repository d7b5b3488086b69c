package oidcauth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// SignInURL is Logto's signIn returning a URL: the transaction is still
// bound to this browser's cookie, so only this browser can finish it.
func TestSignInURL(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		target, err := f.auth.SignInURL(w, r, WithReturnTo("/profile"), WithLoginHint("ada@example.com"))
		if err != nil {
			http.Error(w, err.Error(), ErrorStatus(err))
			return
		}
		io.WriteString(w, target)
	})
	resp := f.get("/start")
	wantStatus(t, resp, http.StatusOK)
	if resp.Header.Get("Cache-Control") != "no-store" || f.txCookies() != 1 {
		t.Errorf("Cache-Control %q, %d transaction cookies", resp.Header.Get("Cache-Control"), f.txCookies())
	}
	authz, err := url.Parse(body(t, resp))
	if err != nil || !strings.HasPrefix(authz.String(), f.idp.Issuer()+"/auth?") || authz.Query().Get("login_hint") != "ada@example.com" || authz.Query().Get("code_challenge") == "" {
		t.Fatalf("SignInURL = %s (%v)", authz, err)
	}

	// Another browser cannot finish it.
	other := &http.Client{Transport: f.client.Transport, CheckRedirect: f.client.CheckRedirect}
	cb := location(t, f.get(authz.String()))
	resp, err = other.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantStatus(t, resp, http.StatusBadRequest)

	// This one can, with a fresh URL (the first state was spent).
	resp = f.get("/start")
	cb = location(t, f.get(body(t, resp)))
	resp = f.get(cb.String())
	wantStatus(t, resp, http.StatusSeeOther)
	if resp.Header.Get("Location") != "/profile" {
		t.Errorf("landed on %q", resp.Header.Get("Location"))
	}
}

// /sign-in passes Logto's sign-in parameters through from its query
// string, each checked; anything else stays behind.
func TestSignInHandlerLogtoParams(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	for _, tc := range []struct {
		query string
		want  url.Values // expected on the authorization request; absent keys must be absent
		keys  []string
	}{
		{"first_screen=register&identifier=email+phone&login_hint=ada%40example.com&direct_sign_in=social%3Agoogle&ui_locales=fr-CA+en&interaction_mode=signUp",
			url.Values{"first_screen": {"register"}, "identifier": {"email phone"}, "login_hint": {"ada@example.com"}, "direct_sign_in": {"social:google"}, "ui_locales": {"fr-CA en"}, "interaction_mode": {"signUp"}}, nil},
		{"first_screen=identifier%3Asign_in&direct_sign_in=sso%3Aabc123&interaction_mode=signIn",
			url.Values{"first_screen": {"identifier:sign_in"}, "direct_sign_in": {"sso:abc123"}, "interaction_mode": {"signIn"}}, nil},
		{"first_screen=admin&identifier=email+password&direct_sign_in=google&ui_locales=%3Cscript%3E&interaction_mode=x&login_hint=" + strings.Repeat("a", 300),
			url.Values{}, []string{"first_screen", "identifier", "direct_sign_in", "ui_locales", "interaction_mode", "login_hint"}},
		{"prompt=none&scope=admin&state=x&redirect_uri=https%3A%2F%2Fevil.example&resource=https%3A%2F%2Fx",
			url.Values{"prompt": {"consent"}}, []string{"resource"}},
	} {
		resp := f.get("/sign-in?" + tc.query)
		wantStatus(t, resp, http.StatusSeeOther)
		q := location(t, resp).Query()
		for k, v := range tc.want {
			if q.Get(k) != v[0] {
				t.Errorf("%s: %s = %q, want %q", tc.query, k, q.Get(k), v[0])
			}
		}
		for _, k := range tc.keys {
			if q.Has(k) {
				t.Errorf("%s: %s passed through as %q", tc.query, k, q.Get(k))
			}
		}
		if q.Get("scope") != "openid profile email offline_access" || !strings.HasSuffix(q.Get("redirect_uri"), "/callback") || len(q["state"]) != 1 {
			t.Errorf("%s: protocol parameters changed: %v", tc.query, q)
		}
	}
}

// Logto's endpoint as its SDKs take it (a custom domain, no /oidc) is not
// its issuer: discovery fails, and the error names the issuer to use. A
// Logto Cloud endpoint is refused at New with the same advice.
func TestLogtoEndpointExplained(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	a := testAuth(t, func(c *Config) { c.Issuer = srv.URL; c.RedirectURL = "http://localhost:3000/callback" })
	err := a.Discover(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the issuer is the endpoint plus /oidc: "+srv.URL+"/oidc") {
		t.Errorf("Discover: %v", err)
	}
	_, err = New(Config{Issuer: "https://a1b2c3.logto.app", ClientID: "c", RedirectURL: "https://app.example.com/callback", SessionKeys: [][]byte{testKey(1)}})
	if err == nil || !strings.Contains(err.Error(), "https://a1b2c3.logto.app/oidc") {
		t.Errorf("New: %v", err)
	}
}
