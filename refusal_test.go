package oidcauth

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oidcauth/oidcauth/oidcauthtest"
)

// revocationList is the revocation store's records, sorted, for comparing
// the list before and after a refused request.
func revocationList(t *testing.T, a *Auth) []string {
	t.Helper()
	m, ok := a.cfg.Revocations.(*MemoryRevocations)
	if !ok {
		t.Fatal("the test needs the in-memory revocation store")
	}
	var out []string
	m.Range(func(r Revocation) bool {
		out = append(out, strings.Join([]string{r.SessionID, r.ProviderSID, r.Subject, r.At.UTC().Format(time.RFC3339), r.Until.UTC().Format(time.RFC3339)}, "|"))
		return true
	})
	slices.Sort(out)
	return out
}

// A logout token replayed after the user signed in anew is refused and
// changes nothing: the new session stays, the revocation list is as it was.
func TestBackChannelReplayChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, nil)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	sub := f.currentSession().user.Subject
	tok := f.logoutToken(oidcauthtest.LogoutTokenOptions{Subject: sub})
	wantStatus(t, f.postLogout(tok), http.StatusOK)
	if f.signedIn() {
		t.Fatal("the logout did not end the session")
	}

	f.clock.Advance(30 * time.Second)
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	before := revocationList(t, f.auth)
	f.clock.Advance(30 * time.Second)
	wantStatus(t, f.postLogout(tok), http.StatusBadRequest)
	if !f.signedIn() {
		t.Error("a replayed logout token ended the new session")
	}
	if after := revocationList(t, f.auth); !slices.Equal(before, after) {
		t.Errorf("a replayed logout token changed the revocation list:\n before %q\n after  %q", before, after)
	}
}

// state is what a refused request must leave as it was.
type state struct {
	signedIn  bool
	sessionID string
	refresh   string
	revoked   []string
	calls     map[string]int
}

func (f *flow) state() state {
	f.t.Helper()
	st := state{revoked: revocationList(f.t, f.auth), calls: map[string]int{}}
	for _, e := range []string{"authorize", "token", "userinfo", "end_session", "revocation"} {
		st.calls["op:"+e] = f.idp.Calls(e)
	}
	st.signedIn = f.signedIn()
	if st.signedIn {
		s := f.currentSession()
		st.sessionID, st.refresh = s.id, s.refreshToken
	}
	return st
}

func (st state) diff(after state, providerAnswered bool) []string {
	var d []string
	if st.signedIn != after.signedIn || st.sessionID != after.sessionID {
		d = append(d, "the session changed")
	}
	if st.refresh != after.refresh {
		d = append(d, "the refresh token changed")
	}
	if !slices.Equal(st.revoked, after.revoked) {
		d = append(d, "the revocation list changed")
	}
	for e, n := range st.calls {
		if after.calls[e] != n && !(providerAnswered && e == "op:token") {
			d = append(d, "the provider was called: "+e)
		}
	}
	return d
}

