package app

import (
	"html/template"
	"net/http"
	"slices"

	"github.com/oidcauth/oidcauth"
)

// devAPIScopes are the permissions the development provider's API
// resources define, as an API resource in Logto's console would.
var devAPIScopes = []string{"read:data", "write:data"}

// devAPIResources makes the development provider define each API resource
// with devAPIScopes and, unless OIDC_SCOPES chose the scopes, asks for
// them at sign-in, so the token for the API carries them and POST
// /api/resource works with no configuration.
func devAPIResources(cfg *oidcauth.Config) map[string][]string {
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = append([]string{"openid", "profile", "email", "offline_access"}, devAPIScopes...)
	}
	apis := map[string][]string{}
	for _, res := range cfg.Resources {
		apis[res] = devAPIScopes
	}
	return apis
}

// mountAPI serves the app's own API for the first of OIDC_RESOURCES (with
// none, there is no API): GET /api/resource for any valid access token
// for it, POST /api/resource for one that grants write:data. It is the
// resource server of Logto's "Protect your API" guide; the Bearer shares
// the Auth's provider metadata and keys.
func mountAPI(mux *http.ServeMux, auth *oidcauth.Auth, cfg *oidcauth.Config) (resource string, err error) {
	if cfg.Issuer == "" || len(cfg.Resources) == 0 {
		return "", nil
	}
	resource = cfg.Resources[0]
	api, err := auth.Bearer(oidcauth.BearerConfig{Resource: resource})
	if err != nil {
		return "", err
	}
	mux.Handle("GET /api/resource", api.RequireToken(http.HandlerFunc(apiResource)))
	mux.Handle("POST /api/resource", api.Require(oidcauth.Scope("write:data"))(http.HandlerFunc(apiResource)))
	return resource, nil
}

// apiResource answers who called, with what: the token's subject (the
// user, or for a machine-to-machine token the client), client and scopes.
func apiResource(w http.ResponseWriter, r *http.Request) {
	tok, _ := oidcauth.BearerTokenFromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{
		"method":    r.Method,
		"sub":       tok.Subject,
		"client_id": tok.ClientID,
		"scopes":    slices.Concat([]string{}, tok.Scopes),
	})
}

// callAPI is the profile page's part that calls /api/resource the way a
// single-page app would: the access token from /api/token, in an
// Authorization header.
var _ = template.Must(pages.New("call-api").Parse(`
<h2>Call the API</h2>
<p><code>/api/resource</code> is protected by an access token for
<code id="api-resource">{{.}}</code> (<code>oidcauth.Bearer</code>), not by
the session cookie. These buttons get the token from
<code>/api/token?resource=…</code> and send it as
<code>Authorization: Bearer …</code>; POST needs the <code>write:data</code> scope.
From a terminal, with the token in <code>$TOKEN</code>:</p>
<pre>curl -H "Authorization: Bearer $TOKEN" $BASE_URL/api/resource</pre>
<p><button type="button" id="call-api-get">GET /api/resource</button>
<button type="button" id="call-api-post">POST /api/resource</button></p>
<pre id="api-result"></pre>
<script>
(() => {
  const resource = {{.}};
  const out = document.getElementById('api-result');
  for (const method of ['GET', 'POST']) {
    document.getElementById('call-api-' + method.toLowerCase()).addEventListener('click', async () => {
      out.textContent = '…';
      delete out.dataset.status;
      const t = await fetch('/api/token?resource=' + encodeURIComponent(resource), { headers: { Accept: 'application/json' } });
      const { access_token: token } = await t.json();
      const r = await fetch('/api/resource', { method, headers: { Authorization: 'Bearer ' + token } });
      const challenge = r.headers.get('WWW-Authenticate');
      out.textContent = method + ' ' + r.status + (challenge ? '\nWWW-Authenticate: ' + challenge : '') + '\n' + await r.text();
      out.dataset.method = method;
      out.dataset.status = r.status; // the browser tests wait for it
    });
  }
})();
</script>`))
