package cookie

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCodecSealOpen(t *testing.T) {
	c, err := NewCodec([][]byte{testKey(1)}, "b")
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("the session payload")
	v := c.Seal("oidcauth", plain)
	if strings.Contains(v, "session") || strings.ContainsAny(v, "=+/.") {
		t.Fatalf("sealed value leaks plaintext or uses non-URL-safe characters: %q", v)
	}
	sc := &Scratch{}
	got, err := c.Open(sc, "oidcauth", v)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open = %q, %v", got, err)
	}
	if v2 := c.Seal("oidcauth", plain); v2 == v {
		t.Error("two seals of the same plaintext are equal: nonce reused")
	}
}

func TestCodecRejects(t *testing.T) {
	c, _ := NewCodec([][]byte{testKey(1)}, "b")
	other, _ := NewCodec([][]byte{testKey(2)}, "b")
	v := c.Seal("oidcauth", []byte("payload"))
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	flip := func(i int) string {
		b := append([]byte{}, raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	for _, tc := range []struct{ name, cookie, value string }{
		{"other cookie name (AAD)", "oidcauth_tx.abc", v},
		{"flipped version", "oidcauth", flip(0)},
		{"flipped key id", "oidcauth", flip(2)},
		{"flipped nonce", "oidcauth", flip(8)},
		{"flipped ciphertext", "oidcauth", flip(codecHeaderLen + 1)},
		{"flipped tag", "oidcauth", flip(len(raw) - 1)},
		{"truncated", "oidcauth", v[:len(v)-3]},
		{"too short", "oidcauth", v[:20]},
		{"empty", "oidcauth", ""},
		{"not base64", "oidcauth", strings.Repeat("*", 60)},
		{"foreign key", "oidcauth", other.Seal("oidcauth", []byte("payload"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := c.Open(&Scratch{}, tc.cookie, tc.value); err == nil {
				t.Errorf("opened %q", got)
			}
		})
	}
}

func TestCodecKeyRotation(t *testing.T) {
	old, _ := NewCodec([][]byte{testKey(1)}, "b")
	rotated, _ := NewCodec([][]byte{testKey(2), testKey(1)}, "b")
	dropped, _ := NewCodec([][]byte{testKey(2)}, "b")
	v := old.Seal("s", []byte("x"))
	if _, err := rotated.Open(&Scratch{}, "s", v); err != nil {
		t.Errorf("rotated codec cannot open a cookie of the previous key: %v", err)
	}
	if _, err := dropped.Open(&Scratch{}, "s", v); err == nil {
		t.Error("a dropped key still opens cookies")
	}
	nv := rotated.Seal("s", []byte("x"))
	if _, err := old.Open(&Scratch{}, "s", nv); err == nil {
		t.Error("rotated codec seals with the old key; the first key must seal")
	}
}

func TestCookieScanner(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Add("Cookie", `a=1; oidcauth=first;b="q"`)
	r.Header.Add("Cookie", "oidcauth=second ; c=3")
	sc := Scan(r, "oidcauth")
	var got []string
	for {
		_, v, ok := sc.Next()
		if !ok {
			break
		}
		got = append(got, v)
	}
	if strings.Join(got, ",") != "first,second" {
		t.Errorf("values = %q", got)
	}
	if v, ok := Value(r, "b"); !ok || v != "q" {
		t.Errorf("quoted cookie = %q, %v", v, ok)
	}
	if _, ok := Value(r, "oidc"); ok {
		t.Error("prefix of a name matched")
	}
	if n := testing.AllocsPerRun(100, func() { Value(r, "c") }); n != 0 {
		t.Errorf("cookieValue allocates %v times", n)
	}
}

// A forged chunk count is refused without allocating for it or panicking.
func TestReadSessionCookieBounds(t *testing.T) {
	for _, head := range []string{"-1.x", "0.x", "1.x", "9.x", "999999999999.x", "x.y", ".x"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: "s", Value: head})
		for i := 1; i <= 9; i++ {
			r.AddCookie(&http.Cookie{Name: ChunkName("s", i), Value: "part"})
		}
		if v, ok := Read(r, "s"); ok || v != "" {
			t.Errorf("head %q read as %q, %v", head, v, ok)
		}
	}
}

// The session's own Set-Cookie writer says exactly what http.SetCookie
// says for the same cookie.
func TestCookieSetMatchesNetHTTP(t *testing.T) {
	for _, secure := range []bool{false, true} {
		o := Options{Secure: secure}
		for _, tc := range []struct {
			name, value string
			maxAge      int
		}{
			{"__Host-oidcauth", "AQAAAAB-_xyz09", 604800},
			{"oidcauth", "3.AQAAAAB-_xyz09", 1},
			{"oidcauth.2", "AQAAAAB-_xyz09", -1},
			{"oidcauth", "AQAAAAB-_xyz09", 0},
		} {
			want := httptest.NewRecorder()
			http.SetCookie(want, o.Cookie(tc.name, tc.value, tc.maxAge))
			got := httptest.NewRecorder()
			o.Set(got, tc.name, tc.value, tc.maxAge)
			if g, w := got.Header().Get("Set-Cookie"), want.Header().Get("Set-Cookie"); g != w {
				t.Errorf("secure %v %+v:\n got %s\nwant %s", secure, tc, g, w)
			}
		}
	}
}

// ChunkValue finds exactly name.i, not names that merely resemble it.
func TestChunkValueExactName(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	for _, n := range []string{"s.1x", "sx1", "t.1", "s.11", "xs.1", "s.2"} {
		r.AddCookie(&http.Cookie{Name: n, Value: "wrong-" + n})
	}
	if v, ok := ChunkValue(r, "s", 1); ok {
		t.Fatalf("found %q without an s.1 cookie", v)
	}
	r.AddCookie(&http.Cookie{Name: "s.1", Value: "right"})
	if v, ok := ChunkValue(r, "s", 1); !ok || v != "right" {
		t.Errorf("s.1 = %q, %v", v, ok)
	}
	if v, ok := ChunkValue(r, "s", 2); !ok || v != "wrong-s.2" {
		t.Errorf("s.2 = %q, %v", v, ok)
	}
}

func testKey(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}
