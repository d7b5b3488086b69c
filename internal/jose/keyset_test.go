package jose

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var b64 = base64.RawURLEncoding.EncodeToString

func rsaJWK(kid string, k *rsa.PublicKey, extra string) string {
	return fmt.Sprintf(`{"kty":"RSA","kid":%q,%s"n":%q,"e":%q}`, kid, extra, b64(k.N.Bytes()), b64(big.NewInt(int64(k.E)).Bytes()))
}

func ecJWK(kid string, k *ecdsa.PublicKey) string {
	point, _ := k.Bytes() // 0x04 | X | Y
	n := (len(point) - 1) / 2
	return fmt.Sprintf(`{"kty":"EC","kid":%q,"crv":%q,"x":%q,"y":%q}`, kid, k.Curve.Params().Name, b64(point[1:1+n]), b64(point[1+n:]))
}

// Which keys of a JWKS are kept: usable signing keys only, each judged on
// its own by go-jose and then by usable (RFC 7517 §5), never more than
// MaxKeys.
func TestParseJWKS(t *testing.T) {
	k := keys()
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := rsaJWK("rsa", &k.rsa.PublicKey, "")
	ec := ecJWK("ec", &k.p256.PublicKey)
	point, _ := k.p256.PublicKey.Bytes()
	ed := fmt.Sprintf(`{"kty":"OKP","kid":"ed","crv":"Ed25519","x":%q}`, b64(k.ed.Public().(ed25519.PublicKey)))
	private := strings.Replace(good, `"kid":"rsa"`, fmt.Sprintf(`"kid":"private","d":%q,"p":%q,"q":%q`,
		b64(k.rsa.D.Bytes()), b64(k.rsa.Primes[0].Bytes()), b64(k.rsa.Primes[1].Bytes())), 1)
	for _, tc := range []struct {
		name string
		keys []string
		want []string // kids kept, in order; nil means an error
	}{
		{"RSA, EC and Ed25519", []string{good, ec, ed}, []string{"rsa", "ec", "ed"}},
		{"RSA under 2048 bits skipped", []string{rsaJWK("weak", &weak.PublicKey, ""), good}, []string{"rsa"}},
		{"encryption key skipped", []string{rsaJWK("enc", &k.rsa.PublicKey, `"use":"enc",`), ec}, []string{"ec"}},
		{"encryption algorithm skipped", []string{rsaJWK("oaep", &k.rsa.PublicKey, `"alg":"RSA-OAEP",`), ec}, []string{"ec"}},
		{"signing algorithm kept", []string{rsaJWK("rs", &k.rsa.PublicKey, `"alg":"RS256","use":"sig",`)}, []string{"rs"}},
		{"symmetric key skipped", []string{`{"kty":"oct","kid":"hmac","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`, ec}, []string{"ec"}},
		{"private key skipped", []string{private, ec}, []string{"ec"}},
		{"point off the curve skipped", []string{strings.Replace(ec, b64(point[33:]), b64(make([]byte, 32)), 1), good}, []string{"rsa"}},
		{"even exponent skipped", []string{strings.Replace(good, `"e":"AQAB"`, `"e":"AQAA"`, 1), ec}, []string{"ec"}},
		{"exponent over 32 bits skipped", []string{strings.Replace(good, `"e":"AQAB"`, `"e":"AQAAAAE"`, 1), ec}, []string{"ec"}},
		{"unknown kty skipped", []string{`{"kty":"XYZ","kid":"x"}`, ec}, []string{"ec"}},
		{"not even an object skipped", []string{`"x"`, `[1]`, ec}, []string{"ec"}},
		{"nothing usable", []string{`{"kty":"oct","k":"c2VjcmV0"}`}, nil},
		{"empty set", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := parseJWKS([]byte(`{"keys":[` + strings.Join(tc.keys, ",") + `]}`))
			if tc.want == nil {
				if err == nil {
					t.Fatalf("kept %d keys, want an error", len(keys))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.KeyID)
			}
			if strings.Join(kids, ",") != strings.Join(tc.want, ",") {
				t.Errorf("kept %v, want %v", kids, tc.want)
			}
		})
	}
	var many []string
	for range MaxKeys + 10 {
		many = append(many, ec)
	}
	if keys, _ := parseJWKS([]byte(`{"keys":[` + strings.Join(many, ",") + `]}`)); len(keys) != MaxKeys {
		t.Errorf("kept %d keys of %d, want %d", len(keys), len(many), MaxKeys)
	}
	if _, err := parseJWKS([]byte(`<html>`)); err == nil {
		t.Error("an HTML page parsed as a key set")
	}
}

