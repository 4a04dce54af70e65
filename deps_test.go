// Package vpconnect_test holds the tests that guard the shape of the whole
// module: which package may import which, and that every package says what it
// is for.
package vpconnect_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type listedPackage struct {
	ImportPath   string
	Name         string
	Doc          string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// listPackages asks the go command for every package of the module with its
// direct imports, test imports included.
func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages; the layout of the module is not there", len(pkgs))
	}
	return pkgs
}

const module = "vpconnect"

func within(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// layerRule forbids packages under From to import anything matching one of
// Forbidden, unless the importer is Except.
type layerRule struct {
	from      string // package prefix the rule applies to ("" = every package)
	except    []string
	forbidden []string // import path prefixes
	allowed   []string // imports the forbidden prefixes would catch but may stay
	why       string
}

var layerRules = []layerRule{
	{from: module + "/tray", forbidden: []string{module + "/syncer", module + "/auth"},
		why: "the tray is a view of the agent and a caller of its actions"},
	{from: module + "/syncer", forbidden: []string{module + "/agent", module + "/tray", module + "/auth"},
		why: "the engine knows no agent, tray or sign-in"},
	{from: module + "/agent/sysmon", forbidden: []string{module + "/"}, allowed: []string{module + "/internal/dbustest", module + "/internal/sessionbus"},
		why: "sysmon reports what the operating system says; it knows nothing of the agent, the engine or the services"},
	{from: module + "/syncer/store", forbidden: []string{module + "/syncer/graph", module + "/syncer/vantagepoint"},
		why: "the state store knows neither service"},
	{from: "", except: []string{module + "/auth"}, forbidden: []string{"github.com/zalando/go-keyring"},
		why: "only auth touches the keychain"},
	{from: "", except: []string{module + "/syncer/graph"},
		forbidden: []string{"github.com/microsoftgraph/", "github.com/microsoft/kiota"},
		why:       "only syncer/graph may import the Graph SDK: it costs minutes to compile"},
}

func TestLayerRules(t *testing.T) {
	for _, p := range listPackages(t) {
		imports := append(append(append([]string{}, p.Imports...), p.TestImports...), p.XTestImports...)
		for _, r := range layerRules {
			if r.from != "" && !within(p.ImportPath, r.from) {
				continue
			}
			exempt := false
			for _, e := range r.except {
				exempt = exempt || p.ImportPath == e
			}
			if exempt {
				continue
			}
			for _, imp := range imports {
				allowed := false
				for _, a := range r.allowed {
					allowed = allowed || within(imp, a)
				}
				for _, f := range r.forbidden {
					if !allowed && (within(imp, strings.TrimSuffix(f, "/")) || strings.HasPrefix(imp, f)) {
						t.Errorf("%s imports %s: %s", p.ImportPath, imp, r.why)
					}
				}
			}
		}
	}
}

// Test support (a D-Bus of the test's own) never reaches a product binary.
func TestTestSupportStaysInTests(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, imp := range p.Imports {
			if within(imp, module+"/internal/dbustest") {
				t.Errorf("%s imports %s outside its tests: it is test support", p.ImportPath, imp)
			}
		}
	}
}

// The engine package proper must not see either service's wire types.
func TestEngineSpeaksThroughInterfaces(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"/syncer" {
			continue
		}
		for _, imp := range append(append([]string{}, p.Imports...), p.TestImports...) {
			if within(imp, module+"/syncer/graph") || within(imp, module+"/syncer/vantagepoint") {
				t.Errorf("syncer imports %s: the engine speaks to the services through Mailbox and Vantagepoint only", imp)
			}
		}
	}
}

func TestEveryPackageIsDocumented(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath == module {
			continue // this test-only package
		}
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no doc comment", p.ImportPath)
		}
	}
}
