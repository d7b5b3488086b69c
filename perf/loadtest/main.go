// Command loadtest measures requests per second and latency of a bare
// net/http handler, the same handler behind oidcauth's RequireAuth, and
// behind a go-oidc + gorilla/sessions CookieStore app, in one run, on
// loopback, and prints the tables of docs/PERFORMANCE.md.
//
// It starts itself a second time as the server process (an in-process
// OpenID Provider and both apps, on 127.0.0.1), signs in to each app for
// real through the provider, then drives every scenario from fresh
// keep-alive connections with a minimal HTTP/1.1 client, so that as little
// of the two processes' shared CPU as possible goes to the generator. Every
// scenario is bounded in time and request count; the whole run in
// -max-time; the server exits when the generator does.
//
//	go run ./perf/loadtest                      # the full report
//	go run ./perf/loadtest -smoke               # a few seconds, for CI
//
// Run it from the module root (it reads testdata/logto-session.json).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type options struct {
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	conns       []int
	sizes       []string
	sizeConns   int
	maxRequests int64
	maxTime     time.Duration
	fixture     string
	profile     string // the server process's CPU profile
}

func main() {
	var (
		o                 options
		conns, sizes      string
		smoke             bool
		serveMode         bool
		profilesToServe   string
		serveLimitSeconds int
		target, path      string
		cookieName        string
	)
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured time per scenario")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured time before each scenario")
	flag.IntVar(&o.rounds, "rounds", 3, "runs of each scenario, interleaved; the median is reported")
	flag.StringVar(&conns, "conns", "1,4,16,64,256", "connection counts for the typical session")
	flag.StringVar(&sizes, "sizes", "1k,2k,4k,8k", "claim sizes for the size table")
	flag.IntVar(&o.sizeConns, "size-conns", 64, "connections for the size table")
	flag.Int64Var(&o.maxRequests, "max-requests", 5_000_000, "at most this many requests per scenario")
	flag.DurationVar(&o.maxTime, "max-time", 15*time.Minute, "the whole run stops after this long")
	flag.StringVar(&o.fixture, "fixture", "testdata/logto-session.json", "the typical Logto session's claims")
	flag.StringVar(&o.profile, "server-cpuprofile", "", "write the server process's CPU profile to this file")
	flag.BoolVar(&smoke, "smoke", false, "a few seconds: one round, 4 connections, typical and 4k sessions")
	flag.BoolVar(&serveMode, "serve", false, "internal: run the server process")
	flag.StringVar(&profilesToServe, "profiles", "", "internal: session profiles to serve")
	flag.IntVar(&serveLimitSeconds, "serve-limit", 60, "internal: the server exits after this many seconds")
	flag.StringVar(&target, "target", "", "measure this running app (http://host:port) instead of the built-in servers: examples/redis behind its proxy, or one instance")
	flag.StringVar(&path, "target-path", "/api/me", "with -target: the protected path to drive")
	flag.StringVar(&cookieName, "target-cookie", "oidcauth", "with -target: the session cookie's name")
	flag.Parse()

	if serveMode {
		if err := serve(o.fixture, strings.Split(profilesToServe, ","), time.Duration(serveLimitSeconds)*time.Second, o.profile); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest server:", err)
			os.Exit(1)
		}
		return
	}
	if smoke {
		o.duration, o.warmup, o.rounds, conns, sizes, o.sizeConns = 300*time.Millisecond, 100*time.Millisecond, 1, "4", "4k", 4
		o.maxTime = min(o.maxTime, 2*time.Minute)
	}
	var err error
	if o.conns, err = parseInts(conns); err == nil && target != "" {
		err = runTarget(o, target, path, cookieName)
	} else if err == nil {
		o.sizes = strings.Split(sizes, ",")
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("connection count %q: want 1 … 1024", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// run starts the server process, signs in and runs every scenario.
func run(o options) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.maxTime)
	defer cancel()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	profiles := append([]string{"typical"}, o.sizes...)
	cmd := exec.CommandContext(ctx, self, "-serve", "-profiles", strings.Join(profiles, ","),
		"-fixture", o.fixture, "-serve-limit", strconv.Itoa(int(o.maxTime/time.Second)+10), "-server-cpuprofile", o.profile)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		stdin.Close() // the server shuts down when its stdin closes
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	base, err := readReady(bufio.NewReader(stdout))
	if err != nil {
		return err
	}

	targets := map[string]sessionTargets{}
	for _, p := range profiles {
		t, err := signIn(ctx, base, p)
		if err != nil {
			return fmt.Errorf("sign-in (%s): %w", p, err)
		}
		targets[p] = t
	}
	r := &runner{o: o, base: base, ctx: ctx}
	fmt.Printf("# oidcauth load test\n\n%s\n\n", machineLine())
	fmt.Printf("Each row: the median of %d interleaved runs of %v (after %v of warm-up); "+
		"requests/s, latency p50 and p99, and the CPU time each process spent per request.\n\n", o.rounds, o.duration, o.warmup)

	fmt.Printf("## Concurrency (typical Logto session)\n\n")
	t := targets["typical"]
	fmt.Printf("Session cookie %d B (%d cookie(s)); gorilla cookie %d B.\n\n", t.cookieBytes, t.cookieCount, t.gorillaBytes)
	printHeader()
	for _, c := range o.conns {
		if err := r.compare(t, c, fmt.Sprintf("%d", c)); err != nil {
			return err
		}
	}
	fmt.Printf("\n## Session size (%d connections)\n\n", o.sizeConns)
	printHeader()
	for _, p := range o.sizes {
		t := targets[p]
		label := fmt.Sprintf("%s claims: %d B in %d cookie(s); gorilla %d B", p, t.cookieBytes, t.cookieCount, t.gorillaBytes)
		if err := r.compare(t, o.sizeConns, label); err != nil {
			return err
		}
	}
	fmt.Printf("\nLoad average at the end: %s; %s UTC.\n", loadAverage(), time.Now().UTC().Format("2006-01-02 15:04"))
	if r.errors > 0 {
		return fmt.Errorf("%d requests failed", r.errors)
	}
	return nil
}

