package oidcauth

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oidcauth/oidcauth/internal/cookie"
)

// transaction is one sign-in attempt: what the callback needs to finish it
// and to prove the response belongs to this browser. Each lives in its own
// encrypted cookie named after its state, so several tabs can sign in at
// once; state, nonce and PKCE verifier are fresh per attempt and the cookie
// is cleared at the callback, whatever the outcome (single use).
type transaction struct {
	state    string // OAuth 2.0 state (RFC 6749 §10.12), 256 bits
	nonce    string // OIDC nonce (OIDC Core §3.1.2.1), 256 bits
	verifier string // PKCE code verifier (RFC 7636 §4.1), 256 bits
	returnTo string // validated same-origin path
	created  int64  // unix seconds
	provider string // the OAuth2Provider's name; "" the OpenID Connect provider
	authn    authnRequest
}

const (
	txFormat     = 3
	txLifetime   = 10 * time.Minute
	maxPendingTx = 5  // a sixth sign-in evicts the oldest pending one
	txIDLen      = 16 // characters of the state that name the cookie
	stateLen     = 43 // base64url of 32 bytes
)

func newTransaction(returnTo string, now time.Time) *transaction {
	return &transaction{
		state:    randomString(),
		nonce:    randomString(),
		verifier: randomString(),
		returnTo: returnTo,
		created:  now.Unix(),
	}
}

func (t *transaction) marshal() []byte {
	b := make([]byte, 0, 3*stateLen+len(t.returnTo)+len(t.provider)+16)
	b = append(b, txFormat)
	b = binary.AppendUvarint(b, uint64(t.created))
	for _, s := range [...]string{t.state, t.nonce, t.verifier, t.returnTo, t.provider} {
		b = appendString(b, s)
	}
	return t.authn.append(b)
}

var errBadTransaction = errors.New("oidcauth: malformed transaction")

func unmarshalTransaction(p []byte) (*transaction, error) {
	d := decoder{s: string(p)}
	if d.byte() != txFormat {
		return nil, errBadTransaction
	}
	t := &transaction{created: int64(d.uvarint())}
	t.state, t.nonce, t.verifier, t.returnTo, t.provider = d.str(), d.str(), d.str(), d.str(), d.str()
	t.authn.read(&d)
	if d.bad || d.s != "" || len(t.state) != stateLen {
		return nil, errBadTransaction
	}
	return t, nil
}

// txCookieName names the cookie of the transaction whose state is state;
// ok is false when state cannot be one of ours.
func (a *Auth) txCookieName(state string) (string, bool) {
	if len(state) != stateLen || !isBase64URL(state) {
		return "", false
	}
	return a.txPrefix + state[:txIDLen], true
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// saveTransaction sets t's cookie, first evicting expired, unreadable and
// (beyond maxPendingTx) oldest pending transactions so the Cookie header
// stays bounded however often sign-in is clicked.
func (a *Auth) saveTransaction(w http.ResponseWriter, r *http.Request, t *transaction) {
	type pending struct {
		name    string
		created int64
	}
	var live []pending
	now := a.cfg.Now().Unix()
	sc := cookie.Scan(r, "")
	for {
		name, value, ok := sc.Next()
		if !ok {
			break
		}
		if !strings.HasPrefix(name, a.txPrefix) {
			continue
		}
		old, err := a.openTransaction(name, value)
		if err != nil || now-old.created > int64(txLifetime/time.Second) {
			a.cookies.Clear(w, name)
			continue
		}
		live = append(live, pending{name, old.created})
	}
	if extra := len(live) - (maxPendingTx - 1); extra > 0 {
		slices.SortFunc(live, func(x, y pending) int { return int(x.created - y.created) })
		for _, p := range live[:extra] {
			a.cookies.Clear(w, p.name)
		}
	}
	name, _ := a.txCookieName(t.state)
	http.SetCookie(w, a.cookies.Cookie(name, a.codec.Seal(name, t.marshal()), int(txLifetime/time.Second)))
}

func (a *Auth) openTransaction(name, value string) (*transaction, error) {
	sc := cookie.ScratchPool.Get().(*cookie.Scratch)
	defer cookie.ScratchPool.Put(sc)
	plain, err := a.codec.Open(sc, name, value)
	if err != nil {
		return nil, err
	}
	return unmarshalTransaction(plain)
}

// takeTransaction finds and consumes the transaction the callback's state
// names. The cookie is cleared whether or not it checks out.
func (a *Auth) takeTransaction(w http.ResponseWriter, r *http.Request, state string) (*transaction, error) {
	name, ok := a.txCookieName(state)
	if !ok {
		return nil, fail(ErrInvalidState, errors.New("state missing or malformed"))
	}
	value, ok := cookie.Value(r, name)
	if !ok {
		return nil, fail(ErrInvalidState, errors.New("no pending sign-in for this state (expired, used, or another browser)"))
	}
	a.cookies.Clear(w, name)
	t, err := a.openTransaction(name, value)
	if err != nil {
		return nil, fail(ErrInvalidState, err)
	}
	if subtle.ConstantTimeCompare([]byte(t.state), []byte(state)) != 1 {
		return nil, fail(ErrInvalidState, errors.New("state does not match"))
	}
	if a.cfg.Now().Unix()-t.created > int64(txLifetime/time.Second) {
		return nil, fail(ErrInvalidState, errors.New("sign-in attempt expired"))
	}
	return t, nil
}
