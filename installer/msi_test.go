package installer

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"vpconnect/agent/config"
)

// requireTool finds a command-line tool. In CI (VPCONNECT_TEST_SECRET_SERVICE
// set, as `make test` does) a missing tool fails the test; elsewhere the test
// is skipped.
func requireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("VPCONNECT_TEST_SECRET_SERVICE") != "" {
			t.Fatalf("%s is missing (Debian package %s): the installer cannot be tested", name, debianPackage)
		}
		t.Skipf("%s is not installed (Debian package %s); set VPCONNECT_TEST_SECRET_SERVICE=1 to make this a failure", name, debianPackage)
	}
	return path
}

// upgradeCode is the MSI's fixed UpgradeCode: changing it would make the next
// version install beside the installed one instead of replacing it.
const upgradeCode = "{3B0E5A4C-7D2F-4C61-9A8E-5F1D2C3B4A59}"

// policyProperties maps each MSI property of docs/behaviour.md §9 to the policy value it
// writes.
var policyProperties = map[string]string{
	"VP_API_URL":       "vantagepoint.apiUrl",
	"VP_DATABASE":      "vantagepoint.database",
	"VP_CLIENT_ID":     "vantagepoint.clientId",
	"VP_CLIENT_SECRET": "vantagepoint.clientSecret",
	"MS_CLIENT_ID":     "microsoft.clientId",
	"MS_TENANT":        "microsoft.tenant",
	"ADDIN_ORIGINS":    "localApi.allowedOrigins",
	"VP_MAX_REQUESTS":  "vantagepoint.maxRequestsPerSecond",
	"VP_FLEET_SIZE":    "vantagepoint.fleetSize",
	"SYNC_ENABLED":     "sync.enabled",
}

// crossBuildExe builds the real vpconnect.exe (the build cache makes it a few
// seconds).
func crossBuildExe(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "vpconnect.exe")
	cmd := exec.Command("go", "build", "-o", exe, "vpconnect/cmd/vpconnect")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cross-build vpconnect.exe: %v\n%s", err, out)
	}
	return exe
}

// buildMSI runs installer/windows/build-msi.sh as `make msi` does.
func buildMSI(t *testing.T, exe, version string, env ...string) (string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "vpconnect.msi")
	cmd := exec.Command("bash", "windows/build-msi.sh", exe, version, out)
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build-msi.sh: %v\n%s", err, b)
	}
	return out, string(b)
}

