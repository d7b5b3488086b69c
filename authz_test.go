package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// authzFlow signs in a user whose ID token carries Logto's roles and
// organization claims and whose access token (issued for an API resource)
// is a JWT with scopes, then serves one route per requirement.
func authzFlow(t *testing.T, resource bool, mutate func(*Config)) *flow {
	t.Helper()
	user := oidcauthtest.User{
		Subject: "u-42", Name: "Grace", Email: "grace@example.com", EmailVerified: true,
		Extra: map[string]any{
			"roles":              []string{"editor", "viewer"},
			"organizations":      []string{"org-a", "org-b"},
			"organization_roles": []string{"org-a:admin", "org-b:member"},
			"level":              3,
		},
	}
	f := newFlow(t, oidcauthtest.Options{User: user, DefaultResource: true}, func(c *Config) {
		c.Scopes = []string{"openid", "profile", "email", "read:orders", "list:orders"}
		if resource {
			c.Resources = []string{"https://api.example.com"}
		}
		if mutate != nil {
			mutate(c)
		}
	})
	a := f.auth
	routes := map[string][]Requirement{
		"/role/admin":         {AnyRole("admin")},
		"/role/editor":        {AnyRole("admin", "editor")},
		"/role/none":          {AnyRole()},
		"/org/a":              {Organization("org-a")},
		"/org/c":              {Organization("org-c")},
		"/org/a/admin":        {OrganizationRole("org-a", "owner", "admin")},
		"/org/b/admin":        {OrganizationRole("org-b", "admin")},
		"/org/c/member":       {OrganizationRole("org-c", "member")},
		"/scope/read":         {Scope("read:orders")},
		"/scope/read-list":    {Scope("read:orders", "list:orders")},
		"/scope/write":        {Scope("read:orders", "write:orders")},
		"/claim/verified":     {Claim("email_verified", "true")},
		"/claim/level":        {Claim("level", "2", "3")},
		"/claim/name":         {Claim("name", "Ada")},
		"/claim/role":         {Claim("roles", "viewer")},
		"/claim/present":      {Claim("email")},
		"/claim/absent":       {Claim("department")},
		"/any/org-or-admin":   {AnyOf(AnyRole("admin"), Organization("org-b"))},
		"/any/neither":        {AnyOf(AnyRole("admin"), Organization("org-c"))},
		"/any/empty":          {AnyOf()},
		"/all/role-and-scope": {AnyRole("editor"), Scope("read:orders")},
		"/all/role-not-org":   {AnyRole("editor"), Organization("org-c")},
		"/nil":                {nil},
		"/none":               {},
		"/custom": {func(r *http.Request, u *User) bool {
			return r.Header.Get("X-Team") == "blue" && u.Subject == "u-42"
		}},
	}
	mux := http.NewServeMux()
	for path, reqs := range routes {
		mux.Handle(path, a.Require(reqs...)(protected))
	}
	mux.Handle("/api/admin", a.RequireAuthAPI(a.Require(AnyRole("admin"))(protected)))
	mux.Handle("/loaded/editor", a.LoadUser(a.Require(AnyRole("editor"))(protected)))
	mux.Handle("/", f.app.Config.Handler)
	f.app.Config.Handler = mux
	return f
}