// Every refusal of a request that could change state leaves it as it was:
// the session valid and the same, the revocation list unchanged, and no
// call to the provider (but the one whose answer is being refused).
func TestRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) { c.Resources = []string{"https://api.example.com"} })
	f.mux.Handle("/token", f.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := f.auth.AccessToken(w, r, r.URL.Query().Get("resource")); err != nil {
			http.Error(w, ErrorReason(err), ErrorStatus(err))
		}
	})))
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	s := f.currentSession()
	sub, sid := s.user.Subject, s.sid
	// Another browser, for a sign-in whose response this one must not take.
	other := *f
	other.jar = newJar()
	other.client = &http.Client{Jar: other.jar, Transport: f.client.Transport, CheckRedirect: f.client.CheckRedirect}

	token := func(o oidcauthtest.LogoutTokenOptions) func() *http.Response {
		return func() *http.Response { return f.postLogout(f.logoutToken(o)) }
	}
	edit := func(fn func(map[string]any)) oidcauthtest.LogoutTokenOptions {
		return oidcauthtest.LogoutTokenOptions{Subject: sub, SID: sid, Claims: fn}
	}
	var replay, otherResponse string
	cases := []struct {
		name     string
		setup    func()
		do       func() *http.Response
		status   int
		answered bool // the provider answered, and the answer is refused
	}{
		{name: "back-channel: bad signature", status: 400, do: token(oidcauthtest.LogoutTokenOptions{Subject: sub, SID: sid, Misbehavior: oidcauthtest.Misbehavior{CorruptSignature: true}})},
		{name: "back-channel: wrong aud", status: 400, do: token(edit(func(c map[string]any) { c["aud"] = "another-client" }))},
		{name: "back-channel: iat too old", status: 400, do: token(edit(func(c map[string]any) { c["iat"] = f.clock.Now().Add(-time.Hour).Unix() }))},
		{name: "back-channel: no jti", status: 400, do: token(edit(func(c map[string]any) { delete(c, "jti") }))},
		{name: "back-channel: typ JWT", status: 400, do: token(oidcauthtest.LogoutTokenOptions{Subject: sub, SID: sid, Typ: "JWT"})},
		{name: "back-channel: unknown key", status: 503, do: token(oidcauthtest.LogoutTokenOptions{Subject: sub, Misbehavior: oidcauthtest.Misbehavior{SignWithUnknownKey: true}})},
		{name: "back-channel: replay", status: 400,
			setup: func() {
				replay = f.logoutToken(oidcauthtest.LogoutTokenOptions{Subject: sub})
				wantStatus(t, f.postLogout(replay), http.StatusOK)
				f.clock.Advance(2 * time.Second)
				wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
			},
			do: func() *http.Response { return f.postLogout(replay) }},
		{name: "back-channel: GET", status: 405, do: func() *http.Response { return f.get("/backchannel-logout") }},
		{name: "back-channel: JSON", status: 400, do: func() *http.Response {
			resp, err := f.app.Client().Do(formRequest(t, f.app.URL+"/backchannel-logout", "application/json", `{"logout_token":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			return resp
		}},
		{name: "callback: no state", status: 400, do: func() *http.Response { return f.get("/callback?code=abc") }},
		{name: "callback: unknown state", status: 400, do: func() *http.Response {
			return f.get("/callback?code=abc&state=" + strings.Repeat("A", stateLen))
		}},
		{name: "callback: error with unknown state", status: 400, do: func() *http.Response {
			return f.get("/callback?error=access_denied&state=" + strings.Repeat("A", stateLen))
		}},
		{name: "callback: another browser's response", status: 400,
			setup: func() { otherResponse = other.startSignIn("/sign-in").String() },
			do:    func() *http.Response { return f.get(otherResponse) }},
		{name: "callback: POST", status: 405, do: func() *http.Response { return f.do("POST", "/callback", nil) }},
		{name: "sign-out: cross-site POST", status: 200, do: func() *http.Response {
			return f.do("POST", "/sign-out", http.Header{"Sec-Fetch-Site": {"cross-site"}})
		}},
		{name: "sign-out: GET without evidence", status: 200, do: func() *http.Response { return f.get("/sign-out") }},
		{name: "sign-out: PUT", status: 405, do: func() *http.Response { return f.do("PUT", "/sign-out", nil) }},
		{name: "refresh: resource refused", status: 403, answered: true, do: func() *http.Response {
			f.idp.Misbehave(oidcauthtest.Misbehavior{TokenStatus: 400, TokenBody: `{"error":"invalid_target"}`})
			defer f.idp.Misbehave(oidcauthtest.Misbehavior{})
			return f.get("/token?resource=https://api.example.com")
		}},
		{name: "refresh: provider failing", status: 502, answered: true, do: func() *http.Response {
			f.idp.Misbehave(oidcauthtest.Misbehavior{TokenStatus: 500})
			defer f.idp.Misbehave(oidcauthtest.Misbehavior{})
			return f.get("/token?resource=https://api.example.com")
		}},
		{name: "refresh: refreshed ID token with a bad signature", status: 502, answered: true, do: func() *http.Response {
			f.idp.Misbehave(oidcauthtest.Misbehavior{CorruptSignature: true})
			defer f.idp.Misbehave(oidcauthtest.Misbehavior{})
			return f.get("/token?resource=https://api.example.com")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			if tc.setup != nil {
				tc.setup()
			}
			before := f.state()
			if !before.signedIn {
				t.Fatal("not signed in before the request")
			}
			resp := tc.do()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			for _, d := range before.diff(f.state(), tc.answered) {
				t.Error(d)
			}
		})
	}
}

// The same for the callbacks of plain OAuth 2.0 providers.
func TestOAuth2RefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	gh := github()
	f := newOAuth2Flow(t, true, []*fake{gh}, nil)
	wantStatus(t, f.get(f.startAt("/sign-in?provider=github").String()), http.StatusSeeOther)
	other := *f
	other.jar = newJar()
	other.client = &http.Client{Jar: other.jar, Transport: f.client.Transport, CheckRedirect: f.client.CheckRedirect}
	var otherResponse string
	cases := []struct {
		name   string
		setup  func()
		target string
	}{
		{name: "no state", target: "/callback/github?code=abc"},
		{name: "unknown state", target: "/callback/github?code=abc&state=" + strings.Repeat("A", stateLen)},
		{name: "error with unknown state", target: "/callback/github?error=access_denied&state=" + strings.Repeat("A", stateLen)},
		{name: "another browser's response", setup: func() { otherResponse = other.startAt("/sign-in?provider=github").String() }},
		{name: "another browser's OpenID response", setup: func() { otherResponse = other.startSignIn("/sign-in").String() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			target := tc.target
			if tc.setup != nil {
				tc.setup()
				target = otherResponse
			}
			before := f.state()
			ghToken, ghUser := gh.srv.Calls("token"), gh.srv.Calls("userinfo")
			wantStatus(t, f.get(target), http.StatusBadRequest)
			for _, d := range before.diff(f.state(), false) {
				t.Error(d)
			}
			if gh.srv.Calls("token") != ghToken || gh.srv.Calls("userinfo") != ghUser {
				t.Error("the OAuth 2.0 provider was called")
			}
		})
	}
}

// countingRevocations counts the writes a Revocations receives.
type countingRevocations struct {
	*MemoryRevocations
	writes int
}

func (c *countingRevocations) Revoke(ctx context.Context, r Revocation) error {
	c.writes++
	return c.MemoryRevocations.Revoke(ctx, r)
}

// A replayed logout token writes nothing to a store that can tell it
// already holds the revocation: no write reaches a shared store (and its
// other instances) for a replay.
func TestBackChannelReplayWritesNothing(t *testing.T) {
	t.Parallel()
	store := &countingRevocations{MemoryRevocations: NewMemoryRevocations()}
	f := newFlow(t, oidcauthtest.Options{}, func(c *Config) { c.Revocations = store })
	wantStatus(t, f.signIn("/sign-in"), http.StatusSeeOther)
	tok := f.logoutToken(oidcauthtest.LogoutTokenOptions{Subject: f.currentSession().user.Subject})
	wantStatus(t, f.postLogout(tok), http.StatusOK)
	writes := store.writes
	wantStatus(t, f.postLogout(tok), http.StatusBadRequest)
	if store.writes != writes {
		t.Errorf("a replay wrote %d revocations", store.writes-writes)
	}
}
