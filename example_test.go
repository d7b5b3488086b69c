package oidcauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/oidcauth/oidcauth"
)

// New explains configuration mistakes instead of failing at the first
// sign-in.
func ExampleNew() {
	_, err := oidcauth.New(oidcauth.Config{
		Issuer:      "https://a1b2c3.logto.app",
		ClientID:    "x7y2kq9wm3z5v8t1l0p4",
		RedirectURL: "http://localhost:3000/callback",
		SessionKeys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
	})
	fmt.Println(err)
	// Output: oidcauth: Issuer for Logto ends in /oidc (https://a1b2c3.logto.app/oidc)
}

// RequireAuth sends a browser that is not signed in to the sign-in page,
// and answers API clients with 401.
func ExampleAuth_RequireAuth() {
	auth, err := oidcauth.New(oidcauth.Config{
		Issuer:      "https://a1b2c3.logto.app/oidc",
		ClientID:    "x7y2kq9wm3z5v8t1l0p4",
		RedirectURL: "http://localhost:3000/callback",
		SessionKeys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
	})
	if err != nil {
		panic(err)
	}
	dashboard := auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := oidcauth.UserFromContext(r.Context())
		fmt.Fprintf(w, "Hello, %s", user.Name)
	}))

	rec := httptest.NewRecorder()
	dashboard.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))

	rec = httptest.NewRecorder()
	api := httptest.NewRequest("GET", "/dashboard", nil)
	api.Header.Set("Accept", "application/json")
	dashboard.ServeHTTP(rec, api)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 303 /sign-in?returnTo=%2Fdashboard
	// 401 {"error":"unauthorized","message":"Please sign in."}
}
