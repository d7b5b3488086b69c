package oidcauth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSessionRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Unix(1732435200, 0)
	s, idToken, accessToken := typicalSession(t, now)
	b := s.marshal(nil)
	got, err := unmarshalSession(string(b), s.user.Issuer)
	if err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if got.user.Subject != s.user.Subject || got.user.Name != s.user.Name || got.user.Email != s.user.Email ||
		got.user.EmailVerified != true || got.user.Picture != s.user.Picture || got.user.Username != s.user.Username ||
		got.user.Issuer != s.user.Issuer {
		t.Errorf("user = %+v, want %+v", got.user, s.user)
	}
	if got.id != s.id || got.sid != s.sid || got.created != s.created || got.touched != s.touched || got.expiry != s.expiry {
		t.Errorf("session fields differ: got %+v", got)
	}
	if got.idToken.compact() != idToken {
		t.Error("ID token does not round-trip")
	}
	if got.accessToken.compact() != accessToken {
		t.Error("access token does not round-trip")
	}
	if got.refreshToken != s.refreshToken {
		t.Error("refresh token does not round-trip")
	}
	var claims struct {
		Roles []string `json:"roles"`
		Sub   string   `json:"sub"`
	}
	if err := got.user.Claims(&claims); err != nil || claims.Sub != "k3xq9pl2vz8m" || len(claims.Roles) != 2 {
		t.Errorf("Claims = %+v, %v", claims, err)
	}
}

func TestSessionOwnClaims(t *testing.T) {
	t.Parallel()
	s, _, _ := typicalSession(t, time.Unix(1732435200, 0))
	s.user.claims = `{"sub":"k3xq9pl2vz8m","custom_data":{"plan":"pro"}}`
	got, err := unmarshalSession(string(s.marshal(nil)), "iss")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		CustomData struct{ Plan string } `json:"custom_data"`
	}
	if err := got.user.Claims(&c); err != nil || c.CustomData.Plan != "pro" {
		t.Errorf("merged claims lost: %+v %v", c, err)
	}
}

func TestPackToken(t *testing.T) {
	t.Parallel()
	jwt := signRS256(t, map[string]any{"sub": "a"})
	for _, tc := range []struct {
		name, in string
		packed   bool
	}{
		{"compact JWS", jwt, true},
		{"opaque", "Zt3m9Kq2Xv8Lp4Nw7Rb1Yc5Hd6Jf0GsQ2eU4iO6yT8aW", false},
		{"padded segment", strings.Replace(jwt, ".", "=.", 1), false},
		{"two segments", "abc.def", false},
		{"empty payload", "abc..def", false},
		{"not base64", "a*c.def.ghi", false},
		{"line break", jwt[:20] + "\n" + jwt[20:], false},
		{"non-zero trailing bits", nonCanonical(t, jwt), false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := packToken(tc.in)
			if (tok.seg[0] != "") != tc.packed {
				t.Errorf("packed = %v, want %v", tok.seg[0] != "", tc.packed)
			}
			if tok.compact() != tc.in {
				t.Errorf("compact() = %q, want %q", tok.compact(), tc.in)
			}
		})
	}
}

// nonCanonical sets a trailing bit of jwt's last character: the segment
// still decodes leniently, to the same bytes, but is not the canonical
// encoding.
func nonCanonical(t *testing.T, jwt string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, jwt[len(jwt)-1])
	out := jwt[:len(jwt)-1] + string(alphabet[last^1])
	sig := out[strings.LastIndexByte(out, '.')+1:]
	if _, err := base64.RawURLEncoding.DecodeString(sig); err != nil {
		t.Fatalf("the changed signature does not decode leniently: %v", err)
	}
	return out
}

