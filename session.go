package oidcauth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"unsafe"

	"github.com/coreos/go-oidc/v3/oidc"
)

// session is what a signed-in browser carries, encrypted. Its wire form is a
// compact binary layout rather than gob or JSON: decoding it is a handful of
// length reads and substring slices of one string, so RequireAuth pays one
// allocation for it.
type session struct {
	user User

	owner    *Auth  // the Auth that opened it (not stored); "" id: no session
	id       string // 16 random bytes, ours; names the session for revocation
	provider string // which provider signed the user in; "" is the default
	sid      string // the provider's session id (sid claim), for logout
	created  int64  // unix seconds: sign-in, for the absolute lifetime
	touched  int64  // unix seconds: last re-issue, for the idle timeout
	expiry   int64  // unix seconds when the access token expires; 0 unknown

	idToken      token
	accessToken  token
	refreshToken string

	// oauth2Subject is what a Subject revocation names a plain OAuth 2.0
	// provider's user by (oauth2Subject()); set when decoded.
	oauth2Subject string
}

// token holds an OAuth token. A compact JWS is kept as its three decoded
// segments, a quarter smaller than base64url, and the ID token's payload
// segment doubles as the user's claims JSON. Anything else is kept verbatim.
type token struct {
	raw string    // verbatim form, when not kept as segments
	seg [3]string // header, payload, signature bytes
}

func (t token) empty() bool { return t.raw == "" && t.seg[0] == "" }

// String keeps tokens out of anything formatted with %v or logged by
// accident; compact is the way to the token itself.
func (t token) String() string { return "[token redacted]" }

// LogValue redacts the token in structured logs.
func (t token) LogValue() slog.Value { return slog.StringValue("[token redacted]") }

