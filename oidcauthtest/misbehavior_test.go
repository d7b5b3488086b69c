package oidcauthtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The knobs the relying party's hostile-provider tests lean on really
// break what they say: a knob that silently did nothing would let those
// tests pass for the wrong reason.
func TestMisbehaviorKeysAndDelays(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{ClientSecret: "sec"})
	header := func() map[string]any {
		t.Helper()
		status, body := c.token(codeForm(c.code("openid"), verifier), "sec")
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, body)
		}
		h, _ := b64.DecodeString(strings.Split(body["id_token"].(string), ".")[0])
		var out map[string]any
		_ = json.Unmarshal(h, &out)
		return out
	}
	if h := header(); h["kid"] == nil {
		t.Fatal("a well-behaved ID token has no kid")
	}
	c.p.Misbehave(Misbehavior{OmitKeyID: true})
	if h := header(); h["kid"] != nil || h["alg"] != "RS256" {
		t.Errorf("OmitKeyID: header %v", h)
	}

	jwks := func() (int, []map[string]any) {
		t.Helper()
		resp, err := c.http.Get(c.p.Issuer() + "/jwks")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var set struct{ Keys []map[string]any }
		_ = json.NewDecoder(resp.Body).Decode(&set)
		return resp.StatusCode, set.Keys
	}
	c.p.Misbehave(Misbehavior{JWKSExtraKeys: []map[string]any{{"kty": "RSA", "kid": "broken", "n": "%%%"}}})
	if status, keys := jwks(); status != http.StatusOK || len(keys) != 2 || keys[1]["kid"] != "broken" {
		t.Errorf("JWKSExtraKeys: %d %v", status, keys)
	}
	c.p.Misbehave(Misbehavior{JWKSStatus: http.StatusBadGateway})
	if status, _ := jwks(); status != http.StatusBadGateway {
		t.Errorf("JWKSStatus: %d", status)
	}

	c.p.Misbehave(Misbehavior{Delay: map[string]time.Duration{"jwks": time.Minute}})
	short := *c.http
	short.Timeout = 100 * time.Millisecond
	if _, err := short.Get(c.p.Issuer() + "/jwks"); err == nil {
		t.Error("Delay: the JWKS answered at once")
	}
	if resp, err := c.http.Get(c.p.Issuer() + "/.well-known/openid-configuration"); err != nil {
		t.Errorf("Delay on jwks held discovery too: %v", err)
	} else {
		resp.Body.Close()
	}
}
