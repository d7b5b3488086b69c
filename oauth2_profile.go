package oidcauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// maxProfileBytes bounds a plain OAuth 2.0 provider's profile: it is kept
// in the session as the user's claims, and sessions live in cookies.
// GitHub's is about 1.5 KiB.
const maxProfileBytes = 16 << 10

// profile is a user's profile at a plain OAuth 2.0 provider: the raw JSON
// object and the attributes ProfileMap picks from it.
type profile struct {
	raw                            string // compact JSON object
	id, name, avatar, email, phone string
}

// fetchProfile reads the profile from p's userinfo endpoint with the access
// token we redeemed ourselves, so it describes the user who signed in
// here, and maps it. Errors wrap ErrUserInfo and never carry the body.
func (a *Auth) fetchProfile(ctx context.Context, p *oauth2Client, accessToken string) (*profile, error) {
	// The Content-Type is not checked: some providers label JSON as text,
	// and Logto's connector reads the body whatever the label. The body
	// must parse as a JSON object either way.
	raw, err := a.getUserInfo(ctx, p.UserInfoEndpoint, accessToken, maxProfileBytes, false)
	if err != nil {
		return nil, err
	}
	return mapProfile(raw, p.ProfileMap)
}

// mapProfile picks the user's attributes out of a profile object. The id
// must be a non-empty string or an integer: a session without a subject
// must never exist.
func mapProfile(raw []byte, m ProfileMap) (*profile, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil || obj == nil || d.More() {
		return nil, fail(ErrUserInfo, errors.New("profile is not a JSON object"))
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, fail(ErrUserInfo, errors.New("profile is not a JSON object"))
	}
	p := &profile{raw: compact.String()}
	switch id := lookupPath(obj, m.ID).(type) {
	case string:
		p.id = id
	case json.Number:
		// Numeric ids (GitHub's) become their decimal text; a fraction or
		// exponent is not an id.
		if _, err := strconv.ParseInt(id.String(), 10, 64); err == nil {
			p.id = id.String()
		}
	}
	if p.id == "" || len(p.id) > 255 {
		return nil, fail(ErrUserInfo, errors.New("profile has no usable id at profileMap.id"))
	}
	p.name, _ = lookupPath(obj, m.Name).(string)
	p.avatar, _ = lookupPath(obj, m.Avatar).(string)
	p.email, _ = lookupPath(obj, m.Email).(string)
	p.phone, _ = lookupPath(obj, m.Phone).(string)
	return p, nil
}

// lookupPath finds path in obj: a top-level field of that exact name, or
// else a dotted path through nested objects and arrays (a number segment
// indexes an array).
func lookupPath(obj map[string]any, path string) any {
	if v, ok := obj[path]; ok {
		return v
	}
	var cur any = obj
	for _, seg := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}
