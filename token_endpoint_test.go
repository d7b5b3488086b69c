package oidcauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// fakeTokenEndpoint answers every request with status, contentType and
// body, and keeps the last request with its form.
func fakeTokenEndpoint(t *testing.T, status int, contentType, body string) (*httptest.Server, *http.Request) {
	t.Helper()
	last := new(http.Request)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		*last = *r.Clone(context.Background())
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, last
}

// One mapping of token endpoint errors for every grant and provider: the
// class, and so the status, depends on the error code and the grant, never
// on which provider answered or in which format.
func TestTokenEndpointErrorClasses(t *testing.T) {
	t.Parallel()
	const js, form = "application/json", "application/x-www-form-urlencoded"
	secretText := "echo of s3cr3t-refresh-token-value"
	answers := []struct {
		name        string
		status      int
		jsonBody    string // as an RFC 6749 §5.2 provider answers
		formBody    string // as GitHub answers: 200, form-encoded
		code        string // ProviderError.Code wanted; "" for none
		atCode      error  // class at the code exchange
		atRefresh   error  // class at a refresh
		wantNoError bool
	}{
		{"invalid_grant", 400, `{"error":"invalid_grant"}`, "error=invalid_grant", "invalid_grant", ErrCodeRejected, ErrNotSignedIn, false},
		{"GitHub's bad_verification_code", 400, `{"error":"bad_verification_code"}`, "error=bad_verification_code", "invalid_grant", ErrCodeRejected, ErrNotSignedIn, false},
		{"GitHub's bad_refresh_token", 400, `{"error":"bad_refresh_token"}`, "error=bad_refresh_token", "invalid_grant", ErrCodeRejected, ErrNotSignedIn, false},
		{"access_denied", 403, `{"error":"access_denied"}`, "error=access_denied", "access_denied", ErrAccessDenied, ErrAccessDenied, false},
		{"invalid_target", 400, `{"error":"invalid_target"}`, "error=invalid_target", "invalid_target", ErrTokenEndpoint, ErrAccessDenied, false},
		{"invalid_scope", 400, `{"error":"invalid_scope"}`, "error=invalid_scope", "invalid_scope", ErrTokenEndpoint, ErrAccessDenied, false},
		{"unauthorized_client", 400, `{"error":"unauthorized_client"}`, "error=unauthorized_client", "unauthorized_client", ErrTokenEndpoint, ErrAccessDenied, false},
		{"invalid_client with a secret in its text", 401, `{"error":"invalid_client","error_description":"` + secretText + `"}`,
			"error=invalid_client&error_description=" + url.QueryEscape(secretText), "invalid_client", ErrTokenEndpoint, ErrTokenEndpoint, false},
		{"server_error", 500, `{"error":"server_error"}`, "error=server_error", "server_error", ErrTokenEndpoint, ErrTokenEndpoint, false},
	}
	providers := []struct {
		name   string
		format TokenResponseFormat
		oauth2 bool // GitHub's style: 200, form-encoded
	}{
		{"OpenID provider", TokenResponseJSON, false},
		{"OAuth 2.0 JSON", TokenResponseJSON, true},
		{"OAuth 2.0 query-string", TokenResponseQueryString, true},
	}
	for _, p := range providers {
		for _, a := range answers {
			for _, g := range []grantType{grantCode, grantRefresh} {
				t.Run(p.name+"/"+a.name+"/"+string(g), func(t *testing.T) {
					status, ctype, body := a.status, js, a.jsonBody
					if p.format == TokenResponseQueryString {
						status, ctype, body = http.StatusOK, form, a.formBody
					}
					srv, _ := fakeTokenEndpoint(t, status, ctype, body)
					e := &tokenEndpoint{url: srv.URL, clientID: "c", secret: "s", auth: ClientSecretPost, format: p.format, oidc: !p.oauth2}
					var err error
					want := a.atCode
					if g == grantCode {
						_, err = e.exchange(context.Background(), limitedClient(nil), "the-code", "https://app.example.com/cb", "v", nil, time.Unix(1000, 0))
					} else {
						_, err = e.refresh(context.Background(), limitedClient(nil), "s3cr3t-refresh-token-value", nil, time.Unix(1000, 0))
						want = a.atRefresh
					}
					if !errors.Is(err, want) {
						t.Fatalf("err %v, want %v", err, want)
					}
					var pe *ProviderError
					if !errors.As(err, &pe) || pe.Code != a.code || pe.StatusCode != status {
						t.Errorf("provider error %+v, want code %q status %d", pe, a.code, status)
					}
					if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "echo") {
						t.Errorf("error text carries the response body: %v", err)
					}
				})
			}
		}
	}
}

