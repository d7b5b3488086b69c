package oidcauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

const (
	// keyRefetchCooldown spaces JWKS refetches caused by unknown key ids.
	keyRefetchCooldown = time.Minute
	// keyRetry spaces fetches while no key set has loaded yet.
	keyRetry = 5 * time.Second
	// keyFetchTimeout bounds one JWKS fetch, whoever waits for it.
	keyFetchTimeout = 5 * time.Second
	// maxKeys bounds how many keys of a JWKS are kept.
	maxKeys = 64
)

var (
	errUnknownKey   = errors.New("oidcauth: ID token signed with a key the provider does not publish")
	errBadKeyID     = errors.New("oidcauth: ID token header is malformed")
	errNoKeys       = errors.New("oidcauth: the provider's JWKS could not be loaded; retrying shortly")
	errBadSignature = errors.New("oidcauth: signature does not verify")
)

// keySet verifies JWS signatures with the provider's JWKS (RFC 7517),
// fetched on first use and cached. It replaces go-oidc's remote key set,
// which fetches the JWKS again for every token whose key id it does not
// know: a flood of tokens with made-up key ids would become a flood of
// requests to the provider. Here an unknown key id causes at most one
// refetch per keyRefetchCooldown (the first after a load is immediate, so
// a real rotation is picked up at once, OIDC Core §10.1.1); keys already
// cached keep working while the JWKS endpoint fails; and a key that cannot
// be parsed or used is skipped instead of failing the whole set (RFC 7517
// §5). Algorithm checks stay with go-oidc's verifier, which calls this.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	keys      []publicKey
	loaded    bool      // a fetch has succeeded
	nextFetch time.Time // no fetch starts before this
	inflight  *keyFetch
}

type publicKey struct {
	kid string
	key crypto.PublicKey
}

// keyFetch is one JWKS fetch that several verifications may wait for.
type keyFetch struct {
	done chan struct{}
	keys []publicKey
	err  error
}

func newKeySet(jwksURL string, client *http.Client, now func() time.Time) *keySet {
	return &keySet{url: jwksURL, client: client, now: now}
}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	j, err := parseCompactJWS(jwt)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	keys, loaded := k.keys, k.loaded
	k.mu.Unlock()
	if loaded {
		payload, known, err := verifyWith(keys, j)
		if err == nil || known {
			// A key we hold with this id did not verify: a bad signature,
			// which a refetch cannot mend.
			return payload, err
		}
	}
	if keys, err = k.fetch(ctx); err != nil {
		return nil, err
	}
	payload, _, err := verifyWith(keys, j)
	return payload, err
}

// verifyWith tries the keys named kid (all keys when the token names none:
// OIDC Core §10.1 lets a provider with one key leave kid out). known
// reports whether a key with this id was there to try.
func verifyWith(keys []publicKey, j *compactJWS) (payload []byte, known bool, err error) {
	tried := false
	for _, pk := range keys {
		if j.kid != "" && pk.kid != j.kid {
			continue
		}
		tried = true
		if j.verify(pk.key) {
			return j.payload, j.kid != "", nil
		}
	}
	if !tried {
		return nil, false, errUnknownKey
	}
	return nil, j.kid != "", errBadSignature
}

// holds reports whether a JWKS has loaded and holds a key named kid (any
// key, for a token without kid).
func (k *keySet) holds(kid string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.loaded {
		return false
	}
	for _, pk := range k.keys {
		if kid == "" || pk.kid == kid {
			return true
		}
	}
	return false
}

// fetch returns the keys of a fetch it starts or joins, or an error when
// none may start yet.
func (k *keySet) fetch(ctx context.Context) ([]publicKey, error) {
	k.mu.Lock()
	f := k.inflight
	if f == nil {
		now := k.now()
		if now.Before(k.nextFetch) {
			err := errUnknownKey
			if !k.loaded {
				err = errNoKeys
			}
			k.mu.Unlock()
			return nil, err
		}
		if k.loaded {
			k.nextFetch = now.Add(keyRefetchCooldown)
		}
		f = &keyFetch{done: make(chan struct{})}
		k.inflight = f
		// Detached from the request, like discovery: one caller giving up
		// does not fail the others waiting for the same fetch.
		go k.run(f)
	}
	k.mu.Unlock()
	select {
	case <-f.done:
		return f.keys, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (k *keySet) run(f *keyFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), keyFetchTimeout)
	f.keys, f.err = k.get(ctx)
	cancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.inflight = nil
	if f.err == nil {
		k.keys, k.loaded = f.keys, true
	} else if !k.loaded {
		k.nextFetch = k.now().Add(keyRetry)
	}
	close(f.done)
}

func (k *keySet) get(ctx context.Context) ([]publicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidcauth: fetching the JWKS: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // cut at 1 MiB by the client's transport
	if err != nil {
		return nil, fmt.Errorf("oidcauth: reading the JWKS: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oidcauth: JWKS endpoint answered %d", resp.StatusCode)
	}
	return parseJWKS(body)
}

// jwk holds the members of a JSON Web Key (RFC 7517 §4, RFC 7518 §6) that
// signature verification needs.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS keeps the usable signing keys of a JWK Set. A key that is not
// understood, not for signatures, or malformed is skipped (RFC 7517 §5);
// a set with no usable key is an error.
func parseJWKS(body []byte) ([]publicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.New("oidcauth: the JWKS is not a JSON key set")
	}
	var out []publicKey
	for _, raw := range set.Keys {
		var j jwk
		if json.Unmarshal(raw, &j) != nil || (j.Use != "" && j.Use != "sig") {
			continue
		}
		if key := j.publicKey(); key != nil && len(out) < maxKeys {
			out = append(out, publicKey{kid: j.Kid, key: key})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("oidcauth: the JWKS has no usable signing key")
	}
	return out, nil
}

// publicKey returns the key j describes, or nil when it is malformed or of
// a kind we do not verify with.
func (j jwk) publicKey() crypto.PublicKey {
	b64 := base64.RawURLEncoding
	switch j.Kty {
	case "RSA":
		n, err1 := b64.DecodeString(j.N)
		e, err2 := b64.DecodeString(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		// RFC 7518 §3.3: 2048 bits or larger.
		if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
			return nil
		}
		return pub
	case "EC":
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		curve := curves[j.Crv]
		x, err1 := b64.DecodeString(j.X)
		y, err2 := b64.DecodeString(j.Y)
		if curve == nil || err1 != nil || err2 != nil {
			return nil
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return nil
		}
		// The parser checks that the point is on the curve.
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil
		}
		return pub
	case "OKP":
		x, err := b64.DecodeString(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil
		}
		return ed25519.PublicKey(x)
	}
	return nil
}
