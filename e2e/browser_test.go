package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// setup is where the apps and the providers run, as scripts/e2e.sh started
// them: one example app signing in with node-oidc-provider, another with
// the zitadel/oidc example provider.
type setup struct {
	appURL        string // the example app, e.g. http://127.0.0.1:40123
	issuer        string // node-oidc-provider, e.g. http://127.0.0.1:40124/oidc
	debugURL      string // node-oidc-provider's record of what it received
	zitadelAppURL string // the example app signing in with zitadelop
	zitadelIssuer string // zitadelop, e.g. http://127.0.0.1:40125
	chromium      string
	artifacts     string
}

var (
	env setup
	// browser is the one Chromium of the run; each test opens its own
	// browser context in it, so no cookie leaks from one test to another.
	browser context.Context
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	env = setup{
		appURL:    strings.TrimSuffix(os.Getenv("E2E_APP_URL"), "/"),
		issuer:    os.Getenv("E2E_ISSUER"),
		debugURL:  strings.TrimSuffix(os.Getenv("E2E_PROVIDER_DEBUG"), "/"),
		chromium:  os.Getenv("E2E_CHROMIUM"),
		artifacts: os.Getenv("E2E_ARTIFACTS"),

		zitadelAppURL: strings.TrimSuffix(os.Getenv("E2E_ZITADEL_APP_URL"), "/"),
		zitadelIssuer: os.Getenv("E2E_ZITADEL_ISSUER"),
	}
	if env.appURL == "" || env.issuer == "" || env.debugURL == "" || env.zitadelAppURL == "" || env.zitadelIssuer == "" {
		fmt.Fprintln(os.Stderr, "e2e: E2E_APP_URL, E2E_ISSUER, E2E_PROVIDER_DEBUG, E2E_ZITADEL_APP_URL and E2E_ZITADEL_ISSUER are not all set; run ./scripts/e2e.sh, which starts the providers and the apps for these tests")
		return 2
	}
	if env.chromium == "" {
		env.chromium = "/usr/bin/chromium"
	}
	if env.artifacts == "" {
		dir, err := os.MkdirTemp("", "oidcauth-e2e-artifacts-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 2
		}
		env.artifacts = dir
	}
	if err := os.MkdirAll(env.artifacts, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	profile, err := os.MkdirTemp("", "oidcauth-e2e-chromium-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	defer os.RemoveAll(profile)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), browserOptions(profile)...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	started := time.Now()
	if err := chromedp.Do(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting %s: %v\n", env.chromium, err)
		return 2
	}
	fmt.Printf("e2e: %s started in %v; artifacts in %s\n", env.chromium, time.Since(started).Round(time.Millisecond), env.artifacts)
	browser = ctx
	code := m.Run()
	_ = chromedp.Cancel(ctx) // closes the browser cleanly before the profile goes
	return code
}

// browserOptions starts Debian's Chromium headless with a fresh profile,
// nothing in the background, and a resolver that finds no host at all: the
// app and the provider are reached by IP on loopback, and a page that tried
// to load anything from outside fails at once instead of waiting.
func browserOptions(profile string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(env.chromium),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1000, 800),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	}
}

// page is one browser tab, with what the test saw it load.
type page struct {
	t   *testing.T
	ctx context.Context
	app string // the example app this tab works with

	mu        sync.Mutex
	documents []document // every page the tab loaded, in order
	redirects []document // every redirect on the way to those pages, in order
	outside   []string   // requests that left this machine (there must be none)
}

// document is one page load's final response, or one redirect on the way.
type document struct {
	url      string
	status   int64
	location string // a redirect's Location
}

// newPage opens a tab in a browser context of its own (an empty cookie
// jar) for the app signing in with node-oidc-provider.
func newPage(t *testing.T) *page {
	t.Helper()
	return openPage(t, env.appURL, browser, chromedp.WithNewBrowserContext())
}

// newZitadelPage is newPage for the app signing in with zitadelop.
func newZitadelPage(t *testing.T) *page {
	t.Helper()
	return openPage(t, env.zitadelAppURL, browser, chromedp.WithNewBrowserContext())
}

// anotherTab opens a second tab sharing p's browser context (and cookies).
func (p *page) anotherTab() *page {
	p.t.Helper()
	return openPage(p.t, p.app, p.ctx)
}

