//go:build multi

// Package multi tests several instances of examples/redis behind a
// round-robin proxy, on a real Redis, signing in with node-oidc-provider
// configured as Logto is (refresh tokens rotate; a second use of one
// revokes the grant) and a short access-token lifetime.
// scripts/multi-e2e.sh starts all that and runs these tests
// (go test -tags multi); they do not build without the tag.
package multi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// setup is what scripts/multi-e2e.sh started.
var setup struct {
	base      string   // the proxy, BASE_URL of every instance
	instances []string // each instance, reached directly
	issuer    string   // node-oidc-provider
	debug     string   // its record of what it received
	tokenTTL  time.Duration
}

func TestMain(m *testing.M) {
	setup.base = strings.TrimSuffix(os.Getenv("MULTI_BASE_URL"), "/")
	setup.instances = strings.Fields(os.Getenv("MULTI_INSTANCES"))
	setup.issuer = os.Getenv("MULTI_ISSUER")
	setup.debug = strings.TrimSuffix(os.Getenv("MULTI_PROVIDER_DEBUG"), "/")
	ttl, _ := strconv.Atoi(os.Getenv("MULTI_ACCESS_TOKEN_TTL"))
	setup.tokenTTL = time.Duration(ttl) * time.Second
	if setup.base == "" || len(setup.instances) < 2 || setup.issuer == "" || setup.debug == "" || ttl <= 30 {
		fmt.Fprintln(os.Stderr, "multi: MULTI_BASE_URL, MULTI_INSTANCES (two or more), MULTI_ISSUER, MULTI_PROVIDER_DEBUG and MULTI_ACCESS_TOKEN_TTL (> 30) are not all set; run ./scripts/multi-e2e.sh")
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// browser is one browser of a user: a cookie jar that follows redirects,
// for the app (through the proxy or on an instance: cookies ignore the
// port) and the provider alike.
type browser struct {
	t      *testing.T
	login  string
	client *http.Client
}

var (
	formAction  = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"/>`)
)

// signIn opens a new browser and signs in as login through the proxy:
// the provider's sign-in form (any password), its consent screen, back to
// the app.
func signIn(t *testing.T, login string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, login: login, client: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
	resp, page := b.do("GET", setup.base+"/sign-in", nil)
	resp, page = b.submit(resp, page, url.Values{"login": {login}, "password": {"any password"}})
	resp, _ = b.submit(resp, page, nil)
	if got := resp.Request.URL.String(); got != setup.base+"/" || resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in as %s ended at %s (%d)", login, got, resp.StatusCode)
	}
	return b
}

// submit posts the page's form with its hidden fields and more.
func (b *browser) submit(resp *http.Response, page string, more url.Values) (*http.Response, string) {
	b.t.Helper()
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no form at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, page)
	}
	action, err := resp.Request.URL.Parse(m[1])
	if err != nil {
		b.t.Fatal(err)
	}
	form := url.Values{}
	for _, h := range hiddenInput.FindAllStringSubmatch(page, -1) {
		form.Set(h[1], h[2])
	}
	for k, v := range more {
		form[k] = v
	}
	return b.do("POST", action.String(), form)
}

func (b *browser) do(method, target string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// The page with the form came from the provider or the app (at
		// BASE_URL, whichever instance served it).
		origin := setup.base
		if strings.HasPrefix(target, originOf(setup.issuer)+"/") {
			origin = originOf(setup.issuer)
		}
		req.Header.Set("Origin", origin)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp, string(page)
}

func originOf(target string) string {
	u, _ := url.Parse(target)
	return u.Scheme + "://" + u.Host
}

// cookie is a copy of the app's cookies as the browser holds them now.
func (b *browser) cookie() string {
	u, _ := url.Parse(setup.base)
	var pairs []string
	for _, c := range b.client.Jar.Cookies(u) {
		pairs = append(pairs, c.Name+"="+c.Value)
	}
	return strings.Join(pairs, "; ")
}

// get sends one request with cookie and nothing else of a browser's, and
// answers the status, the body and the cookies it set.
func get(t *testing.T, target, cookie string) (int, string, []*http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Cookies()
}

