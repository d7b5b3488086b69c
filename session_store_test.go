package oidcauth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/oidcauth/oidcauth/internal/cookie"
	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// Sessions larger than one cookie are chunked, read back whole, and a
// smaller session later clears the stale chunks.
func TestSessionChunking(t *testing.T) {
	t.Parallel()
	a := testAuth(t, nil)
	now := time.Now()
	s, _, _ := typicalSession(t, now)
	s.user.claims = `{"sub":"k3xq9pl2vz8m","blob":"` + strings.Repeat("x", 9000) + `"}`

	rec := httptest.NewRecorder()
	if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), s, true); err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) < 3 {
		t.Fatalf("got %d cookies, want the session split in 3 or more", len(cookies))
	}
	for _, c := range cookies {
		if len(c.Name)+len(c.Value) > cookie.MaxBytes {
			t.Errorf("cookie %s is %d bytes", c.Name, len(c.Name)+len(c.Value))
		}
		if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %s attributes: %+v", c.Name, c)
		}
		if !strings.HasPrefix(c.Name, "__Host-") {
			t.Errorf("https cookie %s lacks the __Host- prefix", c.Name)
		}
	}
	r := sessionRequest("GET", "/", rec)
	got, present := a.readSession(r)
	if got == nil || !present || got.user.claims != s.user.claims {
		t.Fatal("chunked session does not read back")
	}

	// A missing chunk means no session, not a 5xx or a partial session.
	partial := httptest.NewRequest("GET", "/", nil)
	for _, c := range cookies {
		if !strings.HasSuffix(c.Name, ".1") {
			partial.AddCookie(c)
		}
	}
	if got, present := a.readSession(partial); got != nil || !present {
		t.Errorf("session with a missing chunk: %v, present %v", got, present)
	}

	// A small session written over it expires the old chunks.
	small, _, _ := typicalSession(t, now)
	rec2 := httptest.NewRecorder()
	if err := a.writeSession(rec2, r, small, false); err != nil {
		t.Fatal(err)
	}
	cleared := map[string]bool{}
	for _, c := range rec2.Result().Cookies() {
		if c.MaxAge < 0 {
			cleared[c.Name] = true
		}
	}
	for _, c := range cookies[1:] {
		if !cleared[c.Name] {
			t.Errorf("stale chunk %s not cleared", c.Name)
		}
	}

	// A smaller chunked session clears only the chunks it no longer uses.
	fewer, _, _ := typicalSession(t, now)
	fewer.user.claims = `{"sub":"k3xq9pl2vz8m","blob":"` + strings.Repeat("x", 4000) + `"}`
	rec3 := httptest.NewRecorder()
	if err := a.writeSession(rec3, r, fewer, false); err != nil {
		t.Fatal(err)
	}
	set, cleared := map[string]bool{}, map[string]bool{}
	for _, c := range rec3.Result().Cookies() {
		if c.MaxAge < 0 {
			cleared[c.Name] = true
		} else {
			set[c.Name] = true
		}
	}
	if len(set) < 2 || len(set) >= len(cookies) {
		t.Fatalf("the smaller session took %d cookies, the first %d", len(set), len(cookies))
	}
	for _, c := range cookies {
		if !set[c.Name] && !cleared[c.Name] {
			t.Errorf("unused chunk %s neither rewritten nor cleared", c.Name)
		}
		if set[c.Name] && cleared[c.Name] {
			t.Errorf("chunk %s both set and cleared", c.Name)
		}
	}
	if got, _ := a.readSession(sessionRequest("GET", "/", rec3)); got == nil || got.user.claims != fewer.user.claims {
		t.Error("the smaller chunked session does not read back")
	}
}

func TestSessionTooLarge(t *testing.T) {
	t.Parallel()
	a := testAuth(t, nil)
	s, _, _ := typicalSession(t, time.Now())
	s.user.claims = `{"blob":"` + strings.Repeat("x", 40000) + `"}`
	err := a.writeSession(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), s, true)
	if err != ErrSessionTooLarge {
		t.Errorf("err = %v, want ErrSessionTooLarge", err)
	}
}

