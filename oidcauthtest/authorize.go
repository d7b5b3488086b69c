package oidcauthtest

import (
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// authRequest is a validated authorization request (OIDC Core §3.1.2.1).
type authRequest struct {
	redirectURI string
	state       string
	nonce       string
	challenge   string
	scope       string
	resources   []string // RFC 8707 resource indicators, as Logto's SDKs send them
	signUp      bool     // Logto's first_screen=register or interaction_mode=signUp
	maxAge      string   // OIDC Core §3.1.2.1 max_age, as sent
	acrValues   []string // acr_values, in order of preference
	prompt      string
	created     time.Time
}

// grant is what an authorization code, and the tokens issued from it, stand
// for.
type grant struct {
	redirectURI string
	challenge   string
	nonce       string
	scope       string
	resources   []string // granted RFC 8707 resources
	user        User
	sid         string // the provider's session id (sid claim)
	authTime    int64
	acr         string    // "" leaves the acr claim out
	expires     time.Time // of the code, or of the access token
	used        bool      // a code is single use (RFC 6749 §4.1.2)
	family      *family   // tokens issued from one code, revoked together
}

// family ties together every token issued from one authorization code, so
// a replayed code or refresh token revokes them all (RFC 6749 §4.1.2,
// RFC 9700 §4.14.2).
type family struct{ revoked bool }

const (
	codeLifetime        = 10 * time.Minute
	interactionLifetime = 10 * time.Minute
)

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	m := p.count("authorize")
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	p.mu.Lock()
	p.lastAuthz = cloneValues(q)
	p.mu.Unlock()

	// Errors about the client or redirect URI are shown, never redirected:
	// the redirect URI cannot be trusted (RFC 6749 §4.1.2.1).
	if q.Get("client_id") != p.opts.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	req := &authRequest{
		redirectURI: q.Get("redirect_uri"),
		state:       q.Get("state"),
		nonce:       q.Get("nonce"),
		challenge:   q.Get("code_challenge"),
		scope:       q.Get("scope"),
		resources:   q["resource"],
		signUp:      q.Get("first_screen") == "register" || q.Get("interaction_mode") == "signUp",
		maxAge:      q.Get("max_age"),
		acrValues:   strings.Fields(q.Get("acr_values")),
		prompt:      q.Get("prompt"),
		created:     p.opts.Now(),
	}
	if !uriAllowed(req.redirectURI, p.opts.RedirectURIs) {
		http.Error(w, "redirect_uri is not registered", http.StatusBadRequest)
		return
	}
	switch {
	case m.AuthorizeError != "":
		p.redirectError(w, r, req, m.AuthorizeError, m)
	case q.Get("response_type") != "code":
		p.redirectError(w, r, req, "unsupported_response_type", m)
	case !slices.Contains(strings.Fields(req.scope), "openid"):
		p.redirectError(w, r, req, "invalid_scope", m)
	case q.Get("code_challenge_method") != "S256" || len(req.challenge) != 43:
		// PKCE is required, as Logto requires it (RFC 9700 §2.1.1).
		p.redirectError(w, r, req, "invalid_request", m)
	case !p.opts.LoginForm:
		p.approve(w, r, req, p.currentUser(), m)
	case q.Get("prompt") == "none":
		p.redirectError(w, r, req, "login_required", m)
	default:
		id := randomString()
		p.mu.Lock()
		for k, old := range p.pending {
			if p.opts.Now().Sub(old.created) > interactionLifetime {
				delete(p.pending, k)
			}
		}
		p.pending[id] = req
		p.mu.Unlock()
		p.showLoginForm(w, id, req)
	}
}

func (p *Provider) currentUser() User {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.user
}

// uriAllowed compares uri exactly with the registered ones or, with none
// registered, accepts any https URI and http on loopback hosts.
func uriAllowed(uri string, registered []string) bool {
	if len(registered) > 0 {
		return slices.Contains(registered, uri)
	}
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" || u.Fragment != "" {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	return u.Scheme == "http" && (host == "localhost" || (ip != nil && ip.IsLoopback()))
}

// approve issues a code for user and sends the browser back.
func (p *Provider) approve(w http.ResponseWriter, r *http.Request, req *authRequest, user User, m Misbehavior) {
	code := randomString()
	now := p.opts.Now()
	p.mu.Lock()
	authTime, acr := p.authenticate(req, now)
	p.codes[code] = &grant{
		redirectURI: req.redirectURI,
		challenge:   req.challenge,
		nonce:       req.nonce,
		scope:       req.scope,
		resources:   req.resources,
		user:        user,
		sid:         randomString()[:24],
		authTime:    authTime,
		acr:         acr,
		expires:     now.Add(codeLifetime),
		family:      &family{},
	}
	p.recorded(now)
	p.mu.Unlock()
	p.redirectBack(w, r, req, url.Values{"code": {code}}, m)
}

