package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoundRobin(t *testing.T) {
	var urls []string
	for _, name := range []string{"a", "b"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name+" "+r.Host+" "+r.URL.RequestURI())
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	h, err := roundRobin(urls)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(h)
	t.Cleanup(proxy.Close)
	var got []string
	for range 4 {
		resp, err := http.Get(proxy.URL + "/x?y=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got = append(got, string(body))
	}
	host := strings.TrimPrefix(proxy.URL, "http://")
	want := []string{"a " + host + " /x?y=1", "b " + host + " /x?y=1", "a " + host + " /x?y=1", "b " + host + " /x?y=1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("answers %q, want %q", got, want)
	}
	for _, bad := range [][]string{nil, {"localhost:3001"}, {"ftp://x"}} {
		if _, err := roundRobin(bad); err == nil {
			t.Errorf("roundRobin(%q) accepted", bad)
		}
	}
}