// The gorilla/sessions seam: a server-side store keeps the session; the
// browser holds only the store's id cookie, and sign-in issues a new id.
func TestStoreSeam(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := sessions.NewFilesystemStore(dir, testKey(9), testKey(10))
	a := testAuth(t, func(c *Config) { c.Store = store })
	s, idToken, _ := typicalSession(t, time.Now())

	rec := httptest.NewRecorder()
	if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), s, true); err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || len(cookies[0].Value) > 400 {
		t.Fatalf("store session cookies = %d (first %d bytes), want one small id cookie", len(cookies), len(cookies[0].Value))
	}
	if strings.Contains(cookies[0].Value, idToken[:40]) {
		t.Fatal("the ID token is in the cookie")
	}
	if c := cookies[0]; !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("store id cookie attributes: %+v", c)
	}
	r := sessionRequest("GET", "/", rec)
	got, _ := a.readSession(r)
	if got == nil || got.idToken.compact() != idToken {
		t.Fatal("store session does not read back")
	}
	files, _ := os.ReadDir(dir)
	if len(files) != 1 {
		t.Fatalf("store holds %d files, want 1", len(files))
	}

	// Sign-in again with the old cookie: a new id, the old record deleted.
	rec2 := httptest.NewRecorder()
	if err := a.writeSession(rec2, r, s, true); err != nil {
		t.Fatal(err)
	}
	files, _ = os.ReadDir(dir)
	if len(files) != 1 {
		t.Errorf("after re-sign-in the store holds %d files, want 1 (old one deleted)", len(files))
	}
	r2 := sessionRequest("GET", "/", rec2)
	if c, _ := r2.Cookie(a.sessionCookie); c == nil || c.Value == cookies[0].Value {
		t.Error("sign-in kept the old session id (fixation)")
	}

	// Sign-out deletes the record.
	a.clearSession(httptest.NewRecorder(), r2)
	if got, _ := a.readSession(r2); got != nil {
		t.Error("session readable after clear, in the same request")
	}
	if got, _ := a.readSession(sessionRequest("GET", "/", rec2)); got != nil {
		t.Error("session readable after clear, in the next request")
	}
}

// A store that only signs (CookieStore without an encryption key) or keeps
// records in the clear holds the session sealed: no token or personal data
// is readable from it.
func TestStoreHoldsSealedSession(t *testing.T) {
	t.Parallel()
	store := sessions.NewCookieStore(testKey(9)) // authentication only
	for _, c := range store.Codecs {
		c.(*securecookie.SecureCookie).MaxLength(0)
	}
	a := testAuth(t, func(c *Config) { c.Store = store })
	s, idToken, _ := typicalSession(t, time.Now())
	rec := httptest.NewRecorder()
	if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), s, true); err != nil {
		t.Fatal(err)
	}
	r := sessionRequest("GET", "/", rec)
	gs, err := store.Get(r, a.sessionCookie)
	if err != nil {
		t.Fatal(err)
	}
	var raw string
	for _, v := range gs.Values {
		if b, ok := v.([]byte); ok {
			raw += string(b)
		} else {
			raw += fmt.Sprint(v)
		}
	}
	if len(raw) < 1000 {
		t.Fatalf("the store holds %d bytes, not the session", len(raw))
	}
	for _, secret := range []string{s.refreshToken, s.user.Email, s.user.Name, idToken[:40], s.idToken.seg[1][:40]} {
		if strings.Contains(raw, secret) {
			t.Errorf("the store holds %q in the clear", secret)
		}
	}
	if got, _ := a.readSession(sessionRequest("GET", "/", rec)); got == nil || got.refreshToken != s.refreshToken {
		t.Error("sealed store session does not read back")
	}
}