func machineLine() string {
	return fmt.Sprintf("Machine: %d CPUs (nproc), %s %s/%s, GOMAXPROCS %d in each process; load average at start %s; %s UTC.",
		runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0),
		loadAverage(), time.Now().UTC().Format("2006-01-02 15:04"))
}

// loadAverage is the 1, 5 and 15 minute load average, where the system
// says it (Linux); other work on the machine shows in the numbers.
func loadAverage() string {
	load, err := os.ReadFile("/proc/loadavg")
	fields := strings.Fields(string(load))
	if err != nil || len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}

func printHeader() {
	fmt.Println("| conns | handler | req/s | vs bare | p50 | p99 | server CPU/req | generator CPU/req |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
}

// compare runs bare, oidcauth and gorilla at c connections, interleaved
// for o.rounds rounds, and prints a row for each with its ratio to bare.
func (r *runner) compare(t sessionTargets, c int, label string) error {
	kinds := []struct{ name, path, cookie string }{
		{"bare (same Cookie header)", "/bare", t.cookie},
		{"oidcauth RequireAuth", t.protected, t.cookie},
		{"gorilla/sessions CookieStore", t.gorilla, t.gorillaCookie},
	}
	results := make([][]result, len(kinds))
	for range r.o.rounds {
		for i, k := range kinds {
			res, err := r.scenario(k.path, k.cookie, c)
			if err != nil {
				return err
			}
			results[i] = append(results[i], res)
		}
	}
	bare := median(results[0])
	for i, k := range kinds {
		m := median(results[i])
		ratio := "1.00"
		if i > 0 && bare.rps > 0 {
			ratio = fmt.Sprintf("%.2f", m.rps/bare.rps)
		}
		if i == 2 && m.rps > 0 {
			ratio += fmt.Sprintf(" (oidcauth %.1fx)", median(results[1]).rps/m.rps)
		}
		fmt.Printf("| %s | %s | %.0f | %s | %s | %s | %s | %s |\n", label, k.name, m.rps, ratio,
			us(m.p50), us(m.p99), us(m.serverCPU), us(m.genCPU))
	}
	return nil
}

func us(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 1, 64) + " µs"
}

var errDeadline = errors.New("the run's -max-time is up")