// compact returns the token as it was issued.
func (t token) compact() string {
	if t.seg[0] == "" {
		return t.raw
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, enc.EncodedLen(len(t.seg[0]))+enc.EncodedLen(len(t.seg[1]))+enc.EncodedLen(len(t.seg[2]))+2)
	off := 0
	for i, s := range t.seg {
		if i > 0 {
			buf[off] = '.'
			off++
		}
		// Encode only reads the segment: viewing the string's bytes saves
		// a copy per segment.
		enc.Encode(buf[off:], unsafe.Slice(unsafe.StringData(s), len(s)))
		off += enc.EncodedLen(len(s))
	}
	// buf is never written again: the string may share it.
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

// packToken splits a compact JWS into decoded segments when that round-trips
// exactly; otherwise the token is kept verbatim.
func packToken(s string) token {
	h, rest, ok1 := strings.Cut(s, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || h == "" || p == "" || strings.IndexByte(sig, '.') >= 0 || strings.ContainsAny(s, "\r\n") {
		return token{raw: s}
	}
	// Strict decoding accepts only the canonical encoding (zero trailing
	// bits), and there are no line breaks for it to skip, so the segments
	// re-encode to s exactly without encoding them to check. All three
	// decode into one buffer that the segments share.
	enc := base64.RawURLEncoding.Strict()
	buf := make([]byte, enc.DecodedLen(len(h))+enc.DecodedLen(len(p))+enc.DecodedLen(len(sig)))
	var t token
	var ends [3]int
	off := 0
	for i, part := range [3]string{h, p, sig} {
		// Decode only reads the segment.
		n, err := enc.Decode(buf[off:], unsafe.Slice(unsafe.StringData(part), len(part)))
		if err != nil {
			return token{raw: s}
		}
		off += n
		ends[i] = off
	}
	// buf is never written again: the segments may share it.
	all := unsafe.String(unsafe.SliceData(buf), off)
	t.seg = [3]string{all[:ends[0]], all[ends[0]:ends[1]], all[ends[1]:ends[2]]}
	return t
}

const sessionFormat = 1

const (
	flagEmailVerified = 1 << iota
	flagOwnClaims     // claims stored apart from the ID token (userinfo merged)
	flagExtra         // an issuer of its own and a phone number follow the user's fields
)

// claimsOf returns the JSON the user's claims are read from: the ID token's
// payload unless the session holds its own.
func (s *session) ownClaims() bool {
	return s.user.claims != "" && s.user.claims != s.idToken.seg[1]
}

func (s *session) marshal(b []byte) []byte {
	b = append(b, sessionFormat)
	b = binary.AppendUvarint(b, uint64(s.created))
	b = binary.AppendUvarint(b, uint64(s.touched))
	b = binary.AppendUvarint(b, uint64(s.expiry))
	var flags byte
	if s.user.EmailVerified {
		flags |= flagEmailVerified
	}
	own := s.ownClaims()
	if own {
		flags |= flagOwnClaims
	}
	// A plain OAuth 2.0 provider's session names its issuer; OIDC sessions
	// take the configured one.
	extra := s.provider != "" || s.user.Phone != ""
	if extra {
		flags |= flagExtra
	}
	b = append(b, flags)
	for _, f := range [...]string{s.id, s.provider, s.sid, s.user.Subject, s.user.Name, s.user.Email, s.user.Picture, s.user.Username} {
		b = appendString(b, f)
	}
	if extra {
		issuer := ""
		if s.provider != "" {
			issuer = s.user.Issuer
		}
		b = appendString(b, issuer)
		b = appendString(b, s.user.Phone)
	}
	if own {
		b = appendString(b, s.user.claims)
	}
	b = appendToken(b, s.idToken)
	b = appendToken(b, s.accessToken)
	return appendString(b, s.refreshToken)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendToken(b []byte, t token) []byte {
	if t.seg[0] == "" {
		b = append(b, 0)
		return appendString(b, t.raw)
	}
	b = append(b, 1)
	for _, s := range t.seg {
		b = appendString(b, s)
	}
	return b
}

var errMalformedSession = errors.New("oidcauth: malformed session")

// unmarshalSession decodes p; every string field is a substring of p, so the
// caller converts the decrypted bytes to a string once.
func unmarshalSession(p string, issuer string) (*session, error) {
	d := decoder{s: p}
	if d.byte() != sessionFormat {
		return nil, errMalformedSession
	}
	s := &session{
		created: int64(d.uvarint()),
		touched: int64(d.uvarint()),
		expiry:  int64(d.uvarint()),
	}
	flags := d.byte()
	s.id, s.provider, s.sid = d.str(), d.str(), d.str()
	s.user.Subject, s.user.Name, s.user.Email = d.str(), d.str(), d.str()
	s.user.Picture, s.user.Username = d.str(), d.str()
	s.user.EmailVerified = flags&flagEmailVerified != 0
	s.user.Issuer = issuer
	s.user.OAuth2Provider = s.provider
	if flags&flagExtra != 0 {
		if own := d.str(); own != "" {
			s.user.Issuer = own
		}
		s.user.Phone = d.str()
	}
	if flags&flagOwnClaims != 0 {
		s.user.claims = d.str()
	}
	s.idToken = d.token()
	s.accessToken = d.token()
	s.refreshToken = d.str()
	if d.bad || d.s != "" || s.user.Subject == "" || s.id == "" {
		return nil, errMalformedSession
	}
	if flags&flagOwnClaims == 0 {
		s.user.claims = s.idToken.seg[1]
	}
	if s.provider != "" {
		s.oauth2Subject = oauth2Subject(s.user.Issuer, s.user.Subject)
	}
	return s, nil
}

// decoder reads the session layout from a string without allocating. Any
// overrun sets bad; the caller checks it once at the end.
type decoder struct {
	s   string
	bad bool
}

func (d *decoder) byte() byte {
	if d.s == "" {
		d.bad = true
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if i >= len(d.s) {
			break
		}
		c := d.s[i]
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			d.s = d.s[i+1:]
			return x
		}
	}
	d.bad = true
	d.s = ""
	return 0
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.s)) {
		d.bad = true
		d.s = ""
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

func (d *decoder) token() token {
	switch d.byte() {
	case 0:
		return token{raw: d.str()}
	case 1:
		var t token
		for i := range t.seg {
			t.seg[i] = d.str()
		}
		if t.seg[0] == "" {
			d.bad = true
		}
		return t
	default:
		d.bad = true
		return token{}
	}
}

func (a *Auth) newSession(idt *oidc.IDToken, claims json.RawMessage, decoded *idClaims, tok *tokenResponse) (*session, error) {
	user, sid, err := a.claimsUser(idt.Subject, claims, decoded)
	if err != nil {
		return nil, err
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	now := a.cfg.Now().Unix()
	s := &session{
		id:           string(id[:]),
		sid:          sid,
		user:         user,
		created:      now,
		touched:      now,
		idToken:      packToken(tok.IDToken),
		accessToken:  packToken(tok.AccessToken),
		refreshToken: tok.RefreshToken,
		expiry:       tok.expiry(now),
	}
	return s, nil
}
