// Package vpconnect_test holds the tests that guard the shape of the whole
// module: which package may import which, and that every package says what it
// is for.
package vpconnect_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
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

// goosList are the operating systems the module is built for; each has
// files of its own (registry, Credential Manager, D-Bus, launchd), so each
// is checked.
var goosList = []string{"linux", "windows", "darwin"}

// listPackages asks the go command for every package of the module with its
// direct imports, test imports included, as built for the machine.
func listPackages(t *testing.T) []listedPackage {
	return listPackagesFor(t, "")
}

// listPackagesFor is listPackages as built for goos ("" for the machine's).
// cgo is on, as on a Mac building the tray.
func listPackagesFor(t *testing.T, goos string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	if goos != "" {
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=1")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list (GOOS=%s): %v", goos, err)
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
	{from: module + "/agent/alerts", forbidden: []string{module + "/"}, allowed: []string{module + "/agent", module + "/internal/dbustest", module + "/internal/sessionbus", module + "/internal/winwindow"},
		why: "alerts read the agent's status and tell it; they know nothing of the engine, the sign-ins or the other parts of the agent"},
	{from: module + "/syncer/store", forbidden: []string{module + "/syncer/graph", module + "/syncer/vantagepoint"},
		why: "the state store knows neither service"},
	{from: "", except: []string{module + "/auth"}, forbidden: []string{"github.com/zalando/go-keyring"},
		why: "only auth touches the keychain"},
	{from: "", except: []string{module + "/syncer/graph"},
		forbidden: []string{"github.com/microsoftgraph/", "github.com/microsoft/kiota"},
		why:       "only syncer/graph may import the Graph SDK: it costs minutes to compile"},
}

func TestLayerRules(t *testing.T) {
	for _, goos := range goosList {
		checkLayerRules(t, goos, listPackagesFor(t, goos))
	}
	// The allow-list itself must not grant what a rule forbids.
	var fromList []listedPackage
	for pkg, imps := range allowedImports {
		p := listedPackage{ImportPath: qualify(pkg)}
		for _, i := range imps {
			p.Imports = append(p.Imports, qualify(strings.TrimSuffix(i, "/...")))
		}
		fromList = append(fromList, p)
	}
	checkLayerRules(t, "the allow-list", fromList)
}

func checkLayerRules(t *testing.T, where string, pkgs []listedPackage) {
	t.Helper()
	for _, p := range pkgs {
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
						t.Errorf("%s: %s imports %s: %s", where, p.ImportPath, imp, r.why)
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

// allowedImports is, for every package of the module (its path without
// "vpconnect/"; "." is this package), everything it may import beyond the
// standard library, its tests' imports included, on any of goosList. A
// path ending in "/..." allows the packages under it. A new import is a
// decision reviewed like code: it is added here in the same change. The
// layer rules above are checked against this list too.
var allowedImports = map[string][]string{
	".":                         {},
	"addin":                     {"syncer"},
	"addin/e2e":                 {"addin", "agent", "agent/config", "agent/localapi", "agent/system", "golang.org/x/oauth2", "internal/chromiumtest", "syncer", "syncer/graph", "syncer/graph/graphsim", "syncer/store", "syncer/vantagepoint", "syncer/vantagepoint/vpsim"},
	"agent":                     {"agent/config", "agent/clock", "agent/agenttest", "auth", "internal/fault", "syncer", "syncer/store", "syncer/vantagepoint" /* the fleet simulation, in tests */},
	"agent/agenttest":           {"agent/clock"},
	"agent/alerts":              {"agent", "github.com/godbus/dbus/v5", "golang.org/x/sys/windows", "internal/dbustest", "internal/sessionbus", "internal/winwindow"},
	"agent/clock":               {},
	"agent/admin":               {"agent", "auth", "golang.org/x/oauth2", "internal/chromiumtest", "syncer", "syncer/graph/graphsim", "syncer/vantagepoint", "syncer/vantagepoint/vpsim"},
	"agent/agentbench":          {"agent", "agent/config", "agent/localapi", "agent/system", "auth", "syncer/graph/graphsim", "syncer/vantagepoint/vpsim"},
	"agent/config":              {"golang.org/x/sys/windows/registry"},
	"agent/demo":                {"agent", "agent/config", "agent/localapi", "agent/system", "auth", "syncer", "syncer/graph/graphsim", "syncer/store", "syncer/vantagepoint", "syncer/vantagepoint/vpsim"},
	"agent/localapi":            {"agent", "agent/config", "golang.org/x/sys/windows", "internal/chromiumtest", "syncer", "syncer/store"},
	"agent/sysmon":              {"github.com/godbus/dbus/v5/...", "golang.org/x/sys/windows", "internal/dbustest", "internal/sessionbus"},
	"agent/system":              {"agent", "agent/admin", "agent/agenttest", "agent/alerts", "github.com/godbus/dbus/v5", "internal/dbustest", "agent/config", "agent/localapi", "agent/sysmon", "auth", "internal/chromiumtest", "internal/fault", "syncer", "syncer/graph", "syncer/graph/graphsim", "syncer/store", "syncer/vantagepoint", "syncer/vantagepoint/vpsim"},
	"auth":                      {"github.com/zalando/go-keyring", "golang.org/x/oauth2", "golang.org/x/sys/windows", "internal/fault", "syncer/graph/graphsim", "syncer/vantagepoint", "syncer/vantagepoint/vpsim"},
	"cli":                       {"addin", "agent", "agent/agenttest", "agent/admin", "agent/agentbench", "agent/config", "agent/demo", "agent/localapi", "agent/system", "auth", "github.com/godbus/dbus/v5", "golang.org/x/sys/windows", "golang.org/x/sys/windows/registry", "golang.org/x/term", "installer/autostart", "internal/dbustest", "internal/winwindow", "syncer", "syncer/graph/graphsim", "syncer/store", "syncer/vantagepoint", "syncer/vantagepoint/vpsim", "tray"},
	"cmd/vpbench":               {"agent/agentbench", "syncer/bench"},
	"cmd/vpconnect":             {"cli", "golang.org/x/sys/windows"},
	"installer":                 {"agent/config"},
	"installer/autostart":       {"github.com/kardianos/service", "installer"},
	"internal/chromiumtest":     {},
	"internal/dbustest":         {"github.com/godbus/dbus/v5"},
	"internal/fault":            {},
	"internal/sessionbus":       {"github.com/godbus/dbus/v5"},
	"internal/winwindow":        {"golang.org/x/sys/windows"},
	"syncer":                    {"golang.org/x/net/html", "internal/fault", "syncer/store"},
	"syncer/bench":              {"golang.org/x/oauth2", "syncer", "syncer/graph", "syncer/graph/graphsim", "syncer/store", "syncer/vantagepoint", "syncer/vantagepoint/vpsim"},
	"syncer/graph":              {"github.com/microsoft/kiota-abstractions-go/...", "github.com/microsoft/kiota-http-go", "github.com/microsoft/kiota-serialization-json-go", "github.com/microsoftgraph/msgraph-sdk-go-core", "github.com/microsoftgraph/msgraph-sdk-go/...", "golang.org/x/oauth2", "internal/fault", "syncer", "syncer/graph/graphsim"},
	"syncer/graph/graphsim":     {"golang.org/x/oauth2"},
	"syncer/store":              {"modernc.org/sqlite"},
	"syncer/vantagepoint":       {"golang.org/x/oauth2", "internal/fault", "syncer", "syncer/vantagepoint/vpsim"},
	"syncer/vantagepoint/vpsim": {},
	"tray":                      {"fyne.io/systray", "github.com/godbus/dbus/v5", "internal/dbustest", "internal/sessionbus"},
}

// qualify turns an allow-list path into an import path.
func qualify(p string) string {
	switch {
	case p == ".":
		return module
	case strings.Contains(strings.SplitN(p, "/", 2)[0], "."):
		return p // a module of its own: github.com/..., golang.org/...
	}
	return module + "/" + p
}

// standard lists the standard library's packages.
func standard(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "std").Output()
	if err != nil {
		t.Fatalf("go list std: %v", err)
	}
	std := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		std[p] = true
	}
	return std
}

