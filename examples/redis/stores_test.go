package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/oidcauth/oidcauth"
	goredis "github.com/redis/go-redis/v9"
)

func TestRedisClient(t *testing.T) {
	c, err := redisClient("redis://user:pw@127.0.0.1:6390/2?dial_timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	single, ok := c.(*goredis.Client)
	if !ok || single.Options().Addr != "127.0.0.1:6390" || single.Options().DB != 2 || single.Options().Password != "pw" {
		t.Errorf("single node: %T %+v", c, c)
	}
	c.Close()

	c, err = redisClient("redis-cluster://:pw@127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003/?dial_timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	cluster, ok := c.(*goredis.ClusterClient)
	if !ok {
		t.Fatalf("cluster: %T", c)
	}
	opts := cluster.Options()
	if strings.Join(opts.Addrs, ",") != "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003" || opts.Password != "pw" || opts.DialTimeout.String() != "1s" {
		t.Errorf("cluster options: %v %q %v", opts.Addrs, opts.Password, opts.DialTimeout)
	}
	c.Close()

	for _, bad := range []string{
		"127.0.0.1:6379", "http://127.0.0.1", "redis://127.0.0.1:6379/x",
		"redis-cluster://", "redis-cluster://h1:1,h2:2/3", "redis://:s3cret@h:1/0?nope=1",
	} {
		_, err := redisClient(bad)
		if err == nil {
			t.Errorf("redisClient(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestRedactedURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://127.0.0.1:6379/0":                "redis://127.0.0.1:6379/0",
		"redis://user:secret@127.0.0.1:6379/0":    "redis://xxxxx@127.0.0.1:6379/0",
		"redis-cluster://:secret@h1:1,h2:2?x=a@b": "redis-cluster://xxxxx@h1:1,h2:2?x=a@b",
		"not a url": "(not a URL)",
	} {
		if got := redactedURL(in); got != want {
			t.Errorf("redactedURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedisStoresConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		env     map[string]string
		wantErr string
	}{
		"no Redis":                           {env: map[string]string{}},
		"sessions in cookies, no Redis":      {env: map[string]string{"SESSION_STORE": "cookie"}},
		"server-side sessions, no Redis":     {env: map[string]string{"SESSION_STORE": "redis"}, wantErr: "needs REDIS_URL"},
		"unknown session store":              {env: map[string]string{"SESSION_STORE": "bolt", "REDIS_URL": "redis://127.0.0.1:1/0"}, wantErr: "cookie or redis"},
		"bad URL":                            {env: map[string]string{"REDIS_URL": "127.0.0.1:6379"}, wantErr: "REDIS_URL must start"},
		"Redis down: the app does not start": {env: map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0?dial_timeout=100ms&max_retries=-1"}, wantErr: "REDIS_URL: "},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := oidcauth.Config{Logger: slog.New(slog.DiscardHandler)}
			closer, err := redisStores(&cfg, func(k string) string { return tc.env[k] })
			if tc.wantErr == "" {
				if err != nil || closer != nil || cfg.Revocations != nil {
					t.Errorf("without REDIS_URL: %v, %v", err, cfg.Revocations)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one with %q", err, tc.wantErr)
			}
		})
	}
}
