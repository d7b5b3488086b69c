package oidcauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

func TestErrorStatus(t *testing.T) {
	t.Parallel()
	pe := &ProviderError{Code: "access_denied"}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{ErrInvalidState, 400},
		{fail(ErrInvalidCallback, errors.New("x")), 400},
		{fail(ErrIssuerMismatch, nil), 400},
		{fail(ErrCodeRejected, pe), 400},
		{fail(ErrAccessDenied, pe), 403},
		{fmt.Errorf("wrapped: %w", fail(ErrTokenEndpoint, nil)), 502},
		{ErrInvalidIDToken, 502},
		{ErrUserInfo, 502},
		{ErrAuthorization, 502},
		{ErrProviderUnavailable, 503},
		{ErrNotSignedIn, 401},
		{ErrMethodNotAllowed, 405},
		{ErrSessionTooLarge, 500},
		{ErrInternal, 500},
		{errors.New("anything else"), 500},
	} {
		if got := ErrorStatus(tc.err); got != tc.want {
			t.Errorf("ErrorStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	var got *ProviderError
	if err := fail(ErrAccessDenied, pe); !errors.As(err, &got) || got.Code != "access_denied" || !errors.Is(err, ErrAccessDenied) {
		t.Error("failure does not expose its sentinel and cause")
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	hostile := fail(ErrAccessDenied, &ProviderError{Code: "access_denied", Description: "<script>alert(1)</script>"})

	rec := httptest.NewRecorder()
	writeError(rec, httptest.NewRequest("GET", "/callback", nil), hostile)
	page := rec.Body.String()
	if rec.Code != 403 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "alert") {
		t.Errorf("page shows the provider's text: %s", page)
	}
	if !strings.Contains(page, "The sign-in was cancelled, so you are not signed in.") {
		t.Errorf("page lacks the fixed phrase: %s", page)
	}
	for _, h := range []string{"Cache-Control", "X-Content-Type-Options", "Content-Security-Policy"} {
		if rec.Header().Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}

	rec = httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/callback", nil)
	r.Header.Set("Accept", "application/json")
	writeError(rec, r, hostile)
	var b map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b["error"] != "access_denied" || strings.Contains(rec.Body.String(), "script") {
		t.Errorf("JSON error = %s (%v)", rec.Body.String(), err)
	}
}

func TestCustomErrorHandler(t *testing.T) {
	t.Parallel()
	var got error
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) {
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			http.Error(w, "custom", http.StatusTeapot)
		}
	})
	f.idp.Misbehave(oidcauthtest.Misbehavior{AuthorizeError: "access_denied"})
	resp := f.get(f.startSignIn("/sign-in").String())
	wantStatus(t, resp, http.StatusTeapot)
	var pe *ProviderError
	if !errors.Is(got, ErrAccessDenied) || !errors.As(got, &pe) || pe.Code != "access_denied" {
		t.Errorf("ErrorHandler got %v", got)
	}
	if f.signedIn() {
		t.Error("signed in after a custom-handled failure")
	}
}

// Error codes come from the query string of a callback anyone can forge;
// only RFC 6749's character set reaches Error() and so the logs.
func TestProviderErrorCodeSanitised(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{
		"access_denied":                "access_denied",
		"evil\nlevel=ERROR msg=forged": "malformed_error_code",
		`quote"d`:                      "malformed_error_code",
		"caf\xc3\xa9":                  "malformed_error_code",
		strings.Repeat("a", 100):       strings.Repeat("a", 64),
	} {
		if got := newProviderError(code, "", "", 0).Code; got != want {
			t.Errorf("newProviderError(%q).Code = %q, want %q", code, got, want)
		}
	}
	if got := newProviderError("invalid_grant", "", "", 400).Error(); got != "oidcauth: provider error invalid_grant (HTTP 400)" {
		t.Errorf("Error() = %q", got)
	}
}

// A cancel at the provider reads as a cancel, a refusal as a refusal, not
// as the status text "Forbidden".
func TestRefusalPageTitles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err          error
		title, about string
	}{
		{fail(ErrAccessDenied, &ProviderError{Code: "access_denied"}), "Sign-in cancelled", "The sign-in was cancelled, so you are not signed in."},
		{fail(ErrAccessDenied, &ProviderError{Code: "login_required"}), "Sign-in refused", "Sign-in was cancelled or refused."},
		{fail(ErrAccessDenied, errors.New("no local account")), "Sign-in refused", "Sign-in was cancelled or refused."},
		{fail(ErrAccessDenied, &ProviderError{Code: "access_denied", StatusCode: 403}), "Sign-in refused", "Sign-in was cancelled or refused."}, // the token endpoint's
		{fail(ErrCodeRejected, nil), "Bad Request", "The sign-in could not be completed. Please sign in again."},
	} {
		rec := httptest.NewRecorder()
		writeError(rec, httptest.NewRequest("GET", "/callback", nil), tc.err)
		page := rec.Body.String()
		if !strings.Contains(page, `<h1 id="error-title">`+tc.title+`</h1>`) || !strings.Contains(page, tc.about) {
			t.Errorf("%v: page\n%s", tc.err, page)
		}
	}
}

// An error names the library once: "oidcauth: access denied: provider
// error access_denied", not "…: oidcauth: provider error …".
func TestErrorPrefixOnce(t *testing.T) {
	t.Parallel()
	err := fail(ErrAccessDenied, newProviderError("access_denied", "", "", 0))
	if got := err.Error(); got != "oidcauth: access denied: provider error access_denied" {
		t.Errorf("Error() = %q", got)
	}
}