func openPage(t *testing.T, app string, parent context.Context, opts ...chromedp.ContextOption) *page {
	t.Helper()
	p := &page{t: t, app: app}
	ctx, cancel := chromedp.NewContext(parent, append(opts, chromedp.WithListener(p.observe))...)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	p.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		cancelTimeout()
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	t.Cleanup(func() {
		p.mu.Lock()
		outside := p.outside
		p.mu.Unlock()
		if len(outside) > 0 {
			t.Errorf("the page requested resources outside this machine: %v", outside)
		}
		cancelTimeout()
		cancel()
	})
	return p
}

// observe runs on the tab's event loop: it only records.
func (p *page) observe(ev any) {
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if u, err := url.Parse(e.Request.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != "127.0.0.1" {
			p.mu.Lock()
			p.outside = append(p.outside, u.Scheme+"://"+u.Host)
			p.mu.Unlock()
		}
		if r := e.RedirectResponse; r != nil && e.Type == network.ResourceTypeDocument {
			location, _ := r.Headers["Location"].(string)
			p.mu.Lock()
			p.redirects = append(p.redirects, document{url: r.URL, status: r.Status, location: location})
			p.mu.Unlock()
		}
	case *network.EventResponseReceived:
		if e.Type == network.ResourceTypeDocument {
			p.mu.Lock()
			p.documents = append(p.documents, document{url: e.Response.URL, status: e.Response.Status})
			p.mu.Unlock()
		}
	}
}

// do runs browser steps; any failure ends the test, naming the step.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v (page at %s)", what, err, p.location())
	}
}

func (p *page) goTo(path string) {
	p.t.Helper()
	p.do("opening "+path, chromedp.Navigate(p.app+path))
}

// visited answers the page loads and the redirects since the first n
// loads and m redirects, as in p.documents and p.redirects.
func (p *page) visited(n, m int) (documents, redirects []document) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.documents[n:]), slices.Clone(p.redirects[m:])
}

// history answers how many page loads and redirects the tab has seen, for
// visited.
func (p *page) history() (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.documents), len(p.redirects)
}

// waitFor waits until the element is visible: the page it belongs to has
// loaded.
func (p *page) waitFor(css string) {
	p.t.Helper()
	p.do("waiting for "+css, chromedp.WaitVisible(chromedp.CSS(css)))
}

func (p *page) click(css string) {
	p.t.Helper()
	p.do("clicking "+css, chromedp.Click(chromedp.CSS(css)))
}

func (p *page) location() string {
	loc, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return loc
}

// text is the visible text of the element.
func (p *page) text(css string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		p.t.Fatalf("reading %s: %v (page at %s)", css, err, p.location())
	}
	return strings.TrimSpace(s)
}

// textContent is the text of the element, shown or not (e.g. inside a
// closed <details>).
func (p *page) textContent(css string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.TextContent(chromedp.CSS(css)))
	if err != nil {
		p.t.Fatalf("reading %s: %v (page at %s)", css, err, p.location())
	}
	return s
}

// lastDocument is the response of the page the tab shows now.
func (p *page) lastDocument() document {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.documents) == 0 {
		return document{}
	}
	return p.documents[len(p.documents)-1]
}

// appCookies are the cookies the browser holds for the app, by name. The
// provider's cookies (same host, another port) are left out by name.
func (p *page) appCookies() map[string]*network.Cookie {
	p.t.Helper()
	res, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.app + "/"}})
	if err != nil {
		p.t.Fatalf("reading cookies: %v", err)
	}
	out := make(map[string]*network.Cookie)
	for _, c := range res.Cookies {
		if strings.HasPrefix(c.Name, appCookie) {
			out[c.Name] = c
		}
	}
	return out
}

// clientID is the app's client at node-oidc-provider (scripts/e2e.sh).
const clientID = "oidcauth-e2e"

// appCookie is the example app's session cookie name (oidcauth's default);
// sign-in transactions are appCookie+"_tx.<id>".
const appCookie = "oidcauth"

func transactionCookies(cookies map[string]*network.Cookie) []string {
	var names []string
	for name := range cookies {
		if strings.HasPrefix(name, appCookie+"_tx.") {
			names = append(names, name)
		}
	}
	return names
}

