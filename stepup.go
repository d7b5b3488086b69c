package oidcauth

import (
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// authnRequest is what a sign-in asks of the user's authentication (OIDC
// Core §3.1.2.1 max_age and acr_values), kept in the transaction so the
// callback checks the ID token against it.
type authnRequest struct {
	maxAge      int64    // seconds; meaningful with hasMaxAge
	hasMaxAge   bool     //
	acr         []string // acr_values, in order of preference
	requireACR  bool     // the ID token's acr must be one of acr
	stepUp      bool     // a step-up: a failure keeps the earlier session
	silent      bool     // prompt=none (OIDC Core §3.1.2.1)
	interactive bool     // a silent sign-in's fallback is an interactive one
}

// WithMaxAge asks the provider to authenticate the user again when their
// last authentication is older than d (OIDC Core §3.1.2.1 max_age;
// WithMaxAge(0) always re-authenticates). The callback then requires the
// ID token's auth_time and refuses one older than d plus
// [Config.ClockSkew], with [ErrInvalidIDToken].
func WithMaxAge(d time.Duration) SignInOption {
	return optionFunc(func(o *signInOptions) {
		o.authn.maxAge, o.authn.hasMaxAge = max(int64(d/time.Second), 0), true
	})
}

// WithACRValues requests authentication context classes (acr_values, in
// order of preference; e.g. a value naming multi-factor authentication).
// OIDC Core makes them voluntary for the provider, so the ID token's acr is
// not checked: use [WithRequiredACR] when the app depends on it.
func WithACRValues(values ...string) SignInOption {
	return optionFunc(func(o *signInOptions) { o.authn.acr = slices.Clone(values) })
}

// WithRequiredACR is [WithACRValues], and the callback refuses an ID token
// whose acr is not one of values with [ErrAccessDenied] (403).
func WithRequiredACR(values ...string) SignInOption {
	return optionFunc(func(o *signInOptions) {
		o.authn.acr, o.authn.requireACR = slices.Clone(values), len(values) > 0
	})
}

// checkAuthn holds an ID token's auth_time and acr to what the sign-in
// asked.
func (a *Auth) checkAuthn(n *authnRequest, c *idClaims, now time.Time) error {
	// §3.1.2.1: with max_age, auth_time is required; §3.1.3.7 item 13:
	// too long ago means the provider did not re-authenticate.
	if n.hasMaxAge {
		if c.AuthTime <= 0 {
			return fail(ErrInvalidIDToken, errors.New("auth_time missing although max_age was requested"))
		}
		if !authnRecent(int64(c.AuthTime), n.maxAge, now, a.cfg.ClockSkew) {
			return fail(ErrInvalidIDToken, errors.New("auth_time older than the requested max_age"))
		}
	}
	// §3.1.3.7 item 12: acr is the app's to check; the provider may not
	// satisfy acr_values, and the app decided this sign-in depends on it.
	if n.requireACR && !slices.Contains(n.acr, c.ACR) {
		return fail(ErrAccessDenied, errors.New("acr is not one of the required values"))
	}
	return nil
}

// authnRecent reports whether an authentication at authTime is within
// maxAge seconds of now, with skew: the callback and RequireStepUp use the
// same test, so a sign-in the callback took satisfies the route that asked
// for it (no loop).
func authnRecent(authTime, maxAge int64, now time.Time, skew time.Duration) bool {
	return now.Unix()-authTime <= maxAge+int64(skew/time.Second)
}

// params adds max_age and acr_values to an authorization request.
func (n *authnRequest) params(p []oauth2.AuthCodeOption) []oauth2.AuthCodeOption {
	if n.hasMaxAge {
		p = append(p, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(n.maxAge, 10)))
	}
	if len(n.acr) > 0 {
		p = append(p, oauth2.SetAuthURLParam("acr_values", strings.Join(n.acr, " ")))
	}
	return p
}

const (
	authnMaxAge = 1 << iota
	authnRequireACR
	authnStepUp
	authnSilent
	authnInteractive
)

// append writes n in the transaction's layout.
func (n *authnRequest) append(b []byte) []byte {
	var flags byte
	if n.hasMaxAge {
		flags |= authnMaxAge
	}
	if n.requireACR {
		flags |= authnRequireACR
	}
	if n.stepUp {
		flags |= authnStepUp
	}
	if n.silent {
		flags |= authnSilent
	}
	if n.interactive {
		flags |= authnInteractive
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(n.maxAge))
	return appendString(b, strings.Join(n.acr, " "))
}

// read reads what append wrote.
func (n *authnRequest) read(d *decoder) {
	flags := d.byte()
	n.maxAge = int64(d.uvarint())
	n.acr = strings.Fields(d.str())
	n.hasMaxAge, n.requireACR, n.stepUp = flags&authnMaxAge != 0, flags&authnRequireACR != 0, flags&authnStepUp != 0
	n.silent, n.interactive = flags&authnSilent != 0, flags&authnInteractive != 0
}