// msiTable exports one table with msiinfo: a row is column name → value.
func msiTable(t *testing.T, msi, table string) []map[string]string {
	t.Helper()
	out, err := exec.Command("msiinfo", "export", msi, table).Output()
	if err != nil {
		t.Fatalf("msiinfo export %s: %v", table, err)
	}
	// An .idt file: column names, column types, table name and keys, rows.
	var rows []map[string]string
	var cols []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for i := 0; sc.Scan(); i++ {
		fields := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		switch {
		case i == 0:
			cols = fields
		case i < 3:
		default:
			row := map[string]string{}
			for j, c := range cols {
				if j < len(fields) {
					row[c] = fields[j]
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

func find(rows []map[string]string, col, val string) map[string]string {
	for _, r := range rows {
		if r[col] == val {
			return r
		}
	}
	return nil
}

func TestMSI(t *testing.T) {
	requireTool(t, "wixl", "wixl")
	requireTool(t, "msibuild", "msitools")
	requireTool(t, "msiinfo", "msitools")
	exe := crossBuildExe(t)
	msi, _ := buildMSI(t, exe, "v1.2.3-4-gabcdef")

	tables, err := exec.Command("msiinfo", "tables", msi).Output()
	if err != nil {
		t.Fatalf("msiinfo tables: %v", err)
	}
	for _, want := range []string{"File", "Component", "Registry", "Property", "Upgrade", "LaunchCondition", "AppSearch", "RegLocator", "CustomAction"} {
		if !slices.Contains(strings.Fields(string(tables)), want) {
			t.Errorf("no %s table in %s", want, tables)
		}
	}
	suminfo, _ := exec.Command("msiinfo", "suminfo", msi).Output()
	if !strings.Contains(string(suminfo), "Template: x64;1033") {
		t.Errorf("not an x64 package:\n%s", suminfo)
	}

	components := msiTable(t, msi, "Component")
	props := msiTable(t, msi, "Property")
	prop := func(name string) string {
		if r := find(props, "Property", name); r != nil {
			return r["Value"]
		}
		return ""
	}

	t.Run("File", func(t *testing.T) {
		st, err := os.Stat(exe)
		if err != nil {
			t.Fatal(err)
		}
		f := find(msiTable(t, msi, "File"), "Component_", "AgentExe")
		if f == nil || f["FileName"] != "vpconnect.exe" || f["FileSize"] != strconv.FormatInt(st.Size(), 10) {
			t.Fatalf("File row of vpconnect.exe: %v (want FileName vpconnect.exe, FileSize %d)", f, st.Size())
		}
		c := find(components, "Component", "AgentExe")
		if c == nil || c["Directory_"] != "INSTALLDIR" || c["KeyPath"] != f["File"] || c["Condition"] != "" {
			t.Errorf("component of vpconnect.exe: %v", c)
		}
		dirs := msiTable(t, msi, "Directory")
		d := find(dirs, "Directory", "INSTALLDIR")
		if d == nil || d["Directory_Parent"] != "ProgramFiles64Folder" || d["DefaultDir"] != "vpconnect" {
			t.Errorf("INSTALLDIR: %v, want ProgramFiles64Folder\\vpconnect", d)
		}
	})

	t.Run("Start menu", func(t *testing.T) {
		// An employee's way to Sync Options without a terminal.
		sc := find(msiTable(t, msi, "Shortcut"), "Shortcut", "SyncOptionsShortcut")
		if sc == nil || sc["Directory_"] != "ProgramMenuFolder" || sc["Name"] != "vpconnect Sync Options" ||
			sc["Target"] != "[INSTALLDIR]vpconnect.exe" || sc["Arguments"] != "options" {
			t.Errorf("Start-menu shortcut: %v", sc)
		}
	})

	registry := msiTable(t, msi, "Registry")
	componentOf := func(r map[string]string) map[string]string { return find(components, "Component", r["Component_"]) }
	is64 := func(c map[string]string) bool {
		a, _ := strconv.Atoi(c["Attributes"])
		return a&256 != 0
	}

	t.Run("RunValue", func(t *testing.T) {
		var run map[string]string
		for _, r := range registry {
			if r["Key"] == `Software\Microsoft\Windows\CurrentVersion\Run` {
				if run != nil {
					t.Errorf("two Run values: %v, %v", run, r)
				}
				run = r
			}
		}
		if run == nil || run["Root"] != "2" || run["Name"] != "vpconnect" || run["Value"] != `"[INSTALLDIR]vpconnect.exe" run` {
			t.Fatalf(`Run value: %v, want HKLM (2) ...\Run\vpconnect = "[INSTALLDIR]vpconnect.exe" run`, run)
		}
		if c := componentOf(run); c == nil || c["Condition"] != "" || !is64(c) {
			t.Errorf("Run value's component %v: want unconditional and 64-bit (the 64-bit registry view)", c)
		}
	})

	t.Run("PolicyValues", func(t *testing.T) {
		known := config.Keys()
		seen := map[string]int{}
		for _, r := range registry {
			if r["Key"] != config.WindowsPolicyKey {
				continue
			}
			c := componentOf(r)
			if r["Root"] != "2" || c == nil || !is64(c) {
				t.Errorf("policy value %s: Root %s, component %v; want HKLM (2) in the 64-bit view", r["Name"], r["Root"], c)
				continue
			}
			if !slices.Contains(known, r["Name"]) {
				t.Errorf("policy value %q is no key agent/config knows", r["Name"])
			}
			seen[r["Name"]]++
			cond := c["Condition"]
			if r["Name"] == "sync.enabled" {
				// Two components, each writing a REG_DWORD, each only for its value.
				switch r["Value"] {
				case "#1":
					if cond != `SYNC_ENABLED="1" OR SYNC_ENABLED~="true"` {
						t.Errorf("sync.enabled=1 condition %q", cond)
					}
				case "#0":
					if cond != `SYNC_ENABLED="0" OR SYNC_ENABLED~="false"` {
						t.Errorf("sync.enabled=0 condition %q", cond)
					}
				default:
					t.Errorf("sync.enabled value %q, want #0 or #1 (REG_DWORD)", r["Value"])
				}
				continue
			}
			var property string
			for p, k := range policyProperties {
				if k == r["Name"] {
					property = p
				}
			}
			if property == "" || r["Value"] != "["+property+"]" || cond != property {
				t.Errorf("policy value %s = %q under condition %q; want [%s] written only when %s is set", r["Name"], r["Value"], cond, property, property)
			}
		}
		for p, k := range policyProperties {
			want := 1
			if k == "sync.enabled" {
				want = 2
			}
			if seen[k] != want {
				t.Errorf("property %s: %d registry rows for %s, want %d", p, seen[k], k, want)
			}
		}
	})

	t.Run("ValuesReadByTheAgent", func(t *testing.T) {
		// What the MSI writes, as LoadPolicy (policy_windows.go) hands it to
		// PolicyFromValues: REG_SZ as string, REG_DWORD as uint64.
		values := map[string]any{
			"vantagepoint.apiUrl":       "https://vp.example.com/vantagepoint/api",
			"vantagepoint.database":     "C0001_PROD",
			"vantagepoint.clientId":     "vpconnect",
			"vantagepoint.clientSecret": "s3cret",
			"microsoft.clientId":        "11111111-2222-3333-4444-555555555555",
			"microsoft.tenant":          "example.com",
			"localApi.allowedOrigins":   "https://addin.example.com;https://addin2.example.com",
			"sync.enabled":              uint64(0),
			// The pacing's numbers, written as REG_SZ.
			"vantagepoint.maxRequestsPerSecond": "40",
			"vantagepoint.fleetSize":            "5000",
		}
		p, errs := config.PolicyFromValues(values, `HKLM\`+config.WindowsPolicyKey)
		if len(errs) != 0 {
			t.Fatalf("policy errors: %v", errs)
		}
		c, errs := config.Default().Effective(p)
		if len(errs) != 0 {
			t.Fatalf("effective config errors: %v", errs)
		}
		if c.Vantagepoint.APIURL != "https://vp.example.com/vantagepoint/api" || c.SyncEnabled() ||
			!slices.Equal(c.LocalAPI.AllowedOrigins, []string{"https://addin.example.com", "https://addin2.example.com"}) ||
			c.Vantagepoint.MaxRequestsPerSecond != 40 || c.Vantagepoint.FleetSize != 5000 {
			t.Errorf("effective config: %+v", c)
		}
	})

	t.Run("Upgrade", func(t *testing.T) {
		if prop("UpgradeCode") != upgradeCode || prop("ProductVersion") != "1.2.3" || prop("ALLUSERS") != "1" {
			t.Errorf("UpgradeCode %q, ProductVersion %q, ALLUSERS %q", prop("UpgradeCode"), prop("ProductVersion"), prop("ALLUSERS"))
		}
		up := msiTable(t, msi, "Upgrade")
		older := find(up, "ActionProperty", "WIX_UPGRADE_DETECTED")
		newer := find(up, "ActionProperty", "WIX_DOWNGRADE_DETECTED")
		if older == nil || older["UpgradeCode"] != upgradeCode || older["VersionMax"] != "1.2.3" || older["VersionMin"] != "" {
			t.Errorf("upgrade row: %v", older)
		}
		if newer == nil || newer["VersionMin"] != "1.2.3" || newer["Attributes"] != "2" { // 2: detect only
			t.Errorf("downgrade row: %v", newer)
		}
		seq := msiTable(t, msi, "InstallExecuteSequence")
		at := func(action string) int {
			r := find(seq, "Action", action)
			if r == nil {
				t.Errorf("%s not in InstallExecuteSequence", action)
				return -1
			}
			n, _ := strconv.Atoi(r["Sequence"])
			return n
		}
		if rep, iv := at("RemoveExistingProducts"), at("InstallValidate"); rep <= iv || rep >= at("InstallInitialize") {
			t.Errorf("RemoveExistingProducts at %d: want between InstallValidate (%d) and InstallInitialize", rep, iv)
		}
		if stop := at("StopAgents"); stop >= at("InstallValidate") || stop <= at("SetTaskkillPath") {
			t.Errorf("StopAgents at %d: want after SetTaskkillPath and before InstallValidate (files in use)", stop)
		}
		lc := msiTable(t, msi, "LaunchCondition")
		if find(lc, "Condition", "NOT WIX_DOWNGRADE_DETECTED") == nil {
			t.Errorf("no downgrade launch condition: %v", lc)
		}

		// The next build replaces this one: same UpgradeCode, new ProductCode.
		next, _ := buildMSI(t, exe, "1.2.4")
		nextProps := msiTable(t, next, "Property")
		if find(nextProps, "Property", "UpgradeCode")["Value"] != upgradeCode ||
			find(nextProps, "Property", "ProductVersion")["Value"] != "1.2.4" ||
			find(nextProps, "Property", "ProductCode")["Value"] == prop("ProductCode") {
			t.Errorf("next version: %v", nextProps)
		}
	})

	t.Run("PropertiesKeptOnUpgrade", func(t *testing.T) {
		// Each policy property is read back from the registry (AppSearch)
		// and restored when not given again, before the components are chosen.
		locators := msiTable(t, msi, "RegLocator")
		search := msiTable(t, msi, "AppSearch")
		seq := msiTable(t, msi, "InstallExecuteSequence")
		appSearch, _ := strconv.Atoi(find(seq, "Action", "AppSearch")["Sequence"])
		launch, _ := strconv.Atoi(find(seq, "Action", "LaunchConditions")["Sequence"])
		for p, k := range policyProperties {
			s := find(search, "Property", "SAVED_"+p)
			if s == nil {
				t.Errorf("%s: no AppSearch", p)
				continue
			}
			l := find(locators, "Signature_", s["Signature_"])
			if l == nil || l["Root"] != "2" || l["Key"] != config.WindowsPolicyKey || l["Name"] != k || l["Type"] != "18" { // raw, 64-bit
				t.Errorf("%s: locator %v", p, l)
			}
			restored := false
			for _, r := range seq {
				if strings.HasPrefix(r["Condition"], "NOT "+p+" AND SAVED_"+p) {
					n, _ := strconv.Atoi(r["Sequence"])
					restored = n > appSearch && n < launch
				}
			}
			if !restored {
				t.Errorf("%s is not restored between AppSearch and LaunchConditions", p)
			}
		}
		secure := strings.Split(prop("SecureCustomProperties"), ";")
		for p := range policyProperties {
			if !slices.Contains(secure, p) {
				t.Errorf("%s not in SecureCustomProperties %v", p, secure)
			}
		}
		if !slices.Contains(strings.Split(prop("MsiHiddenProperties"), ";"), "VP_CLIENT_SECRET") {
			t.Errorf("the client secret may be logged: MsiHiddenProperties %q", prop("MsiHiddenProperties"))
		}
	})
}

// TestMSISigned signs with a throw-away certificate, as a release build does
// with the real one, and verifies both signatures.
func TestMSISigned(t *testing.T) {
	requireTool(t, "wixl", "wixl")
	requireTool(t, "msibuild", "msitools")
	requireTool(t, "msiextract", "msitools")
	requireTool(t, "osslsigncode", "osslsigncode")
	openssl := requireTool(t, "openssl", "openssl")
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if out, err := exec.Command(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
		"-days", "1", "-subj", "/CN=vpconnect test").CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	exe := crossBuildExe(t) // osslsigncode signs a real PE only
	msi, log := buildMSI(t, exe, "1.0.0", "SIGN_CERT="+cert, "SIGN_KEY="+key)
	if !strings.Contains(log, "signed ") {
		t.Errorf("build log does not say it signed:\n%s", log)
	}
	verify := func(file string) {
		out, err := exec.Command("osslsigncode", "verify", "-CAfile", cert, "-in", file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Succeeded") {
			t.Errorf("osslsigncode verify %s: %v\n%s", filepath.Base(file), err, out)
		}
	}
	verify(msi)
	ext := filepath.Join(dir, "extracted")
	if out, err := exec.Command("msiextract", "-C", ext, msi).CombinedOutput(); err != nil {
		t.Fatalf("msiextract: %v\n%s", err, out)
	}
	var inside string
	filepath.Walk(ext, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Name() == "vpconnect.exe" {
			inside = p
		}
		return nil
	})
	if inside == "" {
		t.Fatal("no vpconnect.exe in the MSI")
	}
	verify(inside)

	_, unsigned := buildMSI(t, exe, "1.0.0")
	if !strings.Contains(unsigned, "not signing") {
		t.Errorf("an unsigned build does not say so:\n%s", unsigned)
	}
}
