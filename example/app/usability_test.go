package app

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func newDevApp(t *testing.T, env map[string]string) *App {
	t.Helper()
	a, err := newApp(func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// ADDR alone moves the whole app, provider and redirect URI included;
// BASE_URL, when set, stays as given.
func TestAddrAloneMovesBaseURL(t *testing.T) {
	for _, tc := range []struct{ addr, base, wantAddr, wantBase string }{
		{"localhost:3103", "", "localhost:3103", "http://localhost:3103"},
		{"127.0.0.1:3104", "", "127.0.0.1:3104", "http://127.0.0.1:3104"},
		{":3105", "", ":3105", "http://localhost:3105"},
		{"0.0.0.0:3106", "", "0.0.0.0:3106", "http://localhost:3106"},
		{":3107", "http://localhost:4000", ":3107", "http://localhost:4000"},
		{"", "", "localhost:3000", "http://localhost:3000"},
	} {
		a := newDevApp(t, map[string]string{"ADDR": tc.addr, "BASE_URL": tc.base})
		if a.addr != tc.wantAddr || a.baseURL != tc.wantBase || !strings.Contains(a.providerNote, tc.wantBase+"/dev-idp") {
			t.Errorf("ADDR=%q BASE_URL=%q: listens on %q, base %q (%s); want %q, %q", tc.addr, tc.base, a.addr, a.baseURL, a.providerNote, tc.wantAddr, tc.wantBase)
		}
	}
	if _, err := newApp(func(k string) string { return map[string]string{"ADDR": "3103"}[k] }, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "ADDR") {
		t.Errorf("ADDR without a colon: %v", err)
	}
}

// A busy port fails before anything claims to listen, naming ADDR.
func TestBusyPortNamesADDR(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	a := newDevApp(t, map[string]string{"ADDR": busy.Addr().String()})
	ln, err := a.Listen()
	if err == nil {
		ln.Close()
		t.Fatal("listened on a busy port")
	}
	if msg := err.Error(); !strings.Contains(msg, "ADDR="+busy.Addr().String()) || !strings.Contains(msg, "in use") {
		t.Errorf("error %q does not name ADDR and the busy port", msg)
	}
}

// After signing out the home page says so, once.
func TestSignedOutNotice(t *testing.T) {
	b := startApp(t, map[string]string{})
	resp, _ := b.signIn("/sign-in", "approve")
	b.want(resp, http.StatusSeeOther)
	resp, _ = b.do("POST", "/sign-out", url.Values{}, http.Header{"Origin": {b.base}, "Sec-Fetch-Site": {"same-origin"}})
	b.want(resp, http.StatusSeeOther)
	resp, _ = b.do("GET", resp.Header.Get("Location"), nil, nil)
	b.want(resp, http.StatusFound)
	resp, page := b.do("GET", "/", nil, nil)
	b.want(resp, http.StatusOK)
	if !strings.Contains(page, `id="signed-out"`) {
		t.Errorf("no signed-out notice:\n%s", page)
	}
	if _, page = b.do("GET", "/", nil, nil); strings.Contains(page, `id="signed-out"`) {
		t.Error("the notice shows again on the next visit")
	}
}

// Signed out, the pages link nowhere that answers raw 401 JSON.
func TestNoDeadEndLinks(t *testing.T) {
	b := startApp(t, map[string]string{})
	_, page := b.do("GET", "/", nil, nil)
	if strings.Contains(page, `href="/api/`) {
		t.Errorf("the anonymous home page links to the API:\n%s", page)
	}
	resp, _ := b.signIn("/sign-in", "approve")
	b.want(resp, http.StatusSeeOther)
	if _, page = b.do("GET", "/", nil, nil); !strings.Contains(page, `href="/api/me"`) {
		t.Errorf("the signed-in home page lacks the API links:\n%s", page)
	}
}

var isoTime = regexp.MustCompile(`20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC`)

// The profile shows times as dates, and no empty rows.
func TestProfileReadable(t *testing.T) {
	b := startApp(t, map[string]string{})
	resp, _ := b.do("GET", "/sign-in", nil, nil)
	_, form := b.do("GET", resp.Header.Get("Location"), nil, nil)
	m := interactionField.FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("no login form:\n%s", form)
	}
	// Another e-mail is another user, without a username.
	resp, _ = b.do("POST", "/dev-idp/auth/interaction", url.Values{"interaction": {m[1]}, "action": {"approve"}, "name": {"Ada"}, "email": {"ada@example.com"}}, nil)
	resp, _ = b.do("GET", resp.Header.Get("Location"), nil, nil)
	b.want(resp, http.StatusSeeOther)
	_, page := b.do("GET", "/profile", nil, nil)
	if strings.Contains(page, "<th>Username</th>") {
		t.Errorf("an empty Username row:\n%s", page)
	}
	if !isoTime.MatchString(page) || !strings.Contains(page, `<th>exp</th>`) {
		t.Errorf("no readable times:\n%s", page)
	}
}

// /api/token shows the expiry and scopes of any token, a JWT's claims, and
// which resources it can be asked for.
func TestAPITokenDescribes(t *testing.T) {
	b := startApp(t, map[string]string{})
	resp, _ := b.signIn("/sign-in", "approve")
	b.want(resp, http.StatusSeeOther)
	var got struct {
		Format    string         `json:"format"`
		ExpiresAt string         `json:"expires_at"`
		ExpiresIn int            `json:"expires_in"`
		Scopes    []string       `json:"scopes"`
		Claims    map[string]any `json:"claims"`
		Resources []string       `json:"resources"`
		Hint      string         `json:"hint"`
	}
	_, page := b.do("GET", "/api/token", nil, http.Header{"Accept": {"application/json"}})
	if err := json.Unmarshal([]byte(page), &got); err != nil || got.Format != "opaque" || !isoTime.MatchString(got.ExpiresAt) || got.ExpiresIn < 3000 ||
		len(got.Scopes) == 0 || len(got.Resources) != 1 || !strings.Contains(got.Hint, "?resource=") {
		t.Errorf("/api/token = %s (%v)", page, err)
	}
	_, page = b.do("GET", "/api/token?resource=https%3A%2F%2Fapi.example.com", nil, http.Header{"Accept": {"application/json"}})
	got.Hint = ""
	if err := json.Unmarshal([]byte(page), &got); err != nil || got.Format != "jwt" || got.Claims["aud"] != "https://api.example.com" || !isoTime.MatchString(got.ExpiresAt) || len(got.Scopes) == 0 || got.Hint != "" {
		t.Errorf("/api/token?resource= = %s (%v)", page, err)
	}
}
