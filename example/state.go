package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/oidcauth/oidcauth"
	oidcbolt "github.com/oidcauth/oidcauth/stores/bolt"
)

// stateStores keeps the app's state in STATE_DIR, when it is set, in an
// embedded database file (stores/bolt): revocations, so that a sign-out or
// a back-channel logout still holds after a restart, the outcomes of
// refreshes, so that a cookie from before a refresh that arrives after a
// restart catches up instead of spending its refresh token again, and, with
// SESSION_STORE=bolt, the sessions themselves (the cookie then holds only
// a random id and key). Without STATE_DIR the state lives in process
// memory, as before.
func stateStores(cfg *oidcauth.Config, getenv func(string) string) (func() error, error) {
	dir, sessions := getenv("STATE_DIR"), getenv("SESSION_STORE")
	if dir == "" {
		if sessions != "" && sessions != "cookie" {
			return nil, fmt.Errorf("SESSION_STORE=%s needs STATE_DIR, the directory of the database", sessions)
		}
		return nil, nil
	}
	if sessions != "" && sessions != "cookie" && sessions != "bolt" {
		return nil, fmt.Errorf("SESSION_STORE must be cookie or bolt, not %q", sessions)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("STATE_DIR: %w", err)
	}
	db, err := oidcbolt.Open(filepath.Join(dir, "oidcauth.db"), oidcbolt.Options{Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("STATE_DIR: %w", err)
	}
	cfg.Revocations, cfg.RefreshCoordinator = db.Revocations(), db.Coordinator()
	if sessions == "bolt" {
		cfg.Store = oidcauth.NewServerStore(db.Sessions(), "example:session:")
	}
	cfg.Logger.Info("state kept in STATE_DIR", "file", filepath.Join(dir, "oidcauth.db"), "sessions", map[bool]string{true: "server-side", false: "in cookies"}[sessions == "bolt"])
	return db.Close, nil
}
