package oidcauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// nopWriter is a ResponseWriter that keeps one header map, so the benchmark
// measures the middleware and not a recorder.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header         { return w.h }
func (w nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w nopWriter) WriteHeader(int)             {}

var sinkUser *User

// userHandler is the protected handler: it reads the user, as apps do.
var userHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	u, _ := UserFromContext(r.Context())
	sinkUser = u
})

// typicalRequest returns an Auth and a request carrying the typical Logto
// session cookie, and the cookie's size.
func typicalRequest(tb testing.TB) (*Auth, *http.Request, int) {
	a := testAuth(tb, nil)
	s, _, _ := typicalSession(tb, time.Now())
	value := a.codec.Seal(a.sessionCookie, s.marshal(nil))
	r := httptest.NewRequest("GET", "https://app.example.com/dashboard", nil)
	r.Header.Set("Cookie", "_ga=GA1.1.123456789.1732435200; "+a.sessionCookie+"="+value+"; theme=dark")
	return a, r, len(a.sessionCookie) + 1 + len(value)
}

// gorillaRequest stores the same session through gorilla/sessions' default
// CookieStore (securecookie: gob, HMAC, AES-CTR, base64 twice), with its
// 4096-byte limit lifted since the session does not fit under it.
func gorillaRequest(tb testing.TB) (*sessions.CookieStore, *http.Request, int) {
	s, idToken, accessToken := typicalSession(tb, time.Now())
	store := sessions.NewCookieStore(testKey(3), testKey(4))
	for _, c := range store.Codecs {
		c.(*securecookie.SecureCookie).MaxLength(0)
	}
	gs := sessions.NewSession(store, "session")
	gs.Values = map[any]any{
		"sub": s.user.Subject, "name": s.user.Name, "email": s.user.Email, "picture": s.user.Picture,
		"username": s.user.Username, "sid": s.sid, "id_token": idToken, "access_token": accessToken,
		"refresh_token": s.refreshToken, "created": s.created, "expiry": s.expiry,
	}
	rec := httptest.NewRecorder()
	if err := store.Save(httptest.NewRequest("GET", "/", nil), rec, gs); err != nil {
		tb.Fatal(err)
	}
	c := rec.Result().Cookies()[0]
	r := httptest.NewRequest("GET", "https://app.example.com/dashboard", nil)
	r.AddCookie(c)
	return store, r, len(c.Name) + 1 + len(c.Value)
}

// BenchmarkRequest compares, in one run, a bare handler (given the same
// Cookie header), the same handler behind RequireAuth and behind
// gorilla/sessions' CookieStore holding the same typical Logto session.
// "require-auth-fresh" authenticates, decrypts and decodes the cookie on
// every request (the verified-cookie cache off: a first request, or a
// cookie just re-issued); "require-auth-cached" is the repeat request a
// browser makes with the same cookie. Targets over bare: fresh at most 5 µs
// and 10 allocs, cached at most 1 µs. Run:
//
//	go test -run '^$' -bench BenchmarkRequest -count 10 . | benchstat -
func BenchmarkRequest(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		_, r, size := typicalRequest(b)
		w := nopWriter{http.Header{}}
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			delete(w.h, "Cache-Control")
			userHandler.ServeHTTP(w, r)
		}
		cpu.report(b)
		b.ReportMetric(float64(size), "cookie-B")
	})
	for _, cached := range []bool{false, true} {
		name := "require-auth-fresh"
		if cached {
			name = "require-auth-cached"
		}
		b.Run(name, func(b *testing.B) {
			a, r, size := typicalRequest(b)
			if !cached {
				a.verified = nil
			}
			h := a.RequireAuth(userHandler)
			w := nopWriter{http.Header{}}
			sinkUser = nil
			h.ServeHTTP(w, r)
			if sinkUser == nil {
				b.Fatal("session not accepted")
			}
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				delete(w.h, "Cache-Control") // a fresh response's headers
				h.ServeHTTP(w, r)
			}
			cpu.report(b)
			b.ReportMetric(float64(size), "cookie-B")
		})
	}
	b.Run("gorilla-cookiestore", func(b *testing.B) {
		store, r, size := gorillaRequest(b)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// A fresh request context per call, as a real request has;
			// otherwise gorilla's registry caches the decoded session.
			r = r.WithContext(context.Background())
			gs, err := store.Get(r, "session")
			if err != nil || gs.Values["sub"] == nil {
				b.Fatal("gorilla session not decoded", err)
			}
		})
		w := nopWriter{http.Header{}}
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
		cpu.report(b)
		b.ReportMetric(float64(size), "cookie-B")
	})
}

