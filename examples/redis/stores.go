package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/oidcauth/oidcauth"
	oidcredis "github.com/oidcauth/oidcauth/stores/redis"
	goredis "github.com/redis/go-redis/v9"
)

// redisStores keeps the app's state in Redis when REDIS_URL is set:
// revocations and refresh coordination always, sessions with
// SESSION_STORE=redis.
func redisStores(cfg *oidcauth.Config, getenv func(string) string) (func() error, error) {
	raw, sessions := getenv("REDIS_URL"), getenv("SESSION_STORE")
	if sessions != "" && sessions != "cookie" && sessions != "redis" {
		return nil, fmt.Errorf("SESSION_STORE must be cookie or redis, not %q", sessions)
	}
	if raw == "" {
		if sessions == "redis" {
			return nil, errors.New("SESSION_STORE=redis needs REDIS_URL")
		}
		return nil, nil
	}
	client, err := redisClient(raw)
	if err != nil {
		return nil, err
	}
	// Started without Redis, an instance would not know what was revoked:
	// it refuses to start rather than serve signed-out sessions.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	revs, err := oidcredis.NewRevocations(ctx, client, oidcredis.Options{Logger: cfg.Logger})
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	cfg.Revocations, cfg.RefreshCoordinator = revs, oidcredis.NewCoordinator(client, "")
	if sessions == "redis" {
		cfg.Store = oidcauth.NewServerStore(oidcredis.NewBackend(client), "example:session:")
	}
	cfg.Logger.Info("state kept in Redis", "redis", redactedURL(raw), "sessions", map[bool]string{true: "server-side", false: "in cookies"}[sessions == "redis"])
	return func() error {
		return errors.Join(revs.Close(), client.Close())
	}, nil
}

// redisClient connects to the single node or the cluster REDIS_URL names.
func redisClient(raw string) (goredis.UniversalClient, error) {
	scheme, rest, _ := strings.Cut(raw, "://")
	switch scheme {
	case "redis", "rediss":
		opts, err := goredis.ParseURL(raw)
		if err != nil {
			return nil, badURL(err, rest)
		}
		return goredis.NewClient(opts), nil
	case "redis-cluster", "rediss-cluster":
		// h1:p1,h2:p2 becomes go-redis's form: the first host, the others
		// as addr parameters.
		userHosts, query, _ := strings.Cut(rest, "?")
		userinfo, hosts, hasUser := strings.Cut(userHosts, "@")
		if !hasUser {
			userinfo, hosts = "", userHosts
		}
		hosts = strings.TrimSuffix(hosts, "/")
		addrs := strings.Split(hosts, ",")
		if hosts == "" || strings.Contains(hosts, "/") {
			return nil, errors.New("REDIS_URL: a cluster is redis-cluster://host:port,host:port (no database number)")
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, errors.New("REDIS_URL: bad query")
		}
		for _, a := range addrs[1:] {
			q.Add("addr", a)
		}
		u := strings.TrimSuffix(scheme, "-cluster") + "://"
		if hasUser {
			u += userinfo + "@"
		}
		u += addrs[0] + "?" + q.Encode()
		opts, err := goredis.ParseClusterURL(u)
		if err != nil {
			return nil, badURL(err, rest)
		}
		return goredis.NewClusterClient(opts), nil
	default:
		return nil, errors.New("REDIS_URL must start with redis://, rediss://, redis-cluster:// or rediss-cluster://")
	}
}

// redactedURL is REDIS_URL without its password, for logs.
func redactedURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "(not a URL)"
	}
	if at := strings.LastIndex(authority(rest), "@"); at >= 0 {
		rest = "xxxxx" + rest[at:]
	}
	return scheme + "://" + rest
}

// badURL reports a REDIS_URL go-redis refused, without its password
// should go-redis quote it; rest is the URL after the scheme.
func badURL(err error, rest string) error {
	msg := err.Error()
	if userinfo, _, ok := strings.Cut(authority(rest), "@"); ok {
		if _, pw, ok := strings.Cut(userinfo, ":"); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return errors.New("REDIS_URL: " + msg)
}

// authority is the part of a URL after the scheme up to its path, query
// or fragment.
func authority(rest string) string {
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		return rest[:i]
	}
	return rest
}
