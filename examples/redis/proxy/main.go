// Command proxy is a round-robin reverse proxy for trying several
// instances of an app on one machine, as a load balancer without sticky
// sessions would spread them: each request goes to the next instance.
//
//	go run ./proxy -addr 127.0.0.1:3000 http://127.0.0.1:3001 http://127.0.0.1:3002
//
// It keeps the request's Host and adds X-Forwarded-For. It is a demo and
// test tool, not a production load balancer.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: proxy [-addr host:port] INSTANCE_URL...")
		flag.PrintDefaults()
	}
	flag.Parse()
	h, err := roundRobin(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		flag.Usage()
		os.Exit(2)
	}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("proxy: http://%s → %v, in turn", *addr, flag.Args())
	log.Fatal(srv.ListenAndServe())
}

// roundRobin proxies each request to the next of targets.
func roundRobin(targets []string) (http.Handler, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("no instance URL")
	}
	var proxies []*httputil.ReverseProxy
	for _, t := range targets {
		u, err := url.Parse(t)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("%q is not an http(s) URL", t)
		}
		proxies = append(proxies, &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
			r.SetXForwarded()
		}})
	}
	var next atomic.Uint64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[(next.Add(1)-1)%uint64(len(proxies))].ServeHTTP(w, r)
	}), nil
}
