package oidcauth

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every Go snippet of README.md and doc.go compiles: a complete program
// as it stands, a fragment inside a function that declares the names the
// prose gives it (auth, mux, w, r, …). One go vet run type-checks them all.
func TestDocSnippetsCompile(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var snippets []snippet
	for i, s := range markdownSnippets(string(readme)) {
		snippets = append(snippets, snippet{name: fmt.Sprintf("README.md #%d", i+1), text: s})
	}
	for i, s := range docCommentSnippets(string(doc)) {
		snippets = append(snippets, snippet{name: fmt.Sprintf("doc.go #%d", i+1), text: s})
	}
	if len(snippets) < 8 {
		t.Fatalf("found %d snippets; the extraction broke", len(snippets))
	}
	hasMain := false
	// Snippets go to directories inside the module that needs them, named
	// with "_" so that no "./..." pattern of a concurrent go command sees
	// them.
	byModule := map[string][]string{}
	for i, s := range snippets {
		src, module := s.program()
		hasMain = hasMain || strings.Contains(src, "func main()")
		dir, err := os.MkdirTemp(module, "_snippet")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.WriteFile(filepath.Join(dir, "snippet.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		byModule[module] = append(byModule[module], "./"+filepath.Base(dir))
		snippets[i].dir = dir
	}
	if !hasMain {
		t.Error(`README's "In your own app" is no longer a complete program`)
	}
	for module, dirs := range byModule {
		cmd := exec.Command("go", append([]string{"vet"}, dirs...)...)
		cmd.Dir = module
		if out, err := cmd.CombinedOutput(); err != nil {
			msg := string(out)
			for _, s := range snippets {
				msg = strings.ReplaceAll(msg, filepath.Base(s.dir)+"/snippet.go", s.name)
			}
			t.Errorf("go vet in %s: %v\n%s", module, err, msg)
		}
	}
}

type snippet struct{ name, text, dir string }

var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

func markdownSnippets(md string) []string {
	var out []string
	for _, m := range goBlock.FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

// docCommentSnippets are the tab-indented blocks of a doc comment.
func docCommentSnippets(src string) []string {
	var out []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n")+"\n")
			cur = nil
		}
	}
	for _, line := range strings.Split(src, "\n") {
		switch {
		case strings.HasPrefix(line, "//\t"):
			cur = append(cur, strings.TrimPrefix(line, "//\t"))
		case line == "//" && len(cur) > 0:
			cur = append(cur, "")
		default:
			flush()
		}
	}
	flush()
	return out
}

// snippetImports are the packages a fragment may use, by the name it
// uses; snippetModules the module a package needs, when not the root.
var (
	snippetImports = map[string]string{
		"context": "context", "errors": "errors", "fmt": "fmt", "html": "html", "http": "net/http", "httptest": "net/http/httptest", "cookiejar": "net/http/cookiejar", "io": "io",
		"json": "encoding/json", "log": "log", "os": "os", "slog": "log/slog", "strings": "strings", "testing": "testing", "time": "time",
		"oidcauth": "github.com/oidcauth/oidcauth", "oidcauthtest": "github.com/oidcauth/oidcauth/oidcauthtest",
		"redis": "github.com/redis/go-redis/v9", "oidcredis": "github.com/oidcauth/oidcauth/stores/redis",
		"filepath": "path/filepath", "oidcbolt": "github.com/oidcauth/oidcauth/stores/bolt",
	}
	snippetModules = map[string]string{"oidcredis": "stores/redis", "redis": "stores/redis", "oidcbolt": "stores/bolt"}
)

// snippetContext are the names the README's prose gives fragments.
const snippetContext = `	var (
		auth                   *oidcauth.Auth
		mux                    *http.ServeMux
		w                      http.ResponseWriter
		r, req                 *http.Request
		ctx                    context.Context
		t                      *testing.T
		admin, create, orgPages, adminPage, createOrder http.Handler
	)
	_, _, _, _, _, _, _, _, _, _, _, _ = auth, mux, w, r, req, ctx, t, admin, create, orgPages, adminPage, createOrder
`

var (
	topLevelDecl = regexp.MustCompile(`(?m)^(func|type) `)
	shortDecl    = regexp.MustCompile(`(?m)^([A-Za-z_][\w]*(?:, *[A-Za-z_][\w]*)*) :=`)
	qualified    = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.[A-Za-z]`)
)

// program returns the snippet as a Go file, and the module directory it
// compiles in.
func (s snippet) program() (string, string) {
	module := "."
	if strings.HasPrefix(s.text, "package ") {
		return s.text, module
	}
	// Top-level declarations (a handler, a test) stay at the top level;
	// statements go in a function.
	var decls, stmts []string
	lines := strings.Split(s.text, "\n")
	for i := 0; i < len(lines); i++ {
		if topLevelDecl.MatchString(lines[i]) {
			j := i
			if strings.HasSuffix(lines[i], "{") {
				for j < len(lines)-1 && lines[j] != "}" {
					j++
				}
			}
			decls = append(decls, strings.Join(lines[i:j+1], "\n"))
			i = j
			continue
		}
		stmts = append(stmts, lines[i])
	}
	body := strings.Join(stmts, "\n")
	// Fragments stop where the prose takes over: what they declare may go
	// unused.
	var declared []string
	for _, m := range shortDecl.FindAllStringSubmatch(body, -1) {
		for _, name := range strings.Split(m[1], ",") {
			if name = strings.TrimSpace(name); name != "_" && !slices.Contains(declared, name) {
				declared = append(declared, name)
			}
		}
	}
	uses := []string{"context", "http", "oidcauth", "testing"}
	for _, m := range qualified.FindAllStringSubmatch(s.text, -1) {
		if _, known := snippetImports[m[1]]; known && !slices.Contains(uses, m[1]) {
			uses = append(uses, m[1])
		}
		if mod, ok := snippetModules[m[1]]; ok {
			module = mod
		}
	}
	var b strings.Builder
	b.WriteString("package snippet\n\nimport (\n")
	for _, name := range uses {
		fmt.Fprintf(&b, "\t%s %q\n", name, snippetImports[name])
	}
	b.WriteString(")\n\n")
	for _, name := range uses {
		fmt.Fprintf(&b, "var _ = %s.%s\n", name, anyExported[name])
	}
	b.WriteString("\nfunc _() {\n" + snippetContext + "\t{\n" + body + "\n")
	for _, name := range declared {
		fmt.Fprintf(&b, "\t\t_ = %s\n", name)
	}
	b.WriteString("\t}\n}\n\n" + strings.Join(decls, "\n\n") + "\n")
	return b.String(), module
}

// anyExported names one exported identifier of each package, to keep an
// import used.
var anyExported = map[string]string{
	"context": "Background", "errors": "New", "fmt": "Sprint", "html": "EscapeString", "http": "StatusOK", "httptest": "NewServer", "cookiejar": "New", "io": "EOF",
	"json": "Marshal", "log": "Print", "os": "Getenv", "slog": "Default", "strings": "Cut", "testing": "Short", "time": "Now",
	"oidcauth": "New", "oidcauthtest": "DefaultClientID", "redis": "NewClient", "oidcredis": "NewBackend",
	"filepath": "Join", "oidcbolt": "Open",
}

// README's table of Logto SDK calls names a test for each row; each exists.
func TestLogtoMappingTestsExist(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "## Coming from Logto's SDKs")
	table, _, _ = strings.Cut(table, "\n\n## ")
	if !ok {
		t.Fatal("README lost its Logto SDK table")
	}
	files, _ := filepath.Glob("*_test.go")
	var all strings.Builder
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all.Write(b)
	}
	rows := 0
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `") && !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| Logto SDK") {
			continue
		}
		rows++
		names := regexp.MustCompile("`(Test[A-Za-z0-9_]+)`").FindAllStringSubmatch(line, -1)
		if len(names) == 0 {
			t.Errorf("row without a test: %s", line)
		}
		for _, n := range names {
			if !strings.Contains(all.String(), "func "+n[1]+"(") {
				t.Errorf("README names %s, which does not exist", n[1])
			}
		}
	}
	if rows < 15 {
		t.Errorf("only %d rows", rows)
	}
}