// sizedRequest is typicalRequest with the ID token's claims padded to
// about kb KB of JSON, chunked into several cookies when large.
func sizedRequest(tb testing.TB, kb int) (*Auth, *http.Request, int) {
	a := testAuth(tb, nil)
	s, _, _ := typicalSession(tb, time.Now())
	claims := loadLogtoFixture(tb).IDTokenClaims
	claims["custom_data"] = map[string]any{"notes": strings.Repeat("n", max(kb*1024-800, 0))}
	s.idToken = packToken(signRS256(tb, claims))
	s.user.claims = s.idToken.seg[1]
	rec := httptest.NewRecorder()
	if err := a.writeSession(rec, httptest.NewRequest("GET", "/", nil), s, true); err != nil {
		tb.Fatal(err)
	}
	r := sessionRequest("GET", "https://app.example.com/dashboard", rec)
	return a, r, len(r.Header.Get("Cookie"))
}

// BenchmarkRequestSize is RequireAuth's cost as the session grows: 1 to 8
// KB of claims, split into several cookies from about 3 KB on.
//
//	go test -run '^$' -bench BenchmarkRequestSize -count 10 . | benchstat -
func BenchmarkRequestSize(b *testing.B) {
	for _, kb := range []int{1, 2, 4, 8} {
		for _, cached := range []bool{false, true} {
			name := fmt.Sprintf("%dk/fresh", kb)
			if cached {
				name = fmt.Sprintf("%dk/cached", kb)
			}
			b.Run(name, func(b *testing.B) {
				a, r, size := sizedRequest(b, kb)
				if !cached {
					a.verified = nil
				}
				h := a.RequireAuth(userHandler)
				w := nopWriter{http.Header{}}
				sinkUser = nil
				h.ServeHTTP(w, r)
				if sinkUser == nil {
					b.Fatal("session not accepted")
				}
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					delete(w.h, "Cache-Control")
					h.ServeHTTP(w, r)
				}
				cpu.report(b)
				b.ReportMetric(float64(size), "cookie-B")
			})
		}
	}
}

// Allocation counts are deterministic, so the per-request budget is a test;
// the time budget lives in BenchmarkRequest.
func TestRequireAuthAllocs(t *testing.T) {
	// Not parallel: AllocsPerRun counts the allocations of the whole process.
	for _, tc := range []struct {
		name   string
		cached bool
		budget float64
	}{{"fresh", false, 10}, {"cached", true, 10}} {
		t.Run(tc.name, func(t *testing.T) {
			a, r, _ := typicalRequest(t)
			if !tc.cached {
				a.verified = nil
			}
			h := a.RequireAuth(userHandler)
			w := nopWriter{http.Header{}}
			sinkUser = nil
			h.ServeHTTP(w, r)
			if sinkUser == nil || sinkUser.Subject != "k3xq9pl2vz8m" {
				t.Fatal("typical session not accepted")
			}
			if n := a.verified.len(); tc.cached != (n == 1) {
				t.Fatalf("%d sessions cached", n)
			}
			// Each run starts without Cache-Control, as a real response
			// does, so RequireAuth's default header is part of the count.
			bare := testing.AllocsPerRun(200, func() { delete(w.h, "Cache-Control"); userHandler.ServeHTTP(w, r) })
			got := testing.AllocsPerRun(200, func() { delete(w.h, "Cache-Control"); h.ServeHTTP(w, r) })
			if w.h.Get("Cache-Control") != "private, no-store" {
				t.Error("RequireAuth did not default Cache-Control")
			}
			t.Logf("RequireAuth: %v allocations per request over the bare handler", got-bare)
			if got-bare > tc.budget {
				t.Errorf("RequireAuth allocates %v times per request, budget %v", got-bare, tc.budget)
			}
		})
	}
}

// cpuMeter reports the process's CPU time per operation beside ns/op. On a
// shared machine wall time per op grows with other processes' load; CPU
// time much less, so the two together say how noisy a run was.
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter { return cpuMeter{processCPU()} }

// report must run after the b.Loop loop: b.Loop's first call resets the
// timer, which drops metrics reported before it.
func (m cpuMeter) report(b *testing.B) {
	if used := processCPU() - m.start; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
