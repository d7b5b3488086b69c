package oidcauth

import (
	"crypto/rand"
	"encoding/base64"
)

func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
