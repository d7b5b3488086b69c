package oidcauth

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// site is what a request's headers say about who made it.
type site int

const (
	siteUnknown site = iota // no evidence: a non-browser client, or an old browser
	siteSame                // the app's own origin, or the user typing the URL
	siteOther               // another site, a sibling subdomain included
)

// requestSite reads Fetch Metadata first, then Origin, then Referer.
func (a *Auth) requestSite(r *http.Request) site {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return siteSame
	case "cross-site", "same-site":
		return siteOther
	}
	for _, h := range [...]string{"Origin", "Referer"} {
		if v := r.Header.Get(h); v != "" {
			if u, err := url.Parse(v); err == nil && originOf(u) == a.origin {
				return siteSame
			}
			return siteOther // "null", another origin, or unparseable
		}
	}
	return siteUnknown
}

// originOf is u's origin as browsers serialise it (RFC 6454 §6.2): scheme
// and host in lower case, the scheme's default port left out.
func originOf(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

var confirmPage = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign out?</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}</style>
</head><body><main>
<h1>Sign out?</h1>
<p>Another site asked to sign you out.</p>
<form method="post"><button type="submit" id="confirm-sign-out">Sign out</button></form>
<p><a href="/">Stay signed in</a></p>
</main></body></html>
`))

func (a *Auth) confirmSignOut(w http.ResponseWriter, r *http.Request) {
	// The form has no action: it posts back to this very URL, which holds
	// wherever the handler is mounted.
	writePage(w, http.StatusOK, confirmPage, nil)
}