// Every truncation and a flipped format byte must fail cleanly.
func TestUnmarshalSessionRejectsMalformed(t *testing.T) {
	t.Parallel()
	s, _, _ := typicalSession(t, time.Unix(1732435200, 0))
	b := s.marshal(nil)
	for n := 0; n < len(b); n++ {
		if _, err := unmarshalSession(string(b[:n]), "iss"); err == nil {
			t.Fatalf("truncated at %d of %d: no error", n, len(b))
		}
	}
	bad := append([]byte{}, b...)
	bad[0] = 99
	if _, err := unmarshalSession(string(bad), "iss"); err == nil {
		t.Error("unknown format accepted")
	}
	if _, err := unmarshalSession(string(append(b, 0)), "iss"); err == nil {
		t.Error("trailing byte accepted")
	}
	huge := append([]byte{sessionFormat}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
	if _, err := unmarshalSession(string(huge), "iss"); err == nil {
		t.Error("overlong varint accepted")
	}
}

// The budget: a typical Logto session fits one cookie; issue 7's
// target is 3.2 KB.
func TestTypicalSessionFitsOneCookie(t *testing.T) {
	t.Parallel()
	s, idToken, accessToken := typicalSession(t, time.Unix(1732435200, 0))
	if len(idToken) < 1100 || len(accessToken) < 700 {
		t.Fatalf("fixture tokens too small to be typical: id %d, access %d", len(idToken), len(accessToken))
	}
	a := testAuth(t, nil)
	value := a.codec.Seal(a.sessionCookie, s.marshal(nil))
	total := len(a.sessionCookie) + 1 + len(value)
	t.Logf("ID token %d B, access token %d B, cookie %d B", len(idToken), len(accessToken), total)
	if total > 3200 {
		t.Errorf("typical session cookie is %d bytes, want at most 3200", total)
	}
	if !json.Valid([]byte(s.user.claims)) {
		t.Error("claims view of the packed ID token is not JSON")
	}
}

func TestTokenRedacts(t *testing.T) {
	t.Parallel()
	s, idToken, _ := typicalSession(t, time.Now())
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "t", s.idToken, "r", s.accessToken)
	for _, out := range []string{fmt.Sprintf("%v %+v %s", s.idToken, s.accessToken, s.idToken), logs.String()} {
		if strings.Contains(out, idToken[:20]) || strings.Contains(out, s.idToken.seg[2]) || !strings.Contains(out, "redacted") {
			t.Errorf("a token shows through: %s", out)
		}
	}
}

func TestOAuth2SessionRoundTrip(t *testing.T) {
	t.Parallel()
	s := &session{
		id: "0123456789abcdef", provider: "github", created: 100, touched: 200, expiry: 300,
		user: User{Subject: "583231", Name: "Octo Dev", Email: "octo@example.com", Picture: "https://a.example.com/p.png",
			Phone: "+15550100", Issuer: "https://gh.example.com/login/oauth/authorize", OAuth2Provider: "github", claims: `{"id":583231,"login":"octo-dev"}`},
		accessToken: packToken("gho_abc"), refreshToken: "ghr_def",
	}
	got, err := unmarshalSession(string(s.marshal(nil)), "https://a1b2c3.logto.app/oidc")
	if err != nil {
		t.Fatal(err)
	}
	if got.user != s.user || got.provider != "github" || got.accessToken.compact() != "gho_abc" || got.refreshToken != "ghr_def" {
		t.Errorf("round trip: %+v", got.user)
	}
	// An OIDC session keeps the configured issuer, with or without a phone.
	o := &session{id: "0123456789abcdef", user: User{Subject: "u1", Phone: "+1555"}, idToken: packToken("a.b.c")}
	got, err = unmarshalSession(string(o.marshal(nil)), "https://issuer.example.com")
	if err != nil || got.user.Issuer != "https://issuer.example.com" || got.user.OAuth2Provider != "" || got.user.Phone != "+1555" {
		t.Errorf("OIDC session: %+v, %v", got, err)
	}
}

// The session payload decoder, behind the cookie's AEAD: whatever it
// accepts survives a round trip unchanged, and nothing makes it panic.
func FuzzUnmarshalSession(f *testing.F) {
	s, _, _ := typicalSession(f, time.Unix(1_700_000_000, 0))
	f.Add(s.marshal(nil))
	s.user.claims = `{"sub":"k3xq9pl2vz8m","roles":["admin"]}`
	f.Add(s.marshal(nil))
	f.Add([]byte{sessionFormat})
	f.Add([]byte{sessionFormat, 0x80, 0x80, 0x80})
	f.Fuzz(func(t *testing.T, p []byte) {
		s1, err := unmarshalSession(string(p), "https://issuer.example")
		if err != nil {
			return
		}
		s2, err := unmarshalSession(string(s1.marshal(nil)), "https://issuer.example")
		if err != nil {
			t.Fatalf("a session that decoded does not decode after re-encoding: %v", err)
		}
		if !reflect.DeepEqual(s1, s2) {
			t.Fatalf("round trip changed the session:\n%+v\n%+v", s1, s2)
		}
	})
}
