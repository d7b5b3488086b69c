package oidcauth

import (
	"html/template"
	"net/http"
)

// The pages the library renders itself (the error page, the sign-out
// confirmation, the provider chooser) are static HTML with inline style
// and no script. One set of headers serves them all.

// pageCSP allows the inline style and nothing else: no script, no
// resource from anywhere, no <base>, no framing (clickjacking on the
// sign-out confirmation). It has no form-action: browsers apply it to the
// redirects after a form is sent, and the confirmed sign-out goes on to
// the provider's end-session endpoint.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"

// setPageHeaders sets the security headers of a page the library writes,
// and of its JSON twin. The Referer carries the origin at most, never the
// path and query (a callback URL's code and state). It is not
// "no-referrer": browsers then send "Origin: null" with the confirmation
// form's POST, which the sign-out handler would take for another site.
func setPageHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin")
	h.Set("Content-Security-Policy", pageCSP)
}

// writePage renders t with data as an HTML page with status.
func writePage(w http.ResponseWriter, status int, t *template.Template, data any) {
	h := w.Header()
	setPageHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = t.Execute(w, data)
}
