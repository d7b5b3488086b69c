package oidcauth

import (
	"errors"
	"io"
	"net/http"
	"strconv"
)

// limitedClient returns a copy of c (or a new client) whose transport cuts
// response bodies at maxResponseBytes and whose timeout is set.
func limitedClient(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	if out.Timeout == 0 {
		out.Timeout = defaultHTTPTimeout
	}
	if out.CheckRedirect == nil {
		// A 307 or 308 from the token endpoint would make the client resend
		// the code, PKCE verifier and secret to wherever it points; no
		// provider call has a reason to be redirected.
		out.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	base := out.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if _, ok := base.(limitTransport); !ok {
		out.Transport = limitTransport{base: base, max: maxResponseBytes}
	}
	return &out
}

// limitTransport makes a body larger than max fail with an error instead of
// filling memory: a hostile or broken provider cannot exhaust the app.
type limitTransport struct {
	base http.RoundTripper
	max  int64
}

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

var errResponseTooLarge = errors.New("oidcauth: provider response exceeds 1 MiB")

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// Probe one byte: a body of exactly the limit is fine.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, errResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// readBounded reads res's body, refusing one longer than limit.
func readBounded(res *http.Response, limit int64) ([]byte, error) {
	// Sized by Content-Length when the server sent one, so the body is
	// read into one allocation (io.ReadAll and bytes.Buffer grow past it).
	size := int64(512)
	if res.ContentLength > 0 {
		size = min(res.ContentLength, limit) + 1 // +1: room for the read that sees EOF
	}
	buf := make([]byte, 0, size)
	r := io.LimitReader(res.Body, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if int64(len(buf)) > limit {
		return nil, errors.New("response larger than " + strconv.FormatInt(limit>>10, 10) + " KiB")
	}
	return buf, nil
}