// Another deployment sharing the secrets (staging and production, or two
// apps on localhost) cannot pass its cookies off as this app's sessions.
func TestCookiesBoundToIssuerAndClient(t *testing.T) {
	t.Parallel()
	s, _, _ := typicalSession(t, time.Now())
	a := testAuth(t, nil)
	rec := httptest.NewRecorder()
	if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), s, true); err != nil {
		t.Fatal(err)
	}
	r := sessionRequest("GET", "/", rec)
	if got, _ := a.readSession(r); got == nil {
		t.Fatal("own cookie refused")
	}
	for name, mutate := range map[string]func(*Config){
		"other issuer": func(c *Config) { c.Issuer = "https://z9y8x7.logto.app/oidc" },
		"other client": func(c *Config) { c.ClientID = "another-app" },
	} {
		other := testAuth(t, mutate)
		if got, present := other.readSession(r); got != nil || !present {
			t.Errorf("%s: cookie accepted (%v) or not seen (%v)", name, got != nil, present)
		}
	}
}

// A cookie value whose last character differs only in bits base64 leaves
// unused decodes to the same bytes under lenient decoding; strict decoding
// refuses it, so a session has one cookie value (and one cache entry).
func TestCookieValueCanonical(t *testing.T) {
	t.Parallel()
	a := testAuth(t, nil)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for size := 40; size < 43; size++ {
		value := a.codec.Seal("c", make([]byte, size))
		sc := &cookie.Scratch{}
		if _, err := a.codec.Open(sc, "c", value); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if len(value)%4 == 0 {
			continue // no unused bits
		}
		last := strings.IndexByte(alphabet, value[len(value)-1])
		twin := value[:len(value)-1] + string(alphabet[last^1])
		if _, err := a.codec.Open(sc, "c", twin); err == nil {
			t.Errorf("size %d: a non-canonical twin of the cookie opened", size)
		}
	}
}

func TestHTTPLocalhostCookies(t *testing.T) {
	t.Parallel()
	a := testAuth(t, func(c *Config) {
		c.Issuer, c.RedirectURL = "http://localhost:3000/dev-idp", "http://localhost:3000/callback"
	})
	s, _, _ := typicalSession(t, time.Now())
	rec := httptest.NewRecorder()
	if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), s, true); err != nil {
		t.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	if c.Name != "oidcauth" || c.Secure || !c.HttpOnly {
		t.Errorf("http cookie: %+v", c)
	}
}

func TestKeyRotationAcrossRestart(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	r, _ := http.NewRequest("GET", f.app.URL, nil)
	u, _ := url.Parse(f.app.URL)
	for _, c := range f.jar.Cookies(u) {
		r.AddCookie(c)
	}
	rotated := testAuth(t, func(c *Config) {
		*c = f.auth.cfg
		c.SessionKeys = [][]byte{testKey(5), testKey(1)}
	})
	if s, _ := rotated.readSession(r); s == nil {
		t.Error("session sealed with the previous key refused after rotation")
	}
	dropped := testAuth(t, func(c *Config) {
		*c = f.auth.cfg
		c.SessionKeys = [][]byte{testKey(5)}
	})
	if s, _ := dropped.readSession(r); s != nil {
		t.Error("session accepted after its key was dropped")
	}
}

// Whole Cookie headers, as a browser or an attacker sends them: reading the
// session and the pending sign-ins never panics, and nothing but a cookie
// this app sealed opens.
func FuzzCookieHeader(f *testing.F) {
	a := testAuth(f, nil)
	s, _, _ := typicalSession(f, time.Now())
	good := a.codec.Seal(a.sessionCookie, s.marshal(nil))
	f.Add(a.sessionCookie + "=" + good)
	f.Add(a.sessionCookie + "=" + good[:100] + "; " + a.sessionCookie + ".1=" + good[100:])
	f.Add(a.sessionCookie + "=x; " + a.sessionCookie + "=" + good)
	f.Add(a.txPrefix + "AAAAAAAAAAAAAAAA=" + good + "; other=1")
	f.Add(`a="b"; ` + a.sessionCookie + `=""; ;;=`)
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", header)
		// The only session ever sealed under this key is s (the seeds may
		// come from another process, with another nonce): anything else
		// that opens is a forgery.
		if got, _ := a.readSession(r); got != nil && (got.id != s.id || got.user != s.user || got.refreshToken != s.refreshToken) {
			t.Fatalf("a forged session opened: %+v", got.user)
		}
		// The pending sign-ins are read and evicted at sign-in.
		a.saveTransaction(httptest.NewRecorder(), r, newTransaction("/", time.Now()))
	})
}
