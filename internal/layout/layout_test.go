package layout

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "rose-ash.com/persist"

// allowed lists, for each package of the module, the module packages and
// third-party module prefixes it may import directly. "*" allows any.
var allowed = map[string][]string{
	"": {"effect", "ops", "platform", "sx", "interp", "programs", "backends/mem", "backends/file",
		"backends/postgres", "backends/blobdir", "backends/ipfs", "remote", "github.com/google/uuid", "github.com/ipfs/go-cid"},
	"effect": {},
	"sx":     {},
	"ops": {"effect", "github.com/google/uuid", "github.com/ipfs/go-cid", "github.com/multiformats/go-multihash",
		"google.golang.org/protobuf/encoding/protowire"},
	"platform":                  {"effect"},
	"interp":                    {"effect", "ops", "platform", "sx"},
	"programs":                  {"effect", "ops", "sx", "github.com/google/uuid"},
	"backends/mem":              {"effect", "ops", "backends/internal/idindex", "github.com/google/uuid"},
	"backends/file":             {"effect", "ops", "platform", "backends/internal/idindex", "github.com/google/uuid"},
	"backends/internal/idindex": {"github.com/google/uuid"},
	"backends/mock":             {"effect", "platform"},
	"backends/blobdir":          {"effect", "ops", "platform", "github.com/ipfs/go-cid"},
	"backends/ipfs":             {"effect", "ops", "platform", "github.com/ipfs/go-cid", "github.com/multiformats/go-multihash"},
	"backends/blobtest":         {"*"},
	"backends/postgres":         {"effect", "ops", "github.com/jackc/pgx/v5", "github.com/google/uuid"},
	"backends/backendtest":      {"*"},
	"backends/crashtest":        {"*"},
	"remote":                    {"effect", "ops", "sx", "internal/plaintext", "github.com/google/uuid", "github.com/ipfs/go-cid"},
	"server":                    {"effect", "ops", "sx", "interp", "programs", "internal/plaintext", "github.com/google/uuid", "github.com/prometheus/client_golang"},
	"server/console":            {"effect", "ops", "sx", "server"},
	"transfer":                  {"effect", "ops", "github.com/google/uuid"},
	"transfer/stage":            {"effect", "ops", "platform", "transfer", "backends/mem", "backends/file", "backends/postgres", "github.com/jackc/pgx/v5"},
	"cmd/persist":               {"*"},
	"internal/layout":           {},
	"internal/plaintext":        {},
	"internal/scoreboard":       {},
}

type pkg struct {
	ImportPath string
	Dir        string
	Name       string
	Imports    []string
	GoFiles    []string
	Standard   bool
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	require.NoError(t, err, "go list")
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		require.NoError(t, dec.Decode(&p))
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func TestImportArrows(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		rules, ok := allowed[rel]
		if !assert.True(t, ok, "package %s is not in the layout table: add it to DESIGN.md and this test", rel) {
			continue
		}
		if len(rules) == 1 && rules[0] == "*" {
			continue
		}
		for _, imp := range p.Imports {
			if isStd(imp) {
				continue
			}
			target := imp
			if strings.HasPrefix(imp, module+"/") {
				target = strings.TrimPrefix(imp, module+"/")
			}
			permitted := false
			for _, r := range rules {
				if target == r || strings.HasPrefix(target, r+"/") {
					permitted = true
				}
			}
			assert.True(t, permitted, "%s imports %s, which the layout does not allow", rel, imp)
		}
	}
}

func TestOnePackageDoc(t *testing.T) {
	for _, p := range listPackages(t) {
		var docs []string
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
			require.NoError(t, err)
			if file.Doc != nil && strings.TrimSpace(file.Doc.Text()) != "" {
				docs = append(docs, f)
			}
		}
		assert.Len(t, docs, 1, "package %s should have exactly one package doc, has %v", p.ImportPath, docs)
	}
}
