package oidcauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// The adversarial review of issue 14 (SECURITY.md lists each item and its
// outcome); the tests here are the items no other file already covered.

// A sign-in transaction started on another deployment of the app (staging,
// same provider app and SessionKeys, another origin) is foreign at this
// one's callback: 400, the code never redeemed.
func TestTransactionFromAnotherDeployment(t *testing.T) {
	t.Parallel()
	staging := newFlow(t, oidcauthtest.Options{}, nil)
	back := staging.startSignIn("/sign-in") // staging's transaction cookie is in the jar
	cfg := staging.auth.cfg
	cfg.RedirectURL = "https://app.example.com/callback"
	production, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "https://app.example.com/callback?"+back.RawQuery, nil)
	u, _ := url.Parse(staging.app.URL)
	for _, c := range staging.jar.Cookies(u) {
		r.AddCookie(c)
	}
	tokens := staging.idp.Calls("token")
	rec := httptest.NewRecorder()
	production.CallbackHandler().ServeHTTP(rec, r)
	if rec.Code != http.StatusBadRequest || staging.idp.Calls("token") != tokens {
		t.Errorf("production's callback answered %d to staging's transaction (%d token calls)", rec.Code, staging.idp.Calls("token")-tokens)
	}
}

// Two chunked sessions spliced (the head of one, the continuation of the
// other) are no session: the seal covers the joined value.
func TestChunkSplicing(t *testing.T) {
	t.Parallel()
	a := testAuth(t, nil)
	now := time.Now()
	chunked := func(id string) []*http.Cookie {
		s, _, _ := typicalSession(t, now)
		s.id = id
		s.user.claims = `{"sub":"k3xq9pl2vz8m","blob":"` + strings.Repeat(id, 9000/len(id)) + `"}`
		rec := httptest.NewRecorder()
		if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), s, true); err != nil {
			t.Fatal(err)
		}
		return rec.Result().Cookies()
	}
	one, two := chunked("session-one-0001"), chunked("session-two-0002")
	if len(one) < 2 || len(one) != len(two) {
		t.Fatalf("sessions of %d and %d chunks", len(one), len(two))
	}
	for i := 1; i < len(one); i++ {
		r := httptest.NewRequest("GET", "/", nil)
		for j, c := range one {
			if j == i {
				c = two[j]
			}
			r.AddCookie(c)
		}
		if s, present := a.readSession(r); s != nil || !present {
			t.Errorf("chunk %d of another session spliced in: session %v", i, s != nil)
		}
	}
}

// Every redirect the new flows emit stays on the app's origin: a silent
// sign-in's fallback and a step-up's return.
func TestNewRedirectsStayOnOrigin(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	f.idp.Misbehave(oidcauthtest.Misbehavior{AuthorizeError: "login_required"})
	for _, evil := range []string{"//evil.example/x", "/\\evil.example", "https://evil.example/", "/%2F%2Fevil.example"} {
		// Each a first silent attempt (a second would be interactive).
		f.jar.SetCookies(f.request("/").URL, []*http.Cookie{{Name: f.auth.silentCookie(), Value: "", MaxAge: -1}})
		resp := f.get("/sign-in?silent=1&returnTo=" + url.QueryEscape(evil))
		if resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(location(t, resp).String(), f.idp.Issuer()) {
			back := f.get(location(t, resp).String())
			resp = f.get(location(t, back).String())
		}
		// An encoded slash is a path character, not a separator.
		if loc := location(t, resp); loc.Host != "" || loc.Scheme != "" || strings.HasPrefix(loc.String(), "//") || strings.Contains(loc.String(), "\\") {
			t.Errorf("returnTo %q: the silent fallback goes to %s", evil, loc)
		}
	}
}
