// Command devprovider serves the development OpenID Provider of
// oidcauthtest (the one the example app embeds) as a process of its own,
// so that several instances of an app share it. It signs in anyone who
// clicks "Sign in", so it listens on loopback only.
//
//	go run ./devprovider -addr 127.0.0.1:3009 -app http://127.0.0.1:3000
//
// The issuer is http://ADDR; the client is example-app with the secret in
// OIDC_CLIENT_SECRET (required, 16 bytes or more); the app's redirect URI
// is APP/callback, its post sign-out redirect APP/.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3009", "listen address, on loopback")
	appURL := flag.String("app", "http://127.0.0.1:3000", "the app's base URL")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintln(os.Stderr, "devprovider: -addr must be a loopback IP and port: it signs in anyone")
		os.Exit(2)
	}
	secret := os.Getenv("OIDC_CLIENT_SECRET")
	if len(secret) < 16 {
		fmt.Fprintln(os.Stderr, "devprovider: set OIDC_CLIENT_SECRET (16 bytes or more), the app's client secret")
		os.Exit(2)
	}
	app := strings.TrimSuffix(*appURL, "/")
	idp, err := oidcauthtest.New("http://"+*addr, oidcauthtest.Options{
		ClientID:               "example-app",
		ClientSecret:           secret,
		RedirectURIs:           []string{app + "/callback"},
		PostLogoutRedirectURIs: []string{app + "/"},
		LoginForm:              true,
		User: oidcauthtest.User{
			Subject: "dev-user-1", Name: "Dev User", Email: "dev.user@example.com",
			EmailVerified: true, Username: "devuser",
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "devprovider:", err)
		os.Exit(2)
	}
	log.Printf("devprovider: issuer http://%s for %s", *addr, app)
	srv := &http.Server{Addr: *addr, Handler: idp, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