// jwksServer serves a JWKS the test changes, counting fetches; fail makes
// it answer 503. A fetch waits while hold is set.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    string
	fail    bool
	fetches atomic.Int32
	hold    chan struct{}
}

func newJWKSServer(t *testing.T, keys ...string) *jwksServer {
	s := &jwksServer{}
	s.set(keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, fail, hold := s.body, s.fail, s.hold
		s.mu.Unlock()
		if hold != nil {
			<-hold
		}
		if fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys ...string) {
	s.mu.Lock()
	s.body = `{"keys":[` + strings.Join(keys, ",") + `]}`
	s.mu.Unlock()
}

func (s *jwksServer) down(fail bool) {
	s.mu.Lock()
	s.fail = fail
	s.mu.Unlock()
}

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// An unknown kid refetches the JWKS at once after a load, then at most
// once per RefetchCooldown; a new key published meanwhile is picked up
// after it.
func TestKeySetRefetchCooldown(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, ecJWK("k1", &k.p256.PublicKey))
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	set := NewKeySet(srv.URL, srv.Client(), c.Now)
	ctx := context.Background()
	tok := func(kid string, key *ecdsa.PrivateKey) string {
		return sign(t, `{"alg":"ES256","kid":"`+kid+`"}`, `{}`, key, "ES256", 0)
	}
	if _, _, err := set.Verify(ctx, tok("k1", k.p256), Algorithms); err != nil {
		t.Fatal(err)
	}
	p256b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv.set(ecJWK("k1", &k.p256.PublicKey), ecJWK("k2", &p256b.PublicKey))
	// The rotation is picked up at once: the first refetch after a load.
	if _, _, err := set.Verify(ctx, tok("k2", p256b), Algorithms); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	for range 20 {
		if _, _, err := set.Verify(ctx, tok("nope", p256b), Algorithms); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("unknown kid: %v, want ErrUnknownKey", err)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches within the cooldown, want 2", n)
	}
	// A bad signature with a known kid fetches nothing.
	if _, _, err := set.Verify(ctx, tok("k1", p256b), Algorithms); !errors.Is(err, ErrBadSignature) {
		t.Errorf("known kid, other key: %v", err)
	}
	c.Advance(RefetchCooldown)
	set.Verify(ctx, tok("nope", p256b), Algorithms)
	if n := srv.fetches.Load(); n != 3 {
		t.Errorf("%d fetches after the cooldown, want 3", n)
	}
	if !set.Holds("k2") || !set.Holds("") || set.Holds("nope") {
		t.Error("Holds disagrees with the keys loaded")
	}
}

// While the JWKS endpoint fails, cached keys keep verifying; until a
// first JWKS loads, the fetch is retried after RetryInterval.
func TestKeySetOutages(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, ecJWK("k1", &k.p256.PublicKey))
	srv.down(true)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	set := NewKeySet(srv.URL, srv.Client(), c.Now)
	ctx := context.Background()
	good := sign(t, `{"alg":"ES256","kid":"k1"}`, `{}`, k.p256, "ES256", 0)
	if _, _, err := set.Verify(ctx, good, Algorithms); err == nil || set.Holds("") {
		t.Fatalf("verified with the JWKS down: %v", err)
	}
	srv.down(false)
	if _, _, err := set.Verify(ctx, good, Algorithms); !errors.Is(err, ErrNoKeys) {
		t.Errorf("within RetryInterval: %v, want ErrNoKeys", err)
	}
	c.Advance(RetryInterval)
	if _, _, err := set.Verify(ctx, good, Algorithms); err != nil {
		t.Fatalf("after RetryInterval: %v", err)
	}
	srv.down(true)
	c.Advance(RefetchCooldown)
	set.Verify(ctx, sign(t, `{"alg":"ES256","kid":"new"}`, `{}`, k.p256, "ES256", 0), Algorithms) // a refetch that fails
	if _, _, err := set.Verify(ctx, good, Algorithms); err != nil {
		t.Errorf("a cached key during an outage: %v", err)
	}
	if n := srv.fetches.Load(); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
}

// However many verifications wait for keys, one fetch runs; one waiter
// giving up does not fail the others.
func TestKeySetOneFetchInFlight(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, ecJWK("k1", &k.p256.PublicKey))
	srv.mu.Lock()
	srv.hold = make(chan struct{})
	srv.mu.Unlock()
	set := NewKeySet(srv.URL, srv.Client(), nil)
	good := sign(t, `{"alg":"ES256","kid":"k1"}`, `{}`, k.p256, "ES256", 0)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := set.Verify(gone, good, Algorithms); !errors.Is(err, context.Canceled) {
		t.Errorf("a canceled wait: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, _, err := set.Verify(context.Background(), good, Algorithms)
			errs <- err
		})
	}
	close(srv.hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}