func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, req *authRequest, code string, m Misbehavior) {
	p.redirectBack(w, r, req, url.Values{"error": {code}, "error_description": {"the test provider answered " + code}}, m)
}

// redirectBack sends the authorization response to the redirect URI with
// state and the RFC 9207 iss parameter.
func (p *Provider) redirectBack(w http.ResponseWriter, r *http.Request, req *authRequest, params url.Values, m Misbehavior) {
	u, _ := url.Parse(req.redirectURI) // validated by uriAllowed
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if req.state != "" {
		q.Set("state", req.state)
	}
	switch {
	case m.OmitIssParameter:
	case m.IssParameter != "":
		q.Set("iss", m.IssParameter)
	default:
		q.Set("iss", p.issuer)
	}
	u.RawQuery = q.Encode()
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, u.String(), status)
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · development provider</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#222}
label{display:block;margin:.75rem 0 .25rem}input{font:inherit;width:100%;padding:.4rem;box-sizing:border-box}
button{font:inherit;margin:1rem .5rem 0 0;padding:.4rem 1rem;cursor:pointer}.note{color:#666;font-size:.9rem}</style>
</head><body><main>
<h1 id="login-title">{{.Title}}</h1>
<p class="note">Development provider (oidcauthtest): no password; any name and e-mail sign in. The e-mail decides the user's subject.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="interaction" value="{{.ID}}">
<label for="name">Name</label><input id="name" name="name" value="{{.User.Name}}" autocomplete="name">
<label for="email">E-mail</label><input id="email" name="email" type="email" value="{{.User.Email}}" autocomplete="email">
<button type="submit" name="action" value="approve" id="approve">Continue</button>
<button type="submit" name="action" value="cancel" id="cancel">Cancel</button>
</form>
</main></body></html>
`))

func (p *Provider) showLoginForm(w http.ResponseWriter, id string, req *authRequest) {
	title := "Sign in"
	if req.signUp {
		title = "Create your account"
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	_ = loginPage.Execute(w, struct {
		Title, Action, ID string
		User              User
	}{title, p.basePath + "/auth/interaction", id, p.currentUser()})
}

// interaction finishes a login form: approve with the entered name and
// e-mail, or cancel with access_denied. The interaction id is single use
// and unguessable, so it doubles as the form's CSRF token.
func (p *Provider) interaction(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get("interaction")
	p.mu.Lock()
	req := p.pending[id]
	delete(p.pending, id)
	m := p.m
	p.mu.Unlock()
	if req == nil || p.opts.Now().Sub(req.created) > interactionLifetime {
		http.Error(w, "this sign-in page has expired; start again from the app", http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("action") != "approve" {
		p.redirectError(w, r, req, "access_denied", m)
		return
	}
	user := p.currentUser()
	if name := strings.TrimSpace(r.PostForm.Get("name")); name != "" {
		user.Name = name
	}
	if email := strings.TrimSpace(r.PostForm.Get("email")); email != "" && email != user.Email {
		// Another e-mail is another person: give them their own subject.
		sum := sha256.Sum256([]byte(strings.ToLower(email)))
		user.Subject = "user-" + hex.EncodeToString(sum[:6])
		user.Email = email
		user.EmailVerified = false // typed in, never verified
		user.Username = ""
	}
	p.approve(w, r, req, user, m)
}

var signedOutPage = template.Must(template.New("out").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed out · development provider</title></head>
<body><main><h1 id="signed-out">You are signed out.</h1></main></body></html>
`))

// endSession is RP-Initiated Logout 1.0 §2: it checks id_token_hint when
// given and the post-logout redirect URI against the registered ones, then
// sends the browser there with state.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	p.count("end_session")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	q := r.Form
	if clientID := q.Get("client_id"); clientID != "" && clientID != p.opts.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	if hint := q.Get("id_token_hint"); hint != "" && !p.ownIDToken(hint) {
		http.Error(w, "id_token_hint was not issued by this provider to this client", http.StatusBadRequest)
		return
	}
	target := q.Get("post_logout_redirect_uri")
	if target == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = signedOutPage.Execute(w, nil)
		return
	}
	// §3: a post-logout URI needs the client identified.
	if (q.Get("client_id") == "" && q.Get("id_token_hint") == "") || !uriAllowed(target, p.opts.PostLogoutRedirectURIs) {
		http.Error(w, "post_logout_redirect_uri is not registered", http.StatusBadRequest)
		return
	}
	u, _ := url.Parse(target)
	if state := q.Get("state"); state != "" {
		v := u.Query()
		v.Set("state", state)
		u.RawQuery = v.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusFound)
}
