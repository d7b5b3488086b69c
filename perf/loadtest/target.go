package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// runTarget measures an app that is already running (examples/redis's
// instances behind its proxy, or one instance alone): it signs in at
// target as a browser does, through the development provider's login
// form, then drives path with the session cookie at each connection count.
// There is no server process of its own to ask for CPU time, so only the
// generator's is reported.
func runTarget(o options, target, path, cookieName string) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.maxTime)
	defer cancel()
	target = strings.TrimSuffix(target, "/")
	if !strings.HasPrefix(target, "http://") {
		return fmt.Errorf("-target must be an http:// URL")
	}
	cookie, err := signInThroughForm(ctx, target, cookieName)
	if err != nil {
		return fmt.Errorf("sign-in at %s: %w", target, err)
	}
	r := &runner{o: o, base: target, ctx: ctx}
	fmt.Printf("# oidcauth load test: %s%s\n\n%s\n\n", target, path, machineLine())
	fmt.Printf("Each row: the median of %d runs of %v (after %v of warm-up); session cookie %d B.\n\n", o.rounds, o.duration, o.warmup, len(cookie))
	fmt.Println("| connections | requests/s | p50 | p99 | generator CPU/request |")
	fmt.Println("|---|---|---|---|---|")
	for _, c := range o.conns {
		var rs []result
		for range o.rounds {
			res, err := r.scenario(path, cookie, c)
			if err != nil {
				return err
			}
			rs = append(rs, res)
		}
		m := median(rs)
		fmt.Printf("| %d | %.0f | %s | %s | %s |\n", c, m.rps, us(m.p50), us(m.p99), us(m.genCPU))
	}
	fmt.Printf("\nLoad average at the end: %s; %s UTC.\n", loadAverage(), time.Now().UTC().Format("2006-01-02 15:04"))
	if r.errors > 0 {
		return fmt.Errorf("%d requests failed", r.errors)
	}
	return nil
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	formInput  = regexp.MustCompile(`<input[^>]* name="([^"]+)" value="([^"]*)"`)
)

// signInThroughForm signs in at target/sign-in, submitting the
// development provider's login form with its defaults, and returns the
// Cookie header of the session (name, and name.1 … for chunks).
func signInThroughForm(ctx context.Context, target, name string) (string, error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, "GET", target+"/sign-in", nil)
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if m := formAction.FindSubmatch(page); m != nil {
		action, err := res.Request.URL.Parse(string(m[1]))
		if err != nil {
			return "", err
		}
		form := url.Values{"action": {"approve"}}
		for _, in := range formInput.FindAllSubmatch(page, -1) {
			form.Set(string(in[1]), string(in[2]))
		}
		res, err = client.PostForm(action.String(), form)
		if err != nil {
			return "", err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("sign-in ended at %s with %d", res.Request.URL.Path, res.StatusCode)
	}
	u, _ := url.Parse(target)
	var parts []string
	for _, c := range jar.Cookies(u) {
		if c.Name == name || strings.HasPrefix(c.Name, name+".") {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("no %s cookie after sign-in", name)
	}
	slices.Sort(parts)
	return strings.Join(parts, "; "), nil
}
