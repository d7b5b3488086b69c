package oidcauth

import (
	"net/http"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

func TestSignInOptions(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) { c.AuthParams = map[string]string{"identifier": "email"} })
	f.startSignIn("/sign-in?first_screen=register&login_hint=ada%40example.com&interaction_mode=signUp&prompt=none&state=x")
	q := f.idp.LastAuthorizeRequest()
	for k, want := range map[string]string{"first_screen": "register", "login_hint": "ada@example.com", "interaction_mode": "signUp", "identifier": "email", "prompt": "consent"} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if q.Get("state") == "x" {
		t.Error("a query parameter replaced the state")
	}
	f.startSignIn("/sign-in?first_screen=javascript:x")
	if got := f.idp.LastAuthorizeRequest().Get("first_screen"); got != "" {
		t.Errorf("unknown first_screen passed through: %q", got)
	}

	// Programmatic sign-in with options.
	f.app.Config.Handler.(*http.ServeMux).HandleFunc("/join", func(w http.ResponseWriter, r *http.Request) {
		f.auth.SignIn(w, r, WithFirstScreen("identifier:register"), WithPrompt("login"), WithAuthParam("nonce", "evil"), WithReturnTo("/welcome"))
	})
	resp := f.get("/join")
	wantStatus(t, resp, http.StatusSeeOther)
	q = location(t, resp).Query()
	if q.Get("first_screen") != "identifier:register" || q.Get("prompt") != "login" || q.Get("nonce") == "evil" {
		t.Errorf("SignIn options: %v", q)
	}
	resp = f.get(location(t, resp).String())
	resp = f.get(location(t, resp).String())
	if got := location(t, resp).String(); got != "/welcome" {
		t.Errorf("WithReturnTo landed on %q", got)
	}
}
