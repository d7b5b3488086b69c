package oidcauth

import (
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMapProfile(t *testing.T) {
	t.Parallel()
	github := readTestdata(t, "github-user.json")
	nested := readTestdata(t, "nested-profile.json")
	cases := []struct {
		name    string
		raw     []byte
		m       ProfileMap
		want    profile
		wantErr bool
	}{
		{"GitHub numeric id and avatar_url", github, ProfileMap{ID: "id", Name: "name", Avatar: "avatar_url", Email: "email", Phone: "phone"},
			profile{id: "583231", name: "Octo Dev", avatar: "https://avatars.githubusercontent.com/u/583231?v=4", email: "octo.dev@example.com"}, false},
		{"dotted paths and an array index", nested, ProfileMap{ID: "data.id", Name: "data.attributes.full_name", Avatar: "data.attributes.image.url", Email: "emails.0.value", Phone: "data.attributes.phone"},
			profile{id: "8f3a2c71-5b0e-4d9a-9c1f-2e7b6a4d3c10", name: "Ada Example", avatar: "https://cdn.example.com/u/8f3a.png", email: "ada@example.com", phone: "+15550100"}, false},
		{"a key with a dot in it", []byte(`{"user.id":"u-1","user":{"id":"other"}}`), ProfileMap{ID: "user.id"}, profile{id: "u-1"}, false},
		{"large integer id stays exact", []byte(`{"id":80351110224678912}`), ProfileMap{ID: "id"}, profile{id: "80351110224678912"}, false},
		{"missing id", []byte(`{"name":"x"}`), ProfileMap{ID: "id"}, profile{}, true},
		{"empty id", []byte(`{"id":""}`), ProfileMap{ID: "id"}, profile{}, true},
		{"null id", []byte(`{"id":null}`), ProfileMap{ID: "id"}, profile{}, true},
		{"fractional id", []byte(`{"id":1.5}`), ProfileMap{ID: "id"}, profile{}, true},
		{"object id", []byte(`{"id":{"v":1}}`), ProfileMap{ID: "id"}, profile{}, true},
		{"index out of range", nested, ProfileMap{ID: "emails.3.value"}, profile{}, true},
		{"not an object", []byte(`[{"id":1}]`), ProfileMap{ID: "id"}, profile{}, true},
		{"over-long id", []byte(`{"id":"` + strings.Repeat("a", 256) + `"}`), ProfileMap{ID: "id"}, profile{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mapProfile(tc.raw, tc.m)
			if tc.wantErr {
				if !errors.Is(err, ErrUserInfo) {
					t.Fatalf("err %v, want ErrUserInfo", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.raw = ""
			if *got != tc.want {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

// Plain OAuth 2.0 profiles: whatever JSON a provider sends, mapping never
// panics, and a mapped profile always has a usable id, so no session can
// have an empty subject.
func FuzzMapProfile(f *testing.F) {
	for _, name := range []string{"testdata/oauth2/github-user.json", "testdata/oauth2/nested-profile.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "id", "name")
	}
	f.Add([]byte(`{"data":{"user":{"id":12345678901234567890}}}`), "data.user.id", "data.user.name")
	f.Add([]byte(`{"id":1.5e3,"users":[{"id":"x"}]}`), "users.0.id", "users.1.name")
	f.Add([]byte(`[]`), "id", "")
	f.Fuzz(func(t *testing.T, raw []byte, idPath, namePath string) {
		p, err := mapProfile(raw, ProfileMap{ID: idPath, Name: namePath, Avatar: "avatar_url", Email: "email", Phone: "phone"})
		if err != nil {
			return
		}
		if p.id == "" || len(p.id) > 255 {
			t.Fatalf("mapped a profile with id %q", p.id)
		}
		if !utf8.ValidString(p.raw) && utf8.Valid(raw) {
			t.Fatalf("the kept profile lost its encoding")
		}
	})
}
