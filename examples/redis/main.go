// Command redis is the example app (../../example) for several instances
// behind a load balancer: its environment is the example's, plus
//
//	REDIS_URL      redis://[user:password@]host:port/db (rediss:// for TLS), or a
//	               Redis Cluster: redis-cluster://[user:password@]h1:p1,h2:p2,…
//	               (rediss-cluster:// for TLS); go-redis options as query
//	               parameters (e.g. ?dial_timeout=1s). It turns on revocations
//	               shared by every instance (sign-out and back-channel logout
//	               hold on all) and refresh coordination (a rotating refresh
//	               token is spent once between them).
//	SESSION_STORE  cookie (default) or redis: sessions server-side in Redis, the
//	               cookie holding only an id and a key
//
// Without REDIS_URL it is the example app, its state in process memory.
// ./run.sh starts Redis, a development provider, two instances and a
// round-robin proxy on this machine (README.md).
package main

import "github.com/oidcauth/oidcauth/example/app"

func main() { app.Main(redisStores) }
