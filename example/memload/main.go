// Command memload signs in to the example app in development mode over and
// over, from two clients, for the duration given (e.g. `go run ./memload
// 3m` in example/), and prints every 15 s the sign-ins so far, the live heap
// after a GC and the process's RSS: whether the app's memory levels off.
// docs/PERFORMANCE.md has a run. A measurement, not a test.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oidcauth/oidcauth/example/app"
)

var interaction = regexp.MustCompile(`name="interaction" value="([^"]+)"`)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: memload <duration>")
		os.Exit(2)
	}
	dur, err := time.ParseDuration(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "memload:", err)
		os.Exit(2)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	a, err := app.New(func(k string) string { return map[string]string{"BASE_URL": base}[k] }, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		panic(err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	var n atomic.Int64
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 4}
			for time.Now().Before(stop) {
				jar, _ := cookiejar.New(nil)
				c := &http.Client{Jar: jar, Transport: tr}
				get := func(u string) string {
					resp, err := c.Get(u)
					if err != nil {
						panic(err)
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					return string(b)
				}
				c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
				resp, err := c.Get(base + "/sign-in")
				if err != nil {
					panic(err)
				}
				resp.Body.Close()
				form := get(resp.Header.Get("Location"))
				m := interaction.FindStringSubmatch(form)
				resp, err = c.PostForm(base+"/dev-idp/auth/interaction", url.Values{"interaction": {m[1]}, "action": {"approve"}, "name": {"Dev User"}, "email": {"dev.user@example.com"}})
				if err != nil {
					panic(err)
				}
				resp.Body.Close()
				resp, err = c.Get(resp.Header.Get("Location"))
				if err != nil || resp.StatusCode != http.StatusSeeOther {
					panic(fmt.Sprint("callback ", err))
				}
				resp.Body.Close()
				if p := get(base + "/profile"); !strings.Contains(p, "Dev User") {
					panic("not signed in")
				}
				n.Add(1)
			}
		}()
	}
	start := time.Now()
	for time.Now().Before(stop) {
		time.Sleep(15 * time.Second) // sampling interval of a measurement
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		status, _ := os.ReadFile("/proc/self/status")
		rss := ""
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				rss = strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
			}
		}
		fmt.Printf("t=%3.0fs sign-ins=%6d heap=%6.1f MB rss=%s\n", time.Since(start).Seconds(), n.Load(), float64(ms.HeapInuse)/(1<<20), rss)
	}
	wg.Wait()
}