// Answers that are not OAuth errors are ErrTokenEndpoint (502) for every
// grant, and say nothing of the body.
func TestTokenEndpointBadAnswers(t *testing.T) {
	t.Parallel()
	huge := `{"access_token":"` + strings.Repeat("x", maxTokenResponseBytes) + `","token_type":"Bearer"}`
	cases := []struct {
		name, ctype, body string
		status            int
		format            TokenResponseFormat
	}{
		{"a proxy's page", "text/html", "<html>Bad gateway s3cr3t</html>", 502, TokenResponseJSON},
		{"HTML with 200", "text/html", "<html>s3cr3t</html>", 200, TokenResponseJSON},
		{"no access_token", "application/json", `{"token_type":"Bearer","refresh_token":"s3cr3t"}`, 200, TokenResponseJSON},
		{"not Bearer", "application/json", `{"access_token":"s3cr3t","token_type":"DPoP"}`, 200, TokenResponseJSON},
		{"JSON where form is configured", "application/json", `{"access_token":"s3cr3t"}`, 200, TokenResponseQueryString},
		{"larger than 64 KiB", "application/json", huge, 200, TokenResponseJSON},
	}
	for _, tc := range cases {
		for _, g := range []grantType{grantCode, grantRefresh} {
			t.Run(tc.name+"/"+string(g), func(t *testing.T) {
				srv, _ := fakeTokenEndpoint(t, tc.status, tc.ctype, tc.body)
				e := &tokenEndpoint{url: srv.URL, clientID: "c", secret: "s", auth: ClientSecretBasic, format: tc.format, oidc: true}
				_, err := e.grant(context.Background(), limitedClient(nil), g, url.Values{"grant_type": {string(g)}}, time.Unix(1000, 0))
				if !errors.Is(err, ErrTokenEndpoint) || ErrorStatus(err) != http.StatusBadGateway {
					t.Fatalf("err %v, want ErrTokenEndpoint", err)
				}
				var pe *ProviderError
				if errors.As(err, &pe) && (pe.Code != "" || pe.StatusCode != tc.status) {
					t.Errorf("provider error %+v", pe)
				}
				if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "xxxx") {
					t.Errorf("error text carries the response body: %v", err)
				}
			})
		}
	}
}

// Each client authentication method, as the token endpoint sees it; the
// id and secret are form-encoded inside Basic (RFC 6749 §2.3.1).
func TestTokenEndpointClientAuth(t *testing.T) {
	t.Parallel()
	const id, secret = "client:1+é", "a secret/with:odd%chars-and-forty-bytes!!"
	cases := []struct {
		auth      AuthMethod
		format    TokenResponseFormat
		wantForm  []string // fields beyond the grant's
		notInForm []string
	}{
		{ClientSecretBasic, TokenResponseJSON, nil, []string{"client_id", "client_secret", "client_assertion"}},
		{ClientSecretPost, TokenResponseQueryString, []string{"client_id", "client_secret"}, []string{"client_assertion"}},
		{ClientSecretJWT, TokenResponseJSON, []string{"client_id", "client_assertion", "client_assertion_type"}, []string{"client_secret"}},
		{"", TokenResponseJSON, []string{"client_id"}, []string{"client_secret", "client_assertion"}},
	}
	for _, tc := range cases {
		t.Run(string(tc.auth), func(t *testing.T) {
			srv, last := fakeTokenEndpoint(t, 200, "application/json", `{"access_token":"at","token_type":"bearer","expires_in":60}`)
			if tc.format == TokenResponseQueryString {
				srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_ = r.ParseForm()
					*last = *r.Clone(context.Background())
					_, _ = io.WriteString(w, "access_token=at&token_type=bearer&expires_in=60")
				})
			}
			e := &tokenEndpoint{url: srv.URL, clientID: id, secret: secret, auth: tc.auth, jwtAlg: "HS256", format: tc.format}
			tr, err := e.refresh(context.Background(), limitedClient(nil), "rt", url.Values{"resource": {"https://api.example.com"}}, time.Unix(1000, 0))
			if err != nil {
				t.Fatal(err)
			}
			if tr.AccessToken != "at" || tr.expiry(1000) != 1060 {
				t.Errorf("answer %+v", tr)
			}
			f := last.PostForm
			if f.Get("grant_type") != "refresh_token" || f.Get("refresh_token") != "rt" || f.Get("resource") != "https://api.example.com" {
				t.Errorf("form %v", f)
			}
			for _, k := range tc.wantForm {
				if !f.Has(k) {
					t.Errorf("form lacks %s: %v", k, f)
				}
			}
			for _, k := range tc.notInForm {
				if f.Has(k) {
					t.Errorf("form has %s", k)
				}
			}
			if tc.wantForm != nil && f.Get("client_id") != id {
				t.Errorf("client_id %q", f.Get("client_id"))
			}
			user, pass, basic := last.BasicAuth()
			if basic != (tc.auth == ClientSecretBasic) {
				t.Fatalf("Basic header present: %v", basic)
			}
			if basic && (user != url.QueryEscape(id) || pass != url.QueryEscape(secret)) {
				t.Errorf("Basic %q %q: not form-encoded", user, pass)
			}
			if tc.auth == ClientSecretJWT {
				c := verifyHS(t, f.Get("client_assertion"), "HS256", []byte(secret))
				if c["aud"] != srv.URL || c["iss"] != id {
					t.Errorf("assertion claims %v", c)
				}
			}
			if accept := last.Header.Get("Accept"); (accept == "application/json") != (tc.format == TokenResponseJSON) {
				t.Errorf("Accept %q for %s", accept, tc.format)
			}
		})
	}
}