func TestRequireRolesScopesOrganizations(t *testing.T) {
	t.Parallel()
	f := authzFlow(t, true, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)

	allowed := []string{"/role/editor", "/org/a", "/org/a/admin", "/scope/read", "/scope/read-list",
		"/claim/verified", "/claim/level", "/claim/role", "/claim/present", "/any/org-or-admin",
		"/all/role-and-scope", "/none"}
	forbidden := []string{"/role/admin", "/role/none", "/org/c", "/org/b/admin", "/org/c/member",
		"/scope/write", "/claim/name", "/claim/absent", "/any/neither", "/any/empty",
		"/all/role-not-org", "/nil", "/custom"}
	for _, path := range allowed {
		t.Run("allowed"+path, func(t *testing.T) {
			resp := f.get(path)
			wantStatus(t, resp, http.StatusOK)
			if got := body(t, resp); got != "hello u-42 Grace" {
				t.Fatalf("body %q: the user is not in the context", got)
			}
		})
	}
	for _, path := range forbidden {
		t.Run("forbidden"+path, func(t *testing.T) {
			resp := f.get(path)
			wantStatus(t, resp, http.StatusForbidden)
			b := body(t, resp)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(b, "You do not have permission") {
				t.Fatalf("browser 403: %s %q", ct, b)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
			resp = f.do("GET", path, http.Header{"Accept": {"application/json"}})
			wantStatus(t, resp, http.StatusForbidden)
			var got map[string]string
			if err := json.Unmarshal([]byte(body(t, resp)), &got); err != nil || got["error"] != "forbidden" {
				t.Fatalf("API 403 body %v (%v)", got, err)
			}
		})
	}
	t.Run("custom predicate reads the request", func(t *testing.T) {
		wantStatus(t, f.do("GET", "/custom", http.Header{"X-Team": {"blue"}}), http.StatusOK)
	})
	t.Run("a 403 keeps the session", func(t *testing.T) {
		wantStatus(t, f.get("/role/admin"), http.StatusForbidden)
		if !f.signedIn() {
			t.Fatal("signed out by a 403")
		}
	})
	t.Run("forbidden is logged without the user's name", func(t *testing.T) {
		logs := f.logs.String()
		if !strings.Contains(logs, "event=forbidden") || !strings.Contains(logs, "reason=forbidden") || !strings.Contains(logs, "user.sub=u-42") {
			t.Fatalf("no forbidden event in the log:\n%s", logs)
		}
		if strings.Contains(logs, "Grace") {
			t.Fatal("the user's name reached the log")
		}
	})
}

// Requests without a session are answered as RequireAuth answers them, and
// an outer RequireAuthAPI keeps its 401.
func TestRequireSignedOut(t *testing.T) {
	t.Parallel()
	f := authzFlow(t, true, nil)
	resp := f.get("/role/editor?x=1")
	wantStatus(t, resp, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != "/sign-in?returnTo=%2Frole%2Feditor%3Fx%3D1" {
		t.Fatalf("Location %q", got)
	}
	resp = f.do("GET", "/role/editor", http.Header{"Accept": {"application/json"}})
	wantStatus(t, resp, http.StatusUnauthorized)
	if resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("no WWW-Authenticate on 401")
	}
	wantStatus(t, f.get("/api/admin"), http.StatusUnauthorized)
	resp = f.get("/loaded/editor") // behind LoadUser, an anonymous request is still challenged
	wantStatus(t, resp, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != "/sign-in?returnTo=%2Floaded%2Feditor" {
		t.Fatalf("Location %q", got)
	}

	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	wantStatus(t, f.get("/api/admin"), http.StatusForbidden)
	wantStatus(t, f.get("/loaded/editor"), http.StatusOK)
}

// An opaque access token (no API resource at sign-in) grants no scope; the
// ID token claims still authorize.
func TestRequireScopeOpaqueAccessToken(t *testing.T) {
	t.Parallel()
	f := authzFlow(t, false, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	wantStatus(t, f.get("/scope/read"), http.StatusForbidden)
	wantStatus(t, f.get("/role/editor"), http.StatusOK)
}

func TestRequireUsesErrorHandler(t *testing.T) {
	t.Parallel()
	var got error
	f := authzFlow(t, true, func(c *Config) {
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(ErrorStatus(err))
			_, _ = w.Write([]byte("custom " + ErrorReason(err)))
		}
	})
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	resp := f.get("/role/admin")
	wantStatus(t, resp, http.StatusForbidden)
	if !errors.Is(got, ErrForbidden) || body(t, resp) != "custom forbidden" {
		t.Fatalf("ErrorHandler got %v", got)
	}
}

// Claim's matching rules on each JSON type, without a provider.
func TestClaimValues(t *testing.T) {
	t.Parallel()
	u := &User{claims: `{"s":"a b","n":2.5,"i":7,"t":true,"f":false,"z":null,"e":"","arr":["x",1,"y"],"empty":[],"obj":{"k":"v"},"esc\"aped":"q"}`}
	cases := []struct {
		name   string
		req    Requirement
		expect bool
	}{
		{"string equal", Claim("s", "a b"), true},
		{"string differs", Claim("s", "a"), false},
		{"number", Claim("n", "2.5"), true},
		{"integer", Claim("i", "7"), true},
		{"integer as float text", Claim("i", "7.0"), false},
		{"true", Claim("t", "true"), true},
		{"false is not true", Claim("f", "true"), false},
		{"false matches false", Claim("f", "false"), true},
		{"array element", Claim("arr", "y"), true},
		{"array number not matched as string", Claim("arr", "1"), false},
		{"array no element", Claim("arr", "z"), false},
		{"object never equals", Claim("obj", "v"), false},
		{"present string", Claim("s"), true},
		{"present true", Claim("t"), true},
		{"present false", Claim("f"), false},
		{"present null", Claim("z"), false},
		{"present empty string", Claim("e"), false},
		{"present empty array", Claim("empty"), false},
		{"present object", Claim("obj"), true},
		{"absent", Claim("nope"), false},
		{"absent with values", Claim("nope", ""), false},
		{"name that cannot be a struct tag", Claim(`esc"aped`, "q"), true},
		{"name that cannot be a struct tag, absent", Claim(`no,pe`), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.req(nil, u); got != c.expect {
				t.Fatalf("got %v, want %v", got, c.expect)
			}
		})
	}
	t.Run("nil user", func(t *testing.T) {
		for _, req := range []Requirement{Claim("s"), AnyRole("a"), Organization("o"), OrganizationRole("o", "r")} {
			if req(nil, nil) {
				t.Fatal("met without a user")
			}
		}
	})
	t.Run("malformed claims", func(t *testing.T) {
		bad := &User{claims: `{"roles":["admin"`}
		if AnyRole("admin")(nil, bad) || Claim("roles", "admin")(nil, bad) {
			t.Fatal("met on malformed JSON")
		}
	})
	t.Run("roles of another type", func(t *testing.T) {
		if AnyRole("admin")(nil, &User{claims: `{"roles":"admin"}`}) {
			t.Fatal("a string roles claim is not a role list")
		}
	})
}

// BenchmarkRequire measures the authorization helpers on the typical Logto
// session (its ID token carries roles and organizations, its JWT access
// token scopes), against RequireAuth alone.
func BenchmarkRequire(b *testing.B) {
	cases := []struct {
		name string
		mw   func(a *Auth) func(http.Handler) http.Handler
	}{
		{"require-auth", func(a *Auth) func(http.Handler) http.Handler { return a.RequireAuth }},
		{"any-role", func(a *Auth) func(http.Handler) http.Handler { return a.Require(AnyRole("admin")) }},
		{"organization-role", func(a *Auth) func(http.Handler) http.Handler {
			return a.Require(OrganizationRole("t7k2m9x1q4wz", "admin"))
		}},
		{"scope", func(a *Auth) func(http.Handler) http.Handler { return a.Require(Scope("read:orders")) }},
		{"claim", func(a *Auth) func(http.Handler) http.Handler { return a.Require(Claim("email_verified", "true")) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			a, r, _ := typicalRequest(b)
			var reached bool
			h := c.mw(a)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			w := nopWriter{http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				reached = false
				delete(w.h, "Cache-Control")
				h.ServeHTTP(w, r)
				if !reached {
					b.Fatal("the requirement was not met")
				}
			}
		})
	}
}

// Scope reads RFC 9068's space-separated "scope" and the "scp" claim some
// providers issue instead, as an array or a string.
func TestScopeClaimForms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		claims map[string]any
		want   []string
		expect bool
	}{
		{"scope string", map[string]any{"scope": "read:orders write:orders"}, []string{"write:orders", "read:orders"}, true},
		{"scope string missing one", map[string]any{"scope": "read:orders"}, []string{"read:orders", "write:orders"}, false},
		{"scope prefix is not a scope", map[string]any{"scope": "read:orders-all"}, []string{"read:orders"}, false},
		{"scp array", map[string]any{"scp": []string{"orders.read", "orders.write"}}, []string{"orders.write"}, true},
		{"scp string", map[string]any{"scp": "orders.read orders.write"}, []string{"orders.read", "orders.write"}, true},
		{"scope and scp together", map[string]any{"scope": "a", "scp": []string{"b"}}, []string{"a", "b"}, true},
		{"no scope claim", map[string]any{"sub": "u"}, []string{"a"}, false},
		{"scope of another type", map[string]any{"scope": 7}, []string{"7"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &session{accessToken: packToken(signRS256(t, c.claims))}
			r := httptest.NewRequest("GET", "/", nil)
			r = r.WithContext(context.WithValue(r.Context(), sessionContextKey, s))
			if got := Scope(c.want...)(r, &s.user); got != c.expect {
				t.Fatalf("got %v, want %v", got, c.expect)
			}
		})
	}
	t.Run("opaque access token", func(t *testing.T) {
		s := &session{accessToken: packToken("opaque-read:orders")}
		r := httptest.NewRequest("GET", "/", nil)
		r = r.WithContext(context.WithValue(r.Context(), sessionContextKey, s))
		if Scope("read:orders")(r, &s.user) {
			t.Fatal("an opaque token granted a scope")
		}
	})
	t.Run("no session in the context", func(t *testing.T) {
		if Scope()(httptest.NewRequest("GET", "/", nil), &User{}) {
			t.Fatal("met without a session")
		}
	})
}

// A plain OAuth 2.0 provider's profile never grants a role: its "roles"
// field is that provider's, not the OpenID provider's.
func TestRequireIgnoresOAuth2Profiles(t *testing.T) {
	t.Parallel()
	gh := github()
	gh.opts.Profile = map[string]any{"id": 42, "login": "octo", "roles": []string{"admin"}, "organizations": []string{"org-1"}}
	f := newOAuth2Flow(t, true, []*fake{gh}, nil)
	f.mux.Handle("/admin", f.auth.Require(AnyRole("admin"))(protected))
	f.mux.Handle("/org", f.auth.Require(Organization("org-1"))(protected))
	f.mux.Handle("/claim", f.auth.Require(Claim("roles", "admin"))(protected))
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	for _, path := range []string{"/admin", "/org", "/claim"} {
		wantStatus(t, f.get(path), http.StatusForbidden)
	}
}
