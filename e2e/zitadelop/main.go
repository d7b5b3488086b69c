// Command zitadelop serves the example OpenID Provider of
// github.com/zitadel/oidc/v3 on loopback, as a second provider, independent
// of node-oidc-provider, for oidcauth's browser tests.
//
//	OP_APP_URL=http://127.0.0.1:3001 OP_CLIENT_SECRET=… zitadelop -ready-file f
//
// Its one client (OP_CLIENT_ID, default "oidcauth-e2e") is a confidential web
// client (client_secret_basic) whose redirect URI is OP_APP_URL/callback and
// post sign-out URI OP_APP_URL/. It signs in the users "ada" and "grace"
// with the password in [password]. The issuer is http://127.0.0.1:PORT, written
// to -ready-file once it serves.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// password is every test user's password: a fixture, not a secret.
const password = "e2e-password"

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: any free port)")
	readyFile := flag.String("ready-file", "", "where to write the issuer once serving")
	flag.Parse()
	appURL := strings.TrimSuffix(os.Getenv("OP_APP_URL"), "/")
	clientID := envOr("OP_CLIENT_ID", "oidcauth-e2e")
	secret := os.Getenv("OP_CLIENT_SECRET")
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(appURL) || secret == "" {
		fmt.Fprintln(os.Stderr, "zitadelop: set OP_APP_URL (http://127.0.0.1:PORT) and OP_CLIENT_SECRET")
		os.Exit(2)
	}

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "zitadelop:", err)
		os.Exit(1)
	}
	issuer := "http://" + ln.Addr().String()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	web := storage.WebClient(clientID, secret, appURL+"/callback")
	store := &opStorage{
		Storage:    storage.NewStorageWithClients(users{}, map[string]*storage.Client{clientID: web}),
		postLogout: map[string][]string{clientID: {appURL + "/"}},
	}
	srv := &http.Server{
		Handler:           exampleop.SetupServer(issuer, store, logger, false),
		ReadHeaderTimeout: 10 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close() // a test provider: nothing to drain
	}()
	if *readyFile != "" {
		if err := os.WriteFile(*readyFile, []byte(issuer+"\n"), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "zitadelop:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("zitadelop: serving %s for client %s\n", issuer, clientID)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "zitadelop:", err)
		os.Exit(1)
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// opStorage is the example's in-memory storage with two settings its
// client type cannot hold: the registered post sign-out redirect URIs, and
// Zitadel's "user info inside ID token" (the ID token carries the profile
// claims, as Logto's does).
type opStorage struct {
	*storage.Storage
	postLogout map[string][]string
}

func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return registeredClient{Client: c, postLogout: s.postLogout[id]}, nil
}

type registeredClient struct {
	op.Client
	postLogout []string
}

func (c registeredClient) PostLogoutRedirectURIs() []string { return c.postLogout }

// IDTokenUserinfoClaimsAssertion is false, zitadel's default: the ID token
// of the code flow carries no profile or e-mail claims, which the app gets
// from userinfo (oidcauth's Config.UserInfo, automatic by default).
func (c registeredClient) IDTokenUserinfoClaimsAssertion() bool { return false }

// users are the people who can sign in, by ID.
type users struct{}

var people = map[string]*storage.User{
	"ada":   {ID: "ada", Username: "ada", Password: password, FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", EmailVerified: true, PreferredLanguage: language.English},
	"grace": {ID: "grace", Username: "grace", Password: password, FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com", PreferredLanguage: language.English},
}

func (users) GetUserByID(id string) *storage.User { return people[id] }

func (users) GetUserByUsername(name string) *storage.User { return people[name] }

// ExampleClientID names the example's JWT-profile service user; these
// tests have none.
func (users) ExampleClientID() string { return "service" }
