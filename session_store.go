package oidcauth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/gorilla/sessions"
)

// Cookie wire format (one base64url layer, no padding):
//
//	version(1) | key id(4) | nonce(12) | AES-256-GCM ciphertext and tag
//
// The associated data is the header and the cookie's name, so a value moved
// to another cookie (a sign-in transaction replayed as a session, a chunk
// swapped) fails authentication. Rotation: the first key seals; the key id
// picks the key that opens.
//
// securecookie's format was measured and rejected for the session cookie: it
// base64-encodes twice (1.78x the plaintext) and, with gob, cannot fit a
// typical Logto session in one 4 KB cookie. gorilla/sessions stays the seam
// for server-side stores (Config.Store).
const (
	codecVersion   = 1
	codecHeaderLen = 1 + 4 + 12
	codecOverhead  = codecHeaderLen + 16
)

var strictB64 = base64.RawURLEncoding.Strict()

var errCookieInvalid = errors.New("oidcauth: cookie invalid")

type codecKey struct {
	id   [4]byte
	aead cipher.AEAD
}

type codec struct{ keys []codecKey }

// newCodec derives one AES-256-GCM key per secret. binding goes into the
// derivation: an Auth for another issuer or client that shares the secrets
// (staging and production, two apps on localhost) derives other keys, so
// its cookies read as foreign here instead of as sessions of this app.
func newCodec(secrets [][]byte, binding string) (*codec, error) {
	c := &codec{}
	for _, secret := range secrets {
		key, err := hkdf.Key(sha256.New, secret, nil, "oidcauth cookie encryption v1\x00"+binding, 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(append([]byte("oidcauth key id v1:"), key...))
		var k codecKey
		copy(k.id[:], sum[:4])
		k.aead = aead
		c.keys = append(c.keys, k)
	}
	return c, nil
}

// seal encrypts plain for the cookie called name.
func (c *codec) seal(name string, plain []byte) string {
	return base64.RawURLEncoding.EncodeToString(c.sealBytes(name, plain))
}

// sealBytes is seal without the base64 layer, for server-side stores.
func (c *codec) sealBytes(name string, plain []byte) []byte {
	k := &c.keys[0]
	buf := make([]byte, codecHeaderLen, codecOverhead+len(plain))
	buf[0] = codecVersion
	copy(buf[1:5], k.id[:])
	// crypto/rand.Read never fails (Go 1.24+; it crashes the program instead).
	_, _ = rand.Read(buf[5:codecHeaderLen])
	aad := make([]byte, 0, 5+len(name))
	aad = append(append(aad, buf[:5]...), name...)
	return k.aead.Seal(buf, buf[5:codecHeaderLen], plain, aad)
}

// scratch is a pooled buffer for opening cookies without allocating.
type scratch struct{ b, aad, join []byte }

var scratchPool = sync.Pool{New: func() any { return &scratch{b: make([]byte, 0, 4096), aad: make([]byte, 0, 64)} }}

// open authenticates and decrypts value (the cookie called name) into sc's
// buffer and returns the plaintext, valid until sc is reused.
func (c *codec) open(sc *scratch, name, value string) ([]byte, error) {
	// Strict: the unused bits of the last character must be zero, so one
	// session has exactly one cookie value (and one cache key).
	enc := strictB64
	n := enc.DecodedLen(len(value))
	if n < codecOverhead {
		return nil, errCookieInvalid
	}
	if cap(sc.b) < n {
		sc.b = make([]byte, n)
	}
	raw := sc.b[:n]
	// Decode reads value without keeping it; viewing the string's bytes
	// saves copying a 3 KB cookie on every request.
	m, err := enc.Decode(raw, unsafe.Slice(unsafe.StringData(value), len(value)))
	if err != nil {
		return nil, errCookieInvalid
	}
	return c.openRaw(sc, name, raw[:m])
}

// openBytes opens a sealBytes result into sc's buffer, leaving sealed as it
// was (a store may hand the same slice to a second read).
func (c *codec) openBytes(sc *scratch, name string, sealed []byte) ([]byte, error) {
	sc.b = append(sc.b[:0], sealed...)
	return c.openRaw(sc, name, sc.b)
}

// openRaw decrypts raw in place.
func (c *codec) openRaw(sc *scratch, name string, raw []byte) ([]byte, error) {
	if len(raw) < codecOverhead || raw[0] != codecVersion {
		return nil, errCookieInvalid
	}
	for i := range c.keys {
		k := &c.keys[i]
		if [4]byte(raw[1:5]) != k.id {
			continue
		}
		sc.aad = append(append(sc.aad[:0], raw[:5]...), name...)
		plain, err := k.aead.Open(raw[codecHeaderLen:codecHeaderLen], raw[5:codecHeaderLen], raw[codecHeaderLen:], sc.aad)
		if err != nil {
			return nil, errCookieInvalid
		}
		return plain, nil
	}
	return nil, errCookieInvalid
}

// cookieScanner walks the request's Cookie headers and yields the values of
// one cookie name, in header order, without allocating. A name can repeat
// (cookies of a parent domain or path); callers try each.
type cookieScanner struct {
	lines []string
	line  string
	name  string
}

func scanCookies(r *http.Request, name string) cookieScanner {
	return cookieScanner{lines: r.Header["Cookie"], name: name}
}

// next returns the next cookie's name and value; with a name set, only that
// cookie's values.
func (s *cookieScanner) next() (name, value string, ok bool) {
	for {
		for s.line == "" {
			if len(s.lines) == 0 {
				return "", "", false
			}
			s.line, s.lines = s.lines[0], s.lines[1:]
		}
		var part string
		part, s.line, _ = strings.Cut(s.line, ";")
		part = strings.TrimLeft(part, " \t")
		k, v, found := strings.Cut(part, "=")
		if !found || (s.name != "" && k != s.name) {
			continue
		}
		if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return k, strings.TrimRight(v, " \t"), true
	}
}

func cookieValue(r *http.Request, name string) (string, bool) {
	sc := scanCookies(r, name)
	_, v, ok := sc.next()
	return v, ok
}

// Browsers keep at least 4096 bytes per cookie (RFC 6265 §6.1), counting
// name and value; the rest of the budget covers the attributes.
const (
	maxCookieBytes = 4000
	maxChunks      = 8
)

// cookieOptions are the attributes every cookie we set shares.
type cookieOptions struct {
	secure bool
}

func (o cookieOptions) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   o.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// set adds the Set-Cookie header that http.SetCookie(w, o.cookie(name,
// value, maxAge)) would, for a value of our own making: base64url, digits
// and dots, nothing to quote or drop. http.SetCookie checks each byte of a
// 3 KB session again, a few microseconds per sign-in and re-issue.
func (o cookieOptions) set(w http.ResponseWriter, name, value string, maxAge int) {
	b := make([]byte, 0, len(name)+len(value)+64)
	b = append(append(append(b, name...), '='), value...)
	b = append(b, "; Path=/"...)
	switch {
	case maxAge > 0:
		b = strconv.AppendInt(append(b, "; Max-Age="...), int64(maxAge), 10)
	case maxAge < 0:
		b = append(b, "; Max-Age=0"...)
	}
	b = append(b, "; HttpOnly"...)
	if o.secure {
		b = append(b, "; Secure"...)
	}
	b = append(b, "; SameSite=Lax"...)
	w.Header().Add("Set-Cookie", unsafe.String(unsafe.SliceData(b), len(b)))
}

func (o cookieOptions) clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, o.cookie(name, "", -1))
}

