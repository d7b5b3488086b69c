package oidcauth

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// The back-channel logout endpoint, fed arbitrary logout_token values
// derived from tokens signed with a key the provider never published: no
// input may panic, be accepted, or revoke anything, since no mutation can
// forge the signature.
func FuzzLogoutToken(f *testing.F) {
	idp := oidcauthtest.NewServer(f, oidcauthtest.Options{ClientSecret: "s3cr3t"})
	a, err := New(Config{
		Issuer: idp.Issuer(), ClientID: oidcauthtest.DefaultClientID, ClientSecret: "s3cr3t",
		RedirectURL: "https://app.example.com/callback", SessionKeys: [][]byte{testKey(1)},
		HTTPClient: idp.Client(), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	h := a.BackChannelLogoutHandler()
	for _, o := range []oidcauthtest.LogoutTokenOptions{
		{Subject: "u-1", SID: "sid-1"},
		{SID: "sid-2", Typ: "JWT"},
		{Subject: "u-3", Claims: func(c map[string]any) { c["nonce"] = "n" }},
	} {
		o.Misbehavior = oidcauthtest.Misbehavior{SignWithUnknownKey: true}
		tok, err := idp.LogoutToken(o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1In0.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		body := url.Values{"logout_token": {tok}}.Encode()
		r := httptest.NewRequest("POST", "https://app.example.com/backchannel-logout", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		// 400, or 503 for a key the key set does not hold (the provider
		// would retry): never 200, never a fault.
		if w.Code != http.StatusBadRequest && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d for a token no key signed", w.Code)
		}
		if n := a.cfg.Revocations.(*MemoryRevocations).len(); n != 0 {
			t.Fatalf("%d revocations recorded from an unsigned token", n)
		}
	})
}

// Plain OAuth 2.0 profiles: whatever JSON a provider sends, mapping never
// panics, and a mapped profile always has a usable id, so no session can
// have an empty subject.
func FuzzMapProfile(f *testing.F) {
	for _, name := range []string{"testdata/oauth2/github-user.json", "testdata/oauth2/nested-profile.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "id", "name")
	}
	f.Add([]byte(`{"data":{"user":{"id":12345678901234567890}}}`), "data.user.id", "data.user.name")
	f.Add([]byte(`{"id":1.5e3,"users":[{"id":"x"}]}`), "users.0.id", "users.1.name")
	f.Add([]byte(`[]`), "id", "")
	f.Fuzz(func(t *testing.T, raw []byte, idPath, namePath string) {
		p, err := mapProfile(raw, ProfileMap{ID: idPath, Name: namePath, Avatar: "avatar_url", Email: "email", Phone: "phone"})
		if err != nil {
			return
		}
		if p.id == "" || len(p.id) > 255 {
			t.Fatalf("mapped a profile with id %q", p.id)
		}
		if !utf8.ValidString(p.raw) && utf8.Valid(raw) {
			t.Fatalf("the kept profile lost its encoding")
		}
	})
}

// Logto connector JSON: any input is either refused with an error or gives
// a provider; nothing panics.
func FuzzParseOAuth2Provider(f *testing.F) {
	b, err := os.ReadFile("testdata/oauth2/logto-github-connector.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"profileMap":{"id":"data.id"},"customConfig":{"a":"b"}}`))
	f.Add([]byte(`{"clientSecretJwtSigningAlgorithm":5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseOAuth2Provider("fuzz", data)
		if err == nil && p.Name != "fuzz" {
			t.Fatalf("parsed provider named %q", p.Name)
		}
	})
}