// screenshot saves what the tab shows as a test artifact.
func (p *page) screenshot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(env.artifacts, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Errorf("saving %s: %v", path, err)
		return
	}
	p.t.Logf("screenshot: %s", path)
}

// fetchJSON calls the app from inside the page (same origin, the page's
// cookies) and answers the status and the decoded body.
func (p *page) fetchJSON(path string) (int, map[string]any) {
	p.t.Helper()
	type answer struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	js := fmt.Sprintf(`fetch(%q, {headers: {Accept: "application/json"}, credentials: "same-origin", redirect: "manual"})
		.then(async r => ({status: r.status, body: await r.text()}))`, path)
	a, err := chromedp.Run(p.ctx, chromedp.Evaluate[answer](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("fetching %s from the page: %v", path, err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(a.Body), &body); err != nil {
		p.t.Fatalf("%s answered %d with a body that is not a JSON object: %.200q", path, a.Status, a.Body)
	}
	return a.Status, body
}

// providerRequest is what node-oidc-provider recorded of one authorization,
// end-session or token request (provider.js, /debug/…): the parameters that are
// not secret, and whether the others were there.
type providerRequest struct {
	ClientID              string `json:"client_id"`
	ResponseType          string `json:"response_type"`
	Scope                 string `json:"scope"`
	Prompt                string `json:"prompt"`
	RedirectURI           string `json:"redirect_uri"`
	CodeChallengeMethod   string `json:"code_challenge_method"`
	FirstScreen           string `json:"first_screen"`
	InteractionMode       string `json:"interaction_mode"`
	LoginHint             string `json:"login_hint"`
	MaxAge                string `json:"max_age"`
	Resource              any    `json:"resource"`
	PostLogoutRedirectURI string `json:"post_logout_redirect_uri"`
	HasState              bool   `json:"has_state"`
	HasNonce              bool   `json:"has_nonce"`
	HasCodeChallenge      bool   `json:"has_code_challenge"`
	HasIDTokenHint        bool   `json:"has_id_token_hint"`

	// Token requests only.
	GrantType       string `json:"grant_type"`
	Status          int    `json:"status"` // the provider's answer
	HasCode         bool   `json:"has_code"`
	HasCodeVerifier bool   `json:"has_code_verifier"`
	HasRefreshToken bool   `json:"has_refresh_token"`
	// Fingerprints (the start of a SHA-256) of the refresh token the
	// request presented and of the one the provider answered with.
	RefreshToken       string `json:"refresh_token_fingerprint"`
	IssuedRefreshToken string `json:"issued_refresh_token_fingerprint"`

	// Back-channel logouts the provider sent ("backchannel-logouts").
	Sub       string `json:"sub"`
	SID       string `json:"sid"`
	Delivered bool   `json:"delivered"`
	Error     string `json:"error"`

	// Token revocations the provider received ("revocations").
	TokenTypeHint string `json:"token_type_hint"`
	Token         string `json:"token_fingerprint"`
}

// resources is the resource parameter as the provider recorded it: one
// value, several, or none.
func (r providerRequest) resources() []string { return stringOrList(r.Resource) }

// stringOrList reads a decoded JSON value that is one string or an array
// of strings (a repeated parameter, a JWT's aud).
func stringOrList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// received answers the requests of one kind ("authorizations",
// "end-sessions", "tokens", "backchannel-logouts") the provider has had (or
// sent) so far, oldest first.
func received(t *testing.T, kind string) []providerRequest {
	t.Helper()
	res, err := http.Get(env.debugURL + "/" + kind)
	if err != nil {
		t.Fatalf("asking the provider what it received: %v", err)
	}
	defer res.Body.Close()
	var out []providerRequest
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the provider's record of %s answered %s", kind, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("decoding the provider's record of %s: %v", kind, err)
	}
	return out
}

// receivedSince answers the requests of one kind after the first n.
func receivedSince(t *testing.T, kind string, n int) []providerRequest {
	t.Helper()
	all := received(t, kind)
	if n > len(all) {
		t.Fatalf("the provider's record of %s shrank from %d to %d (restarted?)", kind, n, len(all))
	}
	return all[n:]
}
