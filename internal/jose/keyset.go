package jose

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// RefetchCooldown spaces JWKS refetches caused by unknown key ids.
	RefetchCooldown = time.Minute
	// RetryInterval spaces fetches while no key set has loaded yet.
	RetryInterval = 5 * time.Second
	// FetchTimeout bounds one JWKS fetch, whoever waits for it.
	FetchTimeout = 5 * time.Second
	// MaxKeys bounds how many keys of a JWKS are kept.
	MaxKeys = 64
)

// KeySet verifies JWS signatures with the provider's JWKS (RFC 7517),
// fetched on first use and cached. It stands in for go-oidc's remote key
// set, which fetches the JWKS again for every token whose key id it does
// not know: a flood of tokens with made-up key ids would become a flood of
// requests to the provider. Here an unknown key id causes at most one
// refetch per [RefetchCooldown] (the first after a load is immediate, so a
// real rotation is picked up at once, OIDC Core §10.1.1), one fetch at a
// time however many wait for it; keys already cached keep working while
// the JWKS endpoint fails; and a key that cannot be parsed or used is
// skipped instead of failing the whole set (RFC 7517 §5).
//
// A KeySet is safe for concurrent use.
type KeySet struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	loaded    bool      // a fetch has succeeded
	nextFetch time.Time // no fetch starts before this
	inflight  *keyFetch
}

// keyFetch is one JWKS fetch that several verifications may wait for.
type keyFetch struct {
	done chan struct{}
	keys []jose.JSONWebKey
	err  error
}

// NewKeySet returns a key set for the JWKS at jwksURL, fetched with client
// (whose transport should bound the answer's size) on first use. now is
// the clock for the refetch cooldown; nil means time.Now.
func NewKeySet(jwksURL string, client *http.Client, now func() time.Time) *KeySet {
	if now == nil {
		now = time.Now
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &KeySet{url: jwksURL, client: client, now: now}
}

// URL is the JWKS URL the set fetches.
func (k *KeySet) URL() string { return k.url }

// VerifySignature implements go-oidc's oidc.KeySet: it verifies jwt's
// signature with the provider's keys and returns the payload. It accepts
// any of [Algorithms] and checks no claim: go-oidc's IDTokenVerifier,
// which calls it, has already checked the algorithm against its own list
// and checks iss, aud and exp after it.
func (k *KeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, _, err := k.Verify(ctx, jwt, Algorithms)
	return payload, err
}

// Verify verifies raw, a compact JWS whose alg must be one of algs (and of
// [Algorithms]), with the provider's key named by its kid (every key, when
// it names none: OIDC Core §10.1 lets a provider with one key leave kid
// out), fetching the JWKS when it does not hold that key, at most once per
// [RefetchCooldown]. It returns the verified payload and the header; it
// checks no claim (exp, iss, aud are the caller's).
//
// Errors: [ErrMalformed], [ErrAlgorithm], [ErrUnknownKey] (no such key,
// even after a refetch or within the cooldown), [ErrNoKeys] (no JWKS has
// loaded), [ErrBadSignature], a fetch error, or ctx's error.
func (k *KeySet) Verify(ctx context.Context, raw string, algs []string) ([]byte, Header, error) {
	t, err := parse(raw)
	if err != nil {
		return nil, Header{}, err
	}
	if !allowed(algs, t.hdr.Alg) {
		return nil, t.hdr, ErrAlgorithm
	}
	k.mu.Lock()
	keys, loaded := k.keys, k.loaded
	k.mu.Unlock()
	if loaded {
		payload, known, err := verifyWith(keys, t)
		if err == nil || known {
			// A key we hold with this id did not verify: a bad signature,
			// which a refetch cannot mend.
			return payload, t.hdr, err
		}
	}
	if keys, err = k.fetch(ctx); err != nil {
		return nil, t.hdr, err
	}
	payload, _, err := verifyWith(keys, t)
	return payload, t.hdr, err
}

// verifyWith tries the keys named t's kid (all keys when it names none).
// known reports whether a key with this id was there to try.
func verifyWith(keys []jose.JSONWebKey, t *token) (payload []byte, known bool, err error) {
	kid := t.hdr.KeyID
	tried := false
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		tried = true
		if payload, ok := t.verify(&keys[i]); ok {
			return payload, kid != "", nil
		}
	}
	if !tried {
		return nil, false, ErrUnknownKey
	}
	return nil, kid != "", ErrBadSignature
}

// Holds reports whether a JWKS has loaded and holds a key named kid (any
// key, for an empty kid). It never fetches: a caller tells "no verdict
// yet" (a key it may get after the cooldown, or a JWKS outage) from a
// refused signature.
func (k *KeySet) Holds(kid string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.loaded {
		return false
	}
	for i := range k.keys {
		if kid == "" || k.keys[i].KeyID == kid {
			return true
		}
	}
	return false
}

// fetch returns the keys of a fetch it starts or joins, or an error when
// none may start yet.
func (k *KeySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	f := k.inflight
	if f == nil {
		now := k.now()
		if now.Before(k.nextFetch) {
			err := ErrUnknownKey
			if !k.loaded {
				err = ErrNoKeys
			}
			k.mu.Unlock()
			return nil, err
		}
		if k.loaded {
			k.nextFetch = now.Add(RefetchCooldown)
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

func (k *KeySet) run(f *keyFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), FetchTimeout)
	f.keys, f.err = k.get(ctx)
	cancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.inflight = nil
	if f.err == nil {
		k.keys, k.loaded = f.keys, true
	} else if !k.loaded {
		k.nextFetch = k.now().Add(RetryInterval)
	}
	close(f.done)
}

func (k *KeySet) get(ctx context.Context) ([]jose.JSONWebKey, error) {
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
	body, err := io.ReadAll(resp.Body) // cut by the client's transport
	if err != nil {
		return nil, fmt.Errorf("oidcauth: reading the JWKS: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oidcauth: JWKS endpoint answered %d", resp.StatusCode)
	}
	return parseJWKS(body)
}

// parseJWKS keeps the usable signing keys of a JWK Set, each parsed by
// go-jose on its own: a key that go-jose refuses or that [usable] refuses
// is skipped (RFC 7517 §5), never more than [MaxKeys] are kept, and a set
// with no usable key is an error. (go-jose's JSONWebKeySet would refuse
// the whole set for one bad key.)
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.New("oidcauth: the JWKS is not a JSON key set")
	}
	var out []jose.JSONWebKey
	for _, raw := range set.Keys {
		if len(out) == MaxKeys {
			break
		}
		var key jose.JSONWebKey
		if key.UnmarshalJSON(raw) == nil && usable(&key) {
			out = append(out, key)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("oidcauth: the JWKS has no usable signing key")
	}
	return out, nil
}

// usable reports whether key may verify signatures here: a public RSA
// (2048 bits or more, RFC 7518 §3.3; an odd exponent of at most 32 bits),
// EC or Ed25519 key (go-jose has checked the curve point and the Ed25519
// encoding), for signatures ("use" absent or "sig"), for one of
// [Algorithms] when it names one. A JWKS that publishes private or
// symmetric key material is broken: such keys are skipped.
func usable(key *jose.JSONWebKey) bool {
	if key.Use != "" && key.Use != "sig" {
		return false
	}
	if key.Algorithm != "" && !allowed(Algorithms, key.Algorithm) {
		return false
	}
	switch pub := key.Key.(type) {
	case *rsa.PublicKey:
		return pub.N.BitLen() >= 2048 && pub.E >= 3 && pub.E%2 == 1 && int64(pub.E) < 1<<32
	case *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}