// Every package imports only what the allow-list grants it, on every
// operating system, and every package is in the list.
func TestImportsAreAllowed(t *testing.T) {
	std := standard(t)
	listed := map[string]bool{}
	for pkg := range allowedImports {
		listed[qualify(pkg)] = true
	}
	for _, goos := range goosList {
		for _, p := range listPackagesFor(t, goos) {
			name := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
			if name == "" {
				name = "."
			}
			allow, ok := allowedImports[name]
			if !ok {
				t.Errorf("package %s is not in allowedImports (deps_test.go): list what it may import", p.ImportPath)
				continue
			}
			for _, imp := range append(append(append([]string{}, p.Imports...), p.TestImports...), p.XTestImports...) {
				if std[imp] || imp == p.ImportPath || imp == "C" {
					continue
				}
				if !slices.ContainsFunc(allow, func(a string) bool {
					if base, ok := strings.CutSuffix(a, "/..."); ok {
						return within(imp, qualify(base))
					}
					return imp == qualify(a)
				}) {
					t.Errorf("GOOS=%s: %s imports %s, which allowedImports (deps_test.go) does not grant it", goos, p.ImportPath, imp)
				}
			}
			delete(listed, p.ImportPath)
		}
	}
	for p := range listed {
		t.Errorf("allowedImports lists %s, which is not a package of the module", p)
	}
}

var update = flag.Bool("update", false, "rewrite cmd/vpconnect/linked.txt from what the binary links")

// linkedFile lists every package outside the standard library that
// vpconnect links, per operating system: a new dependency shows up in its
// diff, to be reviewed like code. go test -run TestLinkedPackages . -update
// rewrites it.
const linkedFile = "cmd/vpconnect/linked.txt"

func TestLinkedPackages(t *testing.T) {
	var b strings.Builder
	b.WriteString("# What the vpconnect binary links beyond the standard library, per operating system.\n")
	b.WriteString("# Checked by deps_test.go; rewrite with: go test -run TestLinkedPackages . -update\n")
	for _, goos := range goosList {
		cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/vpconnect")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps (GOOS=%s): %v", goos, err)
		}
		fmt.Fprintf(&b, "\n[%s]\n", goos)
		for _, p := range strings.Fields(string(out)) {
			b.WriteString(p + "\n")
		}
	}
	if *update {
		if err := os.WriteFile(linkedFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(linkedFile)
	if err != nil {
		t.Fatalf("%v (create it with: go test -run TestLinkedPackages . -update)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("vpconnect links other packages than %s lists; review the change, then rewrite it with: go test -run TestLinkedPackages . -update\n%s",
			linkedFile, lineDiff(string(want), got))
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
