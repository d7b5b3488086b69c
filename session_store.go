package oidcauth

import (
	"net/http"
	"time"

	"github.com/gorilla/sessions"
	"github.com/oidcauth/oidcauth/internal/cookie"
)

// sessionValueKey is where the session lives in a gorilla/sessions session.
const sessionValueKey = "oidcauth"

// readSession returns the request's session if it decodes, and whether the
// request carried one at all; expiry is the caller's to check. Tampered,
// foreign or stale cookies are "no session", never an error.
func (a *Auth) readSession(r *http.Request) (*session, bool) {
	if a.cfg.Store != nil {
		return a.readStoreSession(r)
	}
	sc := cookie.ScratchPool.Get().(*cookie.Scratch)
	defer cookie.ScratchPool.Put(sc)
	v, ok := cookie.ReadInto(&sc.Join, r, a.sessionCookie)
	if !ok {
		_, head := cookie.Value(r, a.sessionCookie)
		_, chunk := cookie.ChunkValue(r, a.sessionCookie, 1)
		return nil, head || chunk
	}
	if s := a.verified.get(v); s != nil {
		return s, true
	}
	plain, err := a.codec.Open(sc, a.sessionCookie, v)
	if err != nil {
		return nil, true
	}
	s, err := unmarshalSession(string(plain), a.cfg.Issuer)
	if err == nil {
		a.verified.put(v, s) // only what authenticated and decoded
	}
	return s, true
}

func (a *Auth) readStoreSession(r *http.Request) (*session, bool) {
	gs, err := a.cfg.Store.Get(r, a.sessionCookie)
	if err != nil {
		// A backend fault (or a cookie the store's own codec refuses)
		// reads as signed out; say so, or an outage looks like everyone
		// signing out.
		a.cfg.Logger.Warn("oidcauth: session store read failed; treating the request as signed out", "error", logSafe(err))
		return nil, true
	}
	if gs.IsNew {
		return nil, false
	}
	return a.openStoreSession(gs), true
}

// openStoreSession decodes the session a store's session holds, or nil.
func (a *Auth) openStoreSession(gs *sessions.Session) *session {
	sealed, ok := gs.Values[sessionValueKey].([]byte)
	if !ok {
		return nil
	}
	sc := cookie.ScratchPool.Get().(*cookie.Scratch)
	defer cookie.ScratchPool.Put(sc)
	plain, err := a.codec.OpenBytes(sc, a.sessionCookie, sealed)
	if err != nil {
		return nil
	}
	s, _ := unmarshalSession(string(plain), a.cfg.Issuer)
	return s
}

// writeSession saves s, replacing whatever session the request carried.
// fresh asks a server-side store for a new session id (sign-in: no
// fixation).
func (a *Auth) writeSession(w http.ResponseWriter, r *http.Request, s *session, fresh bool) error {
	expires := min(s.created+int64(a.cfg.SessionMaxAge/time.Second), s.touched+int64(a.cfg.SessionIdleTimeout/time.Second))
	maxAge := int(expires - a.cfg.Now().Unix())
	if maxAge <= 0 {
		return ErrNotSignedIn
	}
	// The payload is sealed into a new buffer, never kept: a pooled one
	// saves allocating and growing 2–3 KB per sign-in and re-issue.
	sc := cookie.ScratchPool.Get().(*cookie.Scratch)
	defer cookie.ScratchPool.Put(sc)
	payload := s.marshal(sc.Buf[:0])
	sc.Buf = payload[:0]
	// Session cookies must not be stored by shared caches.
	w.Header().Set("Cache-Control", "private, no-store")
	if a.cfg.Store != nil {
		return a.writeStoreSession(w, r, payload, maxAge, fresh)
	}
	return cookie.Write(w, r, a.cookies, a.sessionCookie, a.codec.Seal(a.sessionCookie, payload), maxAge)
}

func (a *Auth) writeStoreSession(w http.ResponseWriter, r *http.Request, payload []byte, maxAge int, fresh bool) error {
	var gs *sessions.Session
	if fresh {
		a.clearStoreSession(w, r)
		gs = sessions.NewSession(a.cfg.Store, a.sessionCookie)
		gs.IsNew = true
	} else {
		var err error
		if gs, err = a.cfg.Store.Get(r, a.sessionCookie); err != nil {
			return fail(ErrInternal, err)
		}
	}
	// Sealed as the cookie would be: a store that only signs (a
	// CookieStore with no encryption key) or keeps records in the clear (a
	// database) holds no readable token or personal data.
	values := map[any]any{sessionValueKey: a.codec.SealBytes(a.sessionCookie, payload)}
	if rec, ok := gs.Values[loadedRecord{}]; ok {
		values[loadedRecord{}] = rec // ServerStore writes only over what was read
	}
	gs.Values = values
	gs.Options = a.storeOptions(maxAge)
	if err := a.cfg.Store.Save(r, w, gs); err != nil {
		return fail(ErrInternal, err)
	}
	return nil
}

func (a *Auth) storeOptions(maxAge int) *sessions.Options {
	return &sessions.Options{Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: a.cookies.Secure, SameSite: http.SameSiteLaxMode}
}

func (a *Auth) clearStoreSession(w http.ResponseWriter, r *http.Request) {
	gs, err := a.cfg.Store.Get(r, a.sessionCookie)
	if err != nil || gs.IsNew {
		return
	}
	gs.Options = a.storeOptions(-1)
	if err := a.cfg.Store.Save(r, w, gs); err != nil {
		a.cfg.Logger.Warn("oidcauth: session store delete failed", "error", logSafe(err))
	}
	// gorilla caches the session for the rest of this request; empty it so
	// nothing later in the request reads the ended session.
	gs.Values = map[any]any{}
}

// clearSession ends the request's session: the cookie (and its chunks) is
// expired and a server-side record deleted.
func (a *Auth) clearSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "private, no-store")
	if a.cfg.Store != nil {
		a.clearStoreSession(w, r)
		return
	}
	if _, ok := cookie.Value(r, a.sessionCookie); ok {
		a.cookies.Clear(w, a.sessionCookie)
	}
	if v, ok := cookie.Read(r, a.sessionCookie); ok {
		a.verified.drop(v)
	}
	cookie.ClearChunks(w, r, a.cookies, a.sessionCookie, 1)
}
