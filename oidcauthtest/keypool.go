package oidcauthtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"sync"
)

// keyPool holds the private keys of every provider in the process (see
// the package doc): published[alg][n] is each provider's n-th key of alg,
// unpublished[alg] the key [Misbehavior.SignWithUnknownKey] signs with.
var keyPool struct {
	mu          sync.Mutex
	published   map[string][]*pooledKey // by algorithm
	unpublished map[string]*pooledKey   // by algorithm
}

type pooledKey struct {
	once sync.Once
	priv crypto.Signer
	err  error
}

// poolKey returns the pool's n-th key for alg, or with n < 0 its key that
// no provider publishes.
func poolKey(alg string, n int) (crypto.Signer, error) {
	keyPool.mu.Lock()
	var k *pooledKey
	if n < 0 {
		if keyPool.unpublished == nil {
			keyPool.unpublished = map[string]*pooledKey{}
		}
		if k = keyPool.unpublished[alg]; k == nil {
			k = new(pooledKey)
			keyPool.unpublished[alg] = k
		}
	} else {
		if keyPool.published == nil {
			keyPool.published = map[string][]*pooledKey{}
		}
		for len(keyPool.published[alg]) <= n {
			keyPool.published[alg] = append(keyPool.published[alg], new(pooledKey))
		}
		k = keyPool.published[alg][n]
	}
	keyPool.mu.Unlock()
	// Generated outside the pool's lock, so that providers of other
	// algorithms or indexes do not wait for it.
	k.once.Do(func() { k.priv, k.err = generateKey(alg) })
	return k.priv, k.err
}

func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
}