// everyInstance asserts that cookie gets want at /api/me on each
// instance, within d (0: at once): what one instance learned reaches the
// others through Redis.
func everyInstance(t *testing.T, cookie string, want int, d time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, inst := range setup.instances {
		for {
			status, _, _ := get(t, inst+"/api/me", cookie)
			if status == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s/api/me answers %d, want %d within %v", what, inst, status, want, d)
			}
			time.Sleep(20 * time.Millisecond) // another process learning it
		}
	}
}

// tokenRequest is what node-oidc-provider's /debug/tokens recorded of one
// token request.
type tokenRequest struct {
	GrantType string `json:"grant_type"`
	Status    int    `json:"status"`
}

// tokenRequests is every token request the provider received, oldest
// first (it keeps the last 100).
func tokenRequests(t *testing.T) []tokenRequest {
	t.Helper()
	resp, err := http.Get(setup.debug + "/tokens")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []tokenRequest
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list) >= 100 {
		t.Fatal("the provider's record of token requests is full; counting new ones needs a fresh provider")
	}
	return list
}

// 20 requests at once carry one stale cookie (its access token due for
// refresh), half to each instance: all succeed, the provider sees one
// refresh grant, and the session works on every instance afterwards. Two
// grants would be one refresh token spent twice, and the provider would
// revoke the session.
func TestConcurrentStaleCookieRefreshesOnce(t *testing.T) {
	b := signIn(t, "ada")
	signedIn := time.Now()
	stale := b.cookie()
	everyInstance(t, stale, http.StatusOK, 0, "signed in")
	before := len(tokenRequests(t))

	// oidcauth refreshes 30 s before expiry: wait until the token from the
	// sign-in is due.
	time.Sleep(time.Until(signedIn.Add(setup.tokenTTL - 30*time.Second + 200*time.Millisecond)))
	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	fresh := make([]string, n)
	for i := range n {
		wg.Go(func() {
			status, _, cookies := get(t, setup.base+"/api/token", stale)
			statuses[i] = status
			for _, c := range cookies {
				if c.MaxAge >= 0 && c.Value != "" {
					fresh[i] += c.Name + "=" + c.Value + "; "
				}
			}
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("request %d of %d: /api/token answered %d", i+1, n, s)
		}
	}
	var grants []tokenRequest
	for _, r := range tokenRequests(t)[before:] {
		if r.GrantType == "refresh_token" {
			grants = append(grants, r)
		}
	}
	if len(grants) != 1 || grants[0].Status != http.StatusOK {
		t.Fatalf("the provider received %d refresh grants (%+v), want exactly 1, answered 200", len(grants), grants)
	}

	// The session, as the browser now holds it and as the stale copy,
	// works on every instance, without another grant.
	var updated string
	for _, c := range fresh {
		if c != "" {
			updated = strings.TrimSuffix(c, "; ")
			break
		}
	}
	if updated == "" {
		t.Fatal("no answer updated the session cookie")
	}
	for _, cookie := range []string{updated, stale} {
		for _, inst := range setup.instances {
			if status, body, _ := get(t, inst+"/api/token", cookie); status != http.StatusOK {
				t.Errorf("after the refresh, %s/api/token answers %d: %s", inst, status, body)
			}
		}
	}
	var after int
	for _, r := range tokenRequests(t)[before:] {
		if r.GrantType == "refresh_token" {
			after++
		}
	}
	if after != 1 {
		t.Errorf("the cookies after the refresh made %d more refresh grants", after-1)
	}
}

// The provider tells one instance (through the proxy) that the user's
// provider session ended: every instance refuses the session within one
// second.
func TestBackChannelLogoutReachesEveryInstance(t *testing.T) {
	b := signIn(t, "grace")
	cookie := b.cookie()
	everyInstance(t, cookie, http.StatusOK, 0, "signed in")

	// The provider's own end-session page, answered "yes": the app never
	// sees this browser sign out, only the provider's back-channel logout,
	// which it delivers before it answers.
	resp, page := b.do("GET", setup.issuer+"/session/end", nil)
	resp, _ = b.submit(resp, page, url.Values{"logout": {"yes"}})
	if !strings.Contains(resp.Request.URL.Path, "/session/end/success") {
		t.Fatalf("the provider's sign-out ended at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	everyInstance(t, cookie, http.StatusUnauthorized, time.Second, "after the back-channel logout")
}

// Sign-out on one instance: a copy of the cookie taken before is refused
// on the other.
func TestSignOutOnOneInstanceHoldsOnTheOthers(t *testing.T) {
	b := signIn(t, "alan")
	copied := b.cookie()
	everyInstance(t, copied, http.StatusOK, 0, "signed in")
	resp, _ := b.do("POST", setup.instances[0]+"/sign-out", url.Values{})
	if resp.StatusCode >= 400 {
		t.Fatalf("sign-out at %s: %d", setup.instances[0], resp.StatusCode)
	}
	everyInstance(t, copied, http.StatusUnauthorized, time.Second, "after sign-out on "+setup.instances[0])
}

// "Sign out on every device" in one browser, through the proxy: every
// browser of that user is signed out on every instance within a second;
// another user's session is untouched.
func TestSignOutEverywhereEndsEveryBrowser(t *testing.T) {
	first, second, other := signIn(t, "edsger"), signIn(t, "edsger"), signIn(t, "barbara")
	cookies := []string{first.cookie(), second.cookie()}
	for _, c := range append(cookies, other.cookie()) {
		everyInstance(t, c, http.StatusOK, 0, "signed in")
	}
	resp, _ := first.do("POST", setup.base+"/sign-out-everywhere", url.Values{})
	if resp.StatusCode >= 400 {
		t.Fatalf("sign-out everywhere: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	for i, c := range cookies {
		everyInstance(t, c, http.StatusUnauthorized, time.Second, fmt.Sprintf("browser %d after sign-out everywhere", i+1))
	}
	everyInstance(t, other.cookie(), http.StatusOK, 0, "another user after sign-out everywhere")
}

// The provider punishes reuse, or the concurrent test could pass without
// coordination: a refresh token spent twice revokes the grant, and the
// token that replaced it is refused too.
func TestProviderRevokesGrantOnRefreshReuse(t *testing.T) {
	b := &browser{t: t, login: "reuse"}
	jar, _ := cookiejar.New(nil)
	b.client = &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), setup.base+"/callback") {
			return http.ErrUseLastResponse // the code is ours, not the app's
		}
		return nil
	}}
	id, secret := os.Getenv("MULTI_CLIENT_ID"), os.Getenv("MULTI_CLIENT_SECRET")
	verifier := strings.Repeat("v", 43)
	authz := setup.issuer + "/auth?" + url.Values{
		"client_id": {id}, "response_type": {"code"}, "redirect_uri": {setup.base + "/callback"},
		"scope": {"openid offline_access"}, "prompt": {"consent"}, "state": {"s"},
		"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"},
	}.Encode()
	resp, page := b.do("GET", authz, nil)
	resp, page = b.submit(resp, page, url.Values{"login": {"reuse"}, "password": {"x"}})
	resp, _ = b.submit(resp, page, nil)
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || cb.Query().Get("code") == "" {
		t.Fatalf("no code: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	token := func(form url.Values) (int, map[string]any) {
		req, _ := http.NewRequest("POST", setup.issuer+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, out := token(url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "redirect_uri": {setup.base + "/callback"}, "code_verifier": {verifier}})
	first, _ := out["refresh_token"].(string)
	if status != http.StatusOK || first == "" {
		t.Fatalf("code exchange: %d %v", status, out["error"])
	}
	refresh := func(rt string) (int, string) {
		status, out := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		next, _ := out["refresh_token"].(string)
		return status, next
	}
	status, second := refresh(first)
	if status != http.StatusOK || second == "" || second == first {
		t.Fatalf("first refresh: %d, rotated %v", status, second != first)
	}
	if status, _ := refresh(first); status != http.StatusBadRequest {
		t.Errorf("the spent refresh token again: %d, want 400", status)
	}
	if status, _ := refresh(second); status != http.StatusBadRequest {
		t.Errorf("after the reuse, the token that replaced it: %d, want 400 (grant revoked)", status)
	}
}

// s256 is PKCE's S256 code challenge of verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