// chunkName names the i-th continuation cookie of a chunked session.
func chunkName(name string, i int) string { return name + "." + strconv.Itoa(i) }

// readSessionCookie returns the sealed session value, joining chunks: a
// chunked session's first cookie reads "<count>.<part>" ("." is not in the
// base64url alphabet), and chunks 1..count-1 follow in name.1, name.2, …
func readSessionCookie(r *http.Request, name string) (string, bool) {
	var buf []byte // never written again once joined: the string may share it
	return joinSessionCookie(&buf, r, name)
}

// joinSessionCookie is readSessionCookie joining chunks into *buf: the
// value is a view of the request's Cookie header or of *buf, valid until
// *buf is reused. readSession joins into a pooled buffer, so a repeat
// request with a chunked session allocates nothing for it.
func joinSessionCookie(buf *[]byte, r *http.Request, name string) (string, bool) {
	v, ok := cookieValue(r, name)
	if !ok {
		return "", false
	}
	count, first, chunked := strings.Cut(v, ".")
	if !chunked {
		return v, true
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 2 || n > maxChunks {
		return "", false
	}
	var parts [maxChunks]string
	parts[0] = first
	size := len(first)
	for i := 1; i < n; i++ {
		part, ok := chunkValue(r, name, i)
		if !ok {
			return "", false
		}
		parts[i] = part
		size += len(part)
	}
	if cap(*buf) < size {
		*buf = make([]byte, 0, size)
	}
	b := (*buf)[:0]
	for _, p := range parts[:n] {
		b = append(b, p...)
	}
	*buf = b
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

// chunkValue is cookieValue(r, chunkName(name, i)) without building the
// name; i is one digit (maxChunks).
func chunkValue(r *http.Request, name string, i int) (string, bool) {
	sc := scanCookies(r, "")
	for {
		k, v, ok := sc.next()
		if !ok {
			return "", false
		}
		if len(k) == len(name)+2 && k[len(name)] == '.' && k[len(name)+1] == byte('0'+i) && k[:len(name)] == name {
			return v, true
		}
	}
}

// writeSessionCookie sets value as the session cookie, split into chunks when
// it does not fit in one, and expires chunks the browser still holds from a
// larger earlier session.
func writeSessionCookie(w http.ResponseWriter, r *http.Request, o cookieOptions, name, value string, maxAge int) error {
	if len(name)+len(value) <= maxCookieBytes {
		o.set(w, name, value, maxAge)
		clearChunks(w, r, o, name, 1)
		return nil
	}
	// Room for ".N" in continuation names and "N." at the head of the first.
	size := maxCookieBytes - len(name) - 4
	parts := (len(value) + size - 1) / size
	if parts > maxChunks {
		return ErrSessionTooLarge
	}
	for i := range parts {
		part := value[i*size : min((i+1)*size, len(value))]
		if i == 0 {
			o.set(w, name, strconv.Itoa(parts)+"."+part, maxAge)
		} else {
			o.set(w, chunkName(name, i), part, maxAge)
		}
	}
	clearChunks(w, r, o, name, parts)
	return nil
}

// clearChunks expires continuation cookies numbered from 'from' on.
func clearChunks(w http.ResponseWriter, r *http.Request, o cookieOptions, name string, from int) {
	prefix := name + "."
	sc := scanCookies(r, "")
	for {
		k, _, ok := sc.next()
		if !ok {
			return
		}
		if rest, isChunk := strings.CutPrefix(k, prefix); isChunk {
			if i, err := strconv.Atoi(rest); err == nil && i >= from && i < maxChunks {
				o.clear(w, k)
			}
		}
	}
}

// sessionValueKey is where the session lives in a gorilla/sessions session.
const sessionValueKey = "oidcauth"

// readSession returns the request's session if it decodes, and whether the
// request carried one at all; expiry is the caller's to check. Tampered,
// foreign or stale cookies are "no session", never an error.
func (a *Auth) readSession(r *http.Request) (*session, bool) {
	if a.cfg.Store != nil {
		return a.readStoreSession(r)
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	v, ok := joinSessionCookie(&sc.join, r, a.sessionCookie)
	if !ok {
		_, head := cookieValue(r, a.sessionCookie)
		_, chunk := chunkValue(r, a.sessionCookie, 1)
		return nil, head || chunk
	}
	if s := a.verified.get(v); s != nil {
		return s, true
	}
	plain, err := a.codec.open(sc, a.sessionCookie, v)
	if err != nil {
		return nil, true
	}
	s, err := unmarshalSession(string(plain), a.cfg.Issuer)
	if err == nil {
		a.verified.put(v, s) // only what authenticated and decoded
	}
	return s, true
}

func (a *Auth) readStoreSession(r *http.Request) (*session, bool) {
	gs, err := a.cfg.Store.Get(r, a.sessionCookie)
	if err != nil {
		// A backend fault (or a cookie the store's own codec refuses)
		// reads as signed out; say so, or an outage looks like everyone
		// signing out.
		a.cfg.Logger.Warn("oidcauth: session store read failed; treating the request as signed out", "error", logSafe(err))
		return nil, true
	}
	if gs.IsNew {
		return nil, false
	}
	sealed, ok := gs.Values[sessionValueKey].([]byte)
	if !ok {
		return nil, true
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	plain, err := a.codec.openBytes(sc, a.sessionCookie, sealed)
	if err != nil {
		return nil, true
	}
	s, _ := unmarshalSession(string(plain), a.cfg.Issuer)
	return s, true
}

// writeSession saves s, replacing whatever session the request carried.
// fresh asks a server-side store for a new session id (sign-in: no
// fixation).
func (a *Auth) writeSession(w http.ResponseWriter, r *http.Request, s *session, fresh bool) error {
	expires := min(s.created+int64(a.cfg.SessionMaxAge/time.Second), s.touched+int64(a.cfg.SessionIdleTimeout/time.Second))
	maxAge := int(expires - a.cfg.Now().Unix())
	if maxAge <= 0 {
		return ErrNotSignedIn
	}
	// The payload is sealed into a new buffer, never kept: a pooled one
	// saves allocating and growing 2–3 KB per sign-in and re-issue.
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	payload := s.marshal(sc.b[:0])
	sc.b = payload[:0]
	// Session cookies must not be stored by shared caches.
	w.Header().Set("Cache-Control", "private, no-store")
	if a.cfg.Store != nil {
		return a.writeStoreSession(w, r, payload, maxAge, fresh)
	}
	return writeSessionCookie(w, r, a.cookies, a.sessionCookie, a.codec.seal(a.sessionCookie, payload), maxAge)
}

func (a *Auth) writeStoreSession(w http.ResponseWriter, r *http.Request, payload []byte, maxAge int, fresh bool) error {
	var gs *sessions.Session
	if fresh {
		a.clearStoreSession(w, r)
		gs = sessions.NewSession(a.cfg.Store, a.sessionCookie)
		gs.IsNew = true
	} else {
		var err error
		if gs, err = a.cfg.Store.Get(r, a.sessionCookie); err != nil {
			return fail(ErrInternal, err)
		}
	}
	// Sealed as the cookie would be: a store that only signs (a
	// CookieStore with no encryption key) or keeps records in the clear (a
	// database) holds no readable token or personal data.
	values := map[any]any{sessionValueKey: a.codec.sealBytes(a.sessionCookie, payload)}
	if rec, ok := gs.Values[loadedRecord{}]; ok {
		values[loadedRecord{}] = rec // ServerStore writes only over what was read
	}
	gs.Values = values
	gs.Options = a.storeOptions(maxAge)
	if err := a.cfg.Store.Save(r, w, gs); err != nil {
		return fail(ErrInternal, err)
	}
	return nil
}

func (a *Auth) storeOptions(maxAge int) *sessions.Options {
	return &sessions.Options{Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: a.cookies.secure, SameSite: http.SameSiteLaxMode}
}

func (a *Auth) clearStoreSession(w http.ResponseWriter, r *http.Request) {
	gs, err := a.cfg.Store.Get(r, a.sessionCookie)
	if err != nil || gs.IsNew {
		return
	}
	gs.Options = a.storeOptions(-1)
	if err := a.cfg.Store.Save(r, w, gs); err != nil {
		a.cfg.Logger.Warn("oidcauth: session store delete failed", "error", logSafe(err))
	}
	// gorilla caches the session for the rest of this request; empty it so
	// nothing later in the request reads the ended session.
	gs.Values = map[any]any{}
}

// clearSession ends the request's session: the cookie (and its chunks) is
// expired and a server-side record deleted.
func (a *Auth) clearSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "private, no-store")
	if a.cfg.Store != nil {
		a.clearStoreSession(w, r)
		return
	}
	if _, ok := cookieValue(r, a.sessionCookie); ok {
		a.cookies.clear(w, a.sessionCookie)
	}
	if v, ok := readSessionCookie(r, a.sessionCookie); ok {
		a.verified.drop(v)
	}
	clearChunks(w, r, a.cookies, a.sessionCookie, 1)
}
