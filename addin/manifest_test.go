package addin

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"vpconnect/syncer"
)

var testOpts = Options{BaseURL: "https://addins.example.com/vpconnect/", Version: "1.2.0.0"}

// schemaDir copies Microsoft's published schemas (testdata/schemas, kept
// byte for byte; SOURCE.md says from where) and mends the one construct
// libxml2 refuses: the Version pattern "(\.[0-9]{1,5}){0,3}?" ends in a lazy
// quantifier, which .NET's schema engine takes and XML Schema's regular
// expressions do not have. A pattern matches the whole value, so dropping the
// "?" changes nothing of what it accepts.
func schemaDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob("testdata/schemas/*.xsd")
	if err != nil || len(files) < 6 {
		t.Fatalf("schemas: %v, %d files", err, len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("{0,3}?"), []byte("{0,3}"))
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func xmllint(t *testing.T, schemas string, doc []byte) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint is needed to validate the manifest (Debian package libxml2-utils, listed in .ci/packages.txt)")
	}
	f := filepath.Join(t.TempDir(), "manifest.xml")
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--nonet", "--schema", filepath.Join(schemas, "OfficeAppManifestV1_1.xsd"), f).CombinedOutput()
	return string(out), err
}

func TestManifestValidatesAgainstMicrosoftsSchema(t *testing.T) {
	m, err := Manifest(testOpts)
	if err != nil {
		t.Fatal(err)
	}
	schemas := schemaDir(t)
	if out, err := xmllint(t, schemas, m); err != nil {
		t.Fatalf("the manifest does not validate: %v\n%s", err, out)
	}

	// The validation can fail: elements out of the schema's order, and a
	// permission the schema does not know, are refused.
	swapped := bytes.Replace(m, []byte("<Permissions>ReadWriteItem</Permissions>"), nil, 1)
	swapped = bytes.Replace(swapped, []byte("<FormSettings>"), []byte("<Permissions>ReadWriteItem</Permissions>\n  <FormSettings>"), 1)
	if out, err := xmllint(t, schemas, swapped); err == nil {
		t.Errorf("a manifest with Permissions before FormSettings validated:\n%s", out)
	}
	bad := bytes.Replace(m, []byte("<Permissions>ReadWriteItem<"), []byte("<Permissions>ReadWriteEverything<"), 1)
	if out, err := xmllint(t, schemas, bad); err == nil {
		t.Errorf("a manifest with an unknown permission validated:\n%s", out)
	}
}

func TestManifestContents(t *testing.T) {
	m, err := Manifest(testOpts)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ID          string   `xml:"Id"`
		Version     string   `xml:"Version"`
		AppDomains  []string `xml:"AppDomains>AppDomain"`
		Permissions string   `xml:"Permissions"`
		Sets        []struct {
			Name       string `xml:"Name,attr"`
			MinVersion string `xml:"MinVersion,attr"`
		} `xml:"Requirements>Sets>Set"`
	}
	if err := xml.Unmarshal(m, &doc); err != nil {
		t.Fatal(err)
	}
	// The agent reads the custom properties named after this Id.
	if doc.ID != syncer.AddinManifestID || doc.Version != "1.2.0.0" || doc.Permissions != "ReadWriteItem" {
		t.Errorf("manifest = %+v", doc)
	}
	if len(doc.AppDomains) != 1 || doc.AppDomains[0] != "https://addins.example.com" {
		t.Errorf("AppDomains = %v", doc.AppDomains)
	}
	if len(doc.Sets) != 1 || doc.Sets[0].Name != "Mailbox" || doc.Sets[0].MinVersion != "1.8" {
		t.Errorf("requirement sets = %+v", doc.Sets)
	}
	for _, want := range []string{
		`DefaultValue="Track in Vantagepoint"`,
		`xsi:type="MessageReadCommandSurface"`,
		`xsi:type="ShowTaskpane"`,
		`<bt:Url id="paneUrl" DefaultValue="https://addins.example.com/vpconnect/taskpane.html"/>`,
		`ItemType="Message" FormType="Read"`,
	} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("the manifest lacks %s", want)
		}
	}
}

func TestManifestRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{
		{BaseURL: "http://addins.example.com"},
		{BaseURL: "addins.example.com"},
		{BaseURL: "https://addins.example.com/?x=1"},
		{BaseURL: "https://addins.example.com", Version: "1.2.3.4.5"},
		{BaseURL: "https://addins.example.com", Version: "v1"},
		{BaseURL: "https://addins.example.com", Port: 70000},
	} {
		if _, err := Manifest(o); err == nil {
			t.Errorf("Manifest(%+v) took it", o)
		}
	}
	m, err := Manifest(Options{BaseURL: "https://addins.example.com/a&b"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(m, []byte("/a&b/")) || !bytes.Contains(m, []byte("/a&amp;b/")) {
		t.Error("the base URL was not escaped for XML")
	}
}

func TestPackageWritesEverythingTheManifestNames(t *testing.T) {
	dir := t.TempDir()
	o := testOpts
	o.Category = "VP"
	written, err := Package(o, dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(filepath.Join(dir, "manifest.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// Every URL of the manifest under the base is a file of the package.
	base := "https://addins.example.com/vpconnect/"
	for _, part := range strings.Split(string(m), base)[1:] {
		name := part[:strings.IndexByte(part, '"')]
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("the manifest names %s, which the package lacks", name)
		}
	}
	for _, want := range []string{"manifest.xml", "taskpane.html", "pane.js", "taskpane.js", "taskpane.css", "config.js", "help.html", "assets/icon-80.png"} {
		found := false
		for _, w := range written {
			found = found || w == want
		}
		if !found {
			t.Errorf("%s not written (wrote %v)", want, written)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.js"))
	if !strings.Contains(string(cfg), `"category":"VP"`) || !strings.Contains(string(cfg), `"syncedCategory":"VP: Synced"`) || !strings.Contains(string(cfg), `"port":48613`) {
		t.Errorf("config.js = %s", cfg)
	}
	page, _ := os.ReadFile(filepath.Join(dir, "taskpane.html"))
	if !strings.Contains(string(page), `<script src="`+OfficeJS+`"></script>`) {
		t.Error("taskpane.html does not load Office.js from Microsoft")
	}
	f, err := os.Open(filepath.Join(dir, "assets", "icon-32.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 32 || img.Bounds().Dy() != 32 {
		t.Errorf("icon-32.png: %v, %v", err, img)
	}
}
