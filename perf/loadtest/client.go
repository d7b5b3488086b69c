package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sessionTargets are one profile's protected URLs and the Cookie headers a
// real sign-in gave.
type sessionTargets struct {
	protected, gorilla    string // paths
	cookie, gorillaCookie string // Cookie header values
	cookieBytes           int
	cookieCount           int
	gorillaBytes          int
}

// signIn signs in to the profile's oidcauth app and gorilla app as a
// browser does (cookie jar, redirects followed through the provider) and
// checks that each protected path then answers 200.
func signIn(ctx context.Context, base, profile string) (sessionTargets, error) {
	t := sessionTargets{protected: "/" + profile + "/protected", gorilla: "/" + profile + "/g/protected"}
	var err error
	var n int
	if t.cookie, n, err = browserSignIn(ctx, base, "/"+profile+"/sign-in", "oidcauth_"+profile); err != nil {
		return t, err
	}
	t.cookieBytes, t.cookieCount = len(t.cookie), n
	if t.gorillaCookie, _, err = browserSignIn(ctx, base, "/"+profile+"/g/sign-in", "gorilla_"+profile); err != nil {
		return t, err
	}
	t.gorillaBytes = len(t.gorillaCookie)
	for _, p := range [][2]string{{t.protected, t.cookie}, {t.gorilla, t.gorillaCookie}, {"/bare", t.cookie}} {
		c, err := dial(base)
		if err != nil {
			return t, err
		}
		status, err := c.do(request(base, p[0], p[1]))
		c.Close()
		if err != nil || status != http.StatusOK {
			return t, fmt.Errorf("GET %s after sign-in: status %d, %v", p[0], status, err)
		}
	}
	return t, nil
}

// browserSignIn follows the sign-in from start and returns the Cookie
// header of the session cookies (name, and name.1 … for chunks).
func browserSignIn(ctx context.Context, base, start, name string) (string, int, error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, "GET", base+start, nil)
	res, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/" {
		return "", 0, fmt.Errorf("sign-in ended at %s with %d", res.Request.URL.Path, res.StatusCode)
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, c := range jar.Cookies(u) {
		if c.Name == name || strings.HasPrefix(c.Name, name+".") {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	if len(parts) == 0 {
		return "", 0, fmt.Errorf("no %s cookie after sign-in", name)
	}
	slices.Sort(parts) // name before name.1, name.2 …
	return strings.Join(parts, "; "), len(parts), nil
}

func request(base, path, cookie string) []byte {
	host := strings.TrimPrefix(base, "http://")
	return []byte("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: oidcauth-loadtest\r\n" +
		"Accept: text/html\r\nCookie: " + cookie + "\r\n\r\n")
}

// conn is a keep-alive HTTP/1.1 connection with just enough of a client to
// send one request at a time and read a response with a Content-Length.
type conn struct {
	net.Conn
	br *bufio.Reader
}

func dial(base string) (*conn, error) {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, br: bufio.NewReaderSize(c, 16<<10)}, nil
}

var contentLength = []byte("content-length:")

// do sends req and reads the response, returning its status.
func (c *conn) do(req []byte) (int, error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return 0, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, err
	}
	length := -1
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(line[len(contentLength):])))
			if err != nil {
				return 0, err
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("response without Content-Length")
	}
	if _, err := c.br.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}

// result is one scenario's measurement.
type result struct {
	rps               float64
	p50, p99          time.Duration
	serverCPU, genCPU time.Duration // per request
}

func median(rs []result) result {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b result) int {
		switch {
		case a.rps < b.rps:
			return -1
		case a.rps > b.rps:
			return 1
		}
		return 0
	})
	return sorted[len(sorted)/2]
}

type runner struct {
	o      options
	base   string
	ctx    context.Context
	errors int64
}

// scenario drives path with cookie from c connections: warm-up, then the
// measured window. It stops at the window's end, at o.maxRequests, or when
// the run's deadline passes.
func (r *runner) scenario(path, cookie string, c int) (result, error) {
	if r.ctx.Err() != nil {
		return result{}, errDeadline
	}
	req := request(r.base, path, cookie)
	conns := make([]*conn, c)
	for i := range conns {
		cn, err := dial(r.base)
		if err != nil {
			return result{}, err
		}
		defer cn.Close()
		conns[i] = cn
	}
	start := time.Now()
	measureFrom := start.Add(r.o.warmup)
	end := measureFrom.Add(r.o.duration)
	var sent, failed atomic.Int64
	lat := make([][]time.Duration, c)
	var wg sync.WaitGroup
	for i, cn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]time.Duration, 0, 4096)
			for r.ctx.Err() == nil && sent.Add(1) <= r.o.maxRequests {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				status, err := cn.do(req)
				t1 := time.Now()
				if err != nil || status != http.StatusOK {
					failed.Add(1)
					if err != nil {
						break // the connection is unusable
					}
				}
				if !t0.Before(measureFrom) && t1.Before(end) {
					own = append(own, t1.Sub(t0))
				}
			}
			lat[i] = own
		}()
	}
	// CPU of both processes over the measured window.
	time.Sleep(time.Until(measureFrom))
	srv0, gen0 := r.serverCPU(), processCPU()
	time.Sleep(time.Until(end))
	srv1, gen1 := r.serverCPU(), processCPU()
	wg.Wait()
	if n := failed.Load(); n > 0 {
		r.errors += n
		fmt.Printf("<!-- %s: %d failed requests -->\n", path, n)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return result{}, fmt.Errorf("%s: no request completed in the window", path)
	}
	slices.Sort(all)
	n := time.Duration(len(all))
	return result{
		rps:       float64(len(all)) / r.o.duration.Seconds(),
		p50:       all[len(all)/2],
		p99:       all[len(all)*99/100],
		serverCPU: (srv1 - srv0) / n,
		genCPU:    (gen1 - gen0) / n,
	}, nil
}

// serverCPU asks the server process for its CPU time so far.
func (r *runner) serverCPU() time.Duration {
	res, err := http.Get(r.base + "/cpu")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	ns, _ := strconv.ParseInt(string(b), 10, 64)
	return time.Duration(ns)
}