// A plain OAuth 2.0 provider's id_token is dropped: nothing can verify it.
func TestTokenEndpointDropsUnverifiableIDToken(t *testing.T) {
	t.Parallel()
	srv, _ := fakeTokenEndpoint(t, 200, "application/json", `{"access_token":"at","id_token":"a.b.c"}`)
	for _, oidc := range []bool{true, false} {
		e := &tokenEndpoint{url: srv.URL, clientID: "c", secret: "s", auth: ClientSecretPost, format: TokenResponseJSON, oidc: oidc}
		tr, err := e.exchange(context.Background(), limitedClient(nil), "code", "https://app.example.com/cb", "", nil, time.Unix(1000, 0))
		if err != nil || (tr.IDToken != "") != oidc {
			t.Errorf("oidc %v: id_token %q, %v", oidc, tr.IDToken, err)
		}
	}
}

// A plain OAuth 2.0 provider refusing a refresh with access_denied is a
// refusal (403) as at the OpenID provider, not a failing provider (502);
// the session stays.
func TestOAuth2RefreshRefused(t *testing.T) {
	t.Parallel()
	gh := github()
	gh.opts.RefreshTokens = true
	f := newOAuth2Flow(t, true, []*fake{gh}, nil)
	var lastErr error
	f.mux.Handle("/token", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lastErr = f.auth.AccessToken(w, r, "")
		if lastErr != nil {
			w.WriteHeader(ErrorStatus(lastErr))
		}
	})))
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	f.clock.Advance(8 * time.Hour)
	gh.srv.Misbehave(oidcauthtest.OAuth2Misbehavior{TokenError: "access_denied"})
	wantStatus(t, f.get("/token"), http.StatusForbidden)
	if !errors.Is(lastErr, ErrAccessDenied) || !f.signedIn() {
		t.Errorf("refused refresh: %v, signed in %v", lastErr, f.signedIn())
	}
}

// access_denied at the code exchange refuses the sign-in (403) at both
// kinds of provider, and leaves no session.
func TestCodeExchangeRefused(t *testing.T) {
	t.Parallel()
	t.Run("OpenID provider", func(t *testing.T) {
		f := newFlow(t, oidcauthtest.Options{}, nil)
		f.idp.Misbehave(oidcauthtest.Misbehavior{TokenStatus: http.StatusBadRequest, TokenBody: `{"error":"access_denied"}`})
		wantStatus(t, f.signIn("/sign-in"), http.StatusForbidden)
		if f.signedIn() {
			t.Error("signed in")
		}
	})
	t.Run("OAuth 2.0 provider", func(t *testing.T) {
		gh := github()
		f := newOAuth2Flow(t, true, []*fake{gh}, nil)
		gh.srv.Misbehave(oidcauthtest.OAuth2Misbehavior{TokenError: "access_denied"})
		wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusForbidden)
		if f.signedIn() {
			t.Error("signed in")
		}
	})
}

