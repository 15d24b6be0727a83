package sapcpireceiver

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTroubleshootingQuotesWhatTheCodePrints holds the README's troubleshooting table to the code: every
// line a user is told to look for in the collector's log must be one the code can print. A quoted line is
// split at "…"; each piece must be part of a string literal of the module's code, a stretch of what a
// format string prints (its verbs standing for any text), or an HTTP status line.
func TestTroubleshootingQuotesWhatTheCodePrints(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Troubleshooting\n")
	require.True(t, ok, "README has no Troubleshooting section")
	section, _, _ = strings.Cut(section, "\n## ")

	literals := codeStrings(t, "..")
	row := regexp.MustCompile("(?m)^\\| `([^`]+)`")
	rows := row.FindAllStringSubmatch(section, -1)
	require.Greater(t, len(rows), 10, "the troubleshooting table was not found")
	checked := 0
	for _, m := range rows {
		for piece := range strings.SplitSeq(m[1], "…") {
			piece = strings.TrimSpace(piece)
			if piece == "" {
				continue
			}
			checked++
			require.Truef(t, printable(piece, literals), "README troubleshooting quotes %q (in %q), which no code prints", piece, m[1])
		}
	}
	t.Logf("%d quoted pieces of %d rows found in the code", checked, len(rows))
}

var formatVerb = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)

func printable(piece string, literals []string) bool {
	if code, text, ok := strings.Cut(piece, " "); ok {
		if n, err := strconv.Atoi(code); err == nil && http.StatusText(n) == text {
			return true
		}
	}
	for _, l := range literals {
		if strings.Contains(l, piece) {
			return true
		}
		if parts := formatVerb.Split(l, -1); len(parts) > 1 && fills(piece, parts) {
			return true
		}
	}
	return false
}

// fills reports whether piece is a stretch of what the format string (split at its verbs into parts)
// prints: the end of one part, then the parts after it each behind some text a verb printed, ending
// inside a part or in a verb's text. A third of piece, and 8 bytes at least, must be the format's own text.
func fills(piece string, parts []string) bool {
	enough := func(fixed int) bool { return fixed >= 8 && 3*fixed >= len(piece) }
	var rest func(r string, k, fixed int) bool
	rest = func(r string, k, fixed int) bool {
		if r == "" {
			return enough(fixed)
		}
		if k >= len(parts) {
			return false
		}
		if parts[k] == "" { // two verbs in a row, or one at the end
			return enough(fixed) || rest(r, k+1, fixed)
		}
		if enough(fixed) && !strings.Contains(r, parts[k]) {
			return true // the rest is what the verb before parts[k] printed
		}
		for pos := 1; pos < len(r); pos++ {
			tail := r[pos:]
			if strings.HasPrefix(tail, parts[k]) && rest(tail[len(parts[k]):], k+1, fixed+len(parts[k])) {
				return true
			}
			if strings.HasPrefix(parts[k], tail) && enough(fixed+len(tail)) {
				return true
			}
		}
		return false
	}
	for i, p := range parts {
		for off := range len(p) {
			if s := p[off:]; strings.HasPrefix(piece, s) && rest(piece[len(s):], i+1, len(s)) {
				return true
			}
		}
	}
	return false
}

// codeStrings returns the string literals of the module's Go code under root, tests, generated code and
// build output left out.
func codeStrings(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "dist", "bin", ".tmp", ".git", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					out = append(out, s)
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	return out
}
