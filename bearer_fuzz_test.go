package oidcauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// FuzzBearerHeader sends RequireToken any Authorization header. A header
// is let through only when it carries, byte for byte, the one token the
// provider issued (the scheme's case and the spaces before the token may
// vary); anything else gets an RFC 6750 answer, never a panic and never a
// 5xx other than the provider's 503.
func FuzzBearerHeader(f *testing.F) {
	c := newClock()
	idp := oidcauthtest.NewServer(f, oidcauthtest.Options{Now: c.Now, SigningAlg: "ES256"})
	b, err := NewBearer(BearerConfig{Issuer: idp.Issuer(), Resource: testAPI, HTTPClient: idp.Client(), Now: c.Now})
	if err != nil {
		f.Fatal(err)
	}
	good, err := idp.IssueAccessToken(oidcauthtest.AccessToken{Audience: testAPI, Scopes: []string{"write:data"}})
	if err != nil {
		f.Fatal(err)
	}
	h := b.Require(Scope("write:data"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	head, rest, _ := strings.Cut(good, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	for _, seed := range []string{
		"Bearer " + good, "bearer  " + good, "Bearer " + good + "=", "Bearer " + good + ".",
		"Bearer " + head + "." + payload + "." + sig[:len(sig)-2] + "AA", "Bearer " + head + ".." + sig,
		"Bearer eyJhbGciOiJub25lIn0." + payload + ".", "Basic " + good, "Bearer", "Bearer a b", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("POST", "/api/resource", nil)
		r.Header["Authorization"] = []string{header}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		scheme, tok, _ := strings.Cut(header, " ")
		sent := strings.EqualFold(scheme, "Bearer") && strings.TrimLeft(tok, " ") == good
		switch {
		case w.Code == http.StatusNoContent && !sent:
			t.Fatalf("%q let through", header)
		case w.Code == http.StatusNoContent:
		case sent:
			t.Fatalf("the issued token answered %d", w.Code)
		case w.Code != 400 && w.Code != 401:
			t.Fatalf("%q answered %d", header, w.Code)
		case !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer"):
			t.Fatalf("%q answered %d without a Bearer challenge", header, w.Code)
		}
	})
}