// readBounded takes a body of exactly the limit, refuses one byte more,
// and reads bodies with or without a Content-Length.
func TestReadBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n        int
		declared bool
		ok       bool
	}{{0, true, true}, {100, true, true}, {1024, true, true}, {1025, true, false}, {1024, false, true}, {1025, false, false}, {5000, false, false}, {700, false, true}} {
		res := &http.Response{Body: io.NopCloser(strings.NewReader(strings.Repeat("a", tc.n))), ContentLength: -1}
		if tc.declared {
			res.ContentLength = int64(tc.n)
		}
		got, err := readBounded(res, 1024)
		if tc.ok != (err == nil) || (tc.ok && len(got) != tc.n) {
			t.Errorf("%d bytes (declared %v): %d read, %v", tc.n, tc.declared, len(got), err)
		}
	}
}

// TestTokenResponseFormats feeds real providers' token responses to the
// token request, in each configured format.
func TestTokenResponseFormats(t *testing.T) {
	t.Parallel()
	const form, js = "application/x-www-form-urlencoded; charset=utf-8", "application/json; charset=utf-8"
	cases := []struct {
		name, file, contentType string
		format                  TokenResponseFormat
		status                  int
		wantToken, wantRefresh  string
		wantExpiresIn           int64
		wantErr                 error
		wantCode                string
	}{
		{"GitHub form", "github-token.txt", form, TokenResponseQueryString, 200, "gho_16C7e42F292c6912E7710c838347Ae178B4a", "", 0, nil, ""},
		{"GitHub form with refresh", "github-token-refresh.txt", form, TokenResponseQueryString, 200, "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
			"ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498", 28800, nil, ""},
		{"JSON", "token.json", js, TokenResponseJSON, 200, "ya29.a0AfB_byC7xQ2kVd9e8cFq3Lm1nOp4RsTu5VwXyZ", "1//0gXk3Yz7Lm9QrStUv-L9IrWx2Yz", 3599, nil, ""},
		{"GitHub error in a 200", "github-token-error.txt", form, TokenResponseQueryString, 200, "", "", 0, ErrCodeRejected, "invalid_grant"},
		{"RFC 6749 JSON error at a form provider", "token-error.json", js, TokenResponseQueryString, 401, "", "", 0, ErrTokenEndpoint, "invalid_client"},
		{"JSON where form is configured", "token.json", js, TokenResponseQueryString, 200, "", "", 0, ErrTokenEndpoint, ""},
		{"form where JSON is configured", "github-token.txt", form, TokenResponseJSON, 200, "", "", 0, ErrTokenEndpoint, ""},
		{"a proxy's page", "", "text/html", TokenResponseJSON, 502, "", "", 0, ErrTokenEndpoint, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.file != "" {
				body = readTestdata(t, tc.file)
			} else {
				body = []byte("<html>Bad gateway</html>")
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				w.Write(body)
			}))
			defer srv.Close()
			e := &tokenEndpoint{clientID: "c", secret: "s", url: srv.URL, auth: ClientSecretPost, format: tc.format}
			tr, err := e.exchange(context.Background(), limitedClient(nil), "a-code", "https://app.example.com/callback", "", nil, time.Unix(1000, 0))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				var pe *ProviderError
				if tc.wantCode != "" && (!errors.As(err, &pe) || pe.Code != tc.wantCode) {
					t.Errorf("provider error %v, want code %s", err, tc.wantCode)
				}
				// A format mismatch says so, for whoever reads the log.
				if strings.Contains(tc.name, "configured") && !strings.Contains(err.Error(), "tokenEndpointResponseType is "+string(tc.format)) {
					t.Errorf("error %q does not name the configured format", err)
				}
				for _, secret := range []string{"gho_", "ya29", "incorrect or expired", "Bad gateway"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error text carries the response body: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tr.AccessToken != tc.wantToken || tr.RefreshToken != tc.wantRefresh {
				t.Errorf("tokens %q %q", tr.AccessToken, tr.RefreshToken)
			}
			if exp := tr.expiry(1000); (tc.wantExpiresIn == 0 && exp != 0) || (tc.wantExpiresIn != 0 && exp != 1000+tc.wantExpiresIn) {
				t.Errorf("expiry %d", exp)
			}
		})
	}
}
