package cookie

import (
	"net/http"
	"strconv"
	"strings"
	"unsafe"
)

// Scanner walks the request's Cookie headers and yields the values of
// one cookie name, in header order, without allocating. A name can repeat
// (cookies of a parent domain or path); callers try each.
type Scanner struct {
	lines []string
	line  string
	name  string
}

// Scan starts a Scanner over r's cookies called name (every cookie when name is "").
func Scan(r *http.Request, name string) Scanner {
	return Scanner{lines: r.Header["Cookie"], name: name}
}

// Next returns the next cookie's name and value; with a name set, only that
// cookie's values.
func (s *Scanner) Next() (name, value string, ok bool) {
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

// Value is the first value of the cookie called name.
func Value(r *http.Request, name string) (string, bool) {
	sc := Scan(r, name)
	_, v, ok := sc.Next()
	return v, ok
}

// Browsers keep at least 4096 bytes per cookie (RFC 6265 §6.1), counting
// name and value; the rest of the budget covers the attributes.
const (
	MaxBytes  = 4000
	MaxChunks = 8
)

// Options are the attributes every cookie we set shares.
type Options struct {
	Secure bool
}

// Cookie is the http.Cookie for name with the shared attributes.
func (o Options) Cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   o.Secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// Set adds the Set-Cookie header that http.SetCookie(w, o.Cookie(name,
// value, maxAge)) would, for a value of our own making: base64url, digits
// and dots, nothing to quote or drop. http.SetCookie checks each byte of a
// 3 KB session again, a few microseconds per sign-in and re-issue.
func (o Options) Set(w http.ResponseWriter, name, value string, maxAge int) {
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
	if o.Secure {
		b = append(b, "; Secure"...)
	}
	b = append(b, "; SameSite=Lax"...)
	w.Header().Add("Set-Cookie", unsafe.String(unsafe.SliceData(b), len(b)))
}

// Clear expires the cookie called name.
func (o Options) Clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, o.Cookie(name, "", -1))
}

// ChunkName names the i-th continuation cookie of a chunked session.
func ChunkName(name string, i int) string { return name + "." + strconv.Itoa(i) }

// Read returns the sealed session value, joining chunks: a
// chunked session's first cookie reads "<count>.<part>" ("." is not in the
// base64url alphabet), and chunks 1..count-1 follow in name.1, name.2, …
func Read(r *http.Request, name string) (string, bool) {
	var buf []byte // never written again once joined: the string may share it
	return ReadInto(&buf, r, name)
}

// ReadInto is Read joining chunks into *buf: the
// value is a view of the request's Cookie header or of *buf, valid until
// *buf is reused. The session read joins into a pooled buffer, so a repeat
// request with a chunked session allocates nothing for it.
func ReadInto(buf *[]byte, r *http.Request, name string) (string, bool) {
	v, ok := Value(r, name)
	if !ok {
		return "", false
	}
	count, first, chunked := strings.Cut(v, ".")
	if !chunked {
		return v, true
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 2 || n > MaxChunks {
		return "", false
	}
	var parts [MaxChunks]string
	parts[0] = first
	size := len(first)
	for i := 1; i < n; i++ {
		part, ok := ChunkValue(r, name, i)
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

// ChunkValue is Value(r, ChunkName(name, i)) without building the
// name; i is one digit (MaxChunks).
func ChunkValue(r *http.Request, name string, i int) (string, bool) {
	sc := Scan(r, "")
	for {
		k, v, ok := sc.Next()
		if !ok {
			return "", false
		}
		if len(k) == len(name)+2 && k[len(name)] == '.' && k[len(name)+1] == byte('0'+i) && k[:len(name)] == name {
			return v, true
		}
	}
}

// Write sets value as the session cookie, split into chunks when
// it does not fit in one, and expires chunks the browser still holds from a
// larger earlier session.
func Write(w http.ResponseWriter, r *http.Request, o Options, name, value string, maxAge int) error {
	if len(name)+len(value) <= MaxBytes {
		o.Set(w, name, value, maxAge)
		ClearChunks(w, r, o, name, 1)
		return nil
	}
	// Room for ".N" in continuation names and "N." at the head of the first.
	size := MaxBytes - len(name) - 4
	parts := (len(value) + size - 1) / size
	if parts > MaxChunks {
		return ErrTooLarge
	}
	for i := range parts {
		part := value[i*size : min((i+1)*size, len(value))]
		if i == 0 {
			o.Set(w, name, strconv.Itoa(parts)+"."+part, maxAge)
		} else {
			o.Set(w, ChunkName(name, i), part, maxAge)
		}
	}
	ClearChunks(w, r, o, name, parts)
	return nil
}

// ClearChunks expires continuation cookies numbered from 'from' on.
func ClearChunks(w http.ResponseWriter, r *http.Request, o Options, name string, from int) {
	prefix := name + "."
	sc := Scan(r, "")
	for {
		k, _, ok := sc.Next()
		if !ok {
			return
		}
		if rest, isChunk := strings.CutPrefix(k, prefix); isChunk {
			if i, err := strconv.Atoi(rest); err == nil && i >= from && i < MaxChunks {
				o.Clear(w, k)
			}
		}
	}
}
