package installer

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"vpconnect/agent/config"
)

// parsePlist reads an XML property list into Go values: map[string]any,
// []any, string, int64, bool.
func parsePlist(t *testing.T, path string) map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	var value func(start xml.StartElement) (any, error)
	value = func(start xml.StartElement) (any, error) {
		switch start.Name.Local {
		case "dict":
			m := map[string]any{}
			var key string
			for {
				tok, err := d.Token()
				if err != nil {
					return nil, err
				}
				switch tok := tok.(type) {
				case xml.StartElement:
					if tok.Name.Local == "key" {
						if err := d.DecodeElement(&key, &tok); err != nil {
							return nil, err
						}
						continue
					}
					v, err := value(tok)
					if err != nil {
						return nil, err
					}
					if _, dup := m[key]; dup {
						return nil, fmt.Errorf("key %q twice", key)
					}
					m[key] = v
				case xml.EndElement:
					return m, nil
				}
			}
		case "array":
			var a []any
			for {
				tok, err := d.Token()
				if err != nil {
					return nil, err
				}
				switch tok := tok.(type) {
				case xml.StartElement:
					v, err := value(tok)
					if err != nil {
						return nil, err
					}
					a = append(a, v)
				case xml.EndElement:
					return a, nil
				}
			}
		case "true", "false":
			return start.Name.Local == "true", d.Skip()
		case "integer":
			var n int64
			return n, d.DecodeElement(&n, &start)
		case "string":
			var s string
			return s, d.DecodeElement(&s, &start)
		}
		return nil, fmt.Errorf("unexpected <%s>", start.Name.Local)
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			t.Fatalf("%s: no dict", path)
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if st, ok := tok.(xml.StartElement); ok && st.Name.Local == "dict" {
			v, err := value(st)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			return v.(map[string]any)
		}
	}
}

func TestLaunchAgent(t *testing.T) {
	p := parsePlist(t, "macos/com.vpconnect.agent.plist")
	if p["Label"] != LaunchdLabel {
		t.Errorf("Label %v, want %s", p["Label"], LaunchdLabel)
	}
	if args, _ := p["ProgramArguments"].([]any); len(args) != 2 || args[0] != MacBinary || args[1] != "run" {
		t.Errorf("ProgramArguments %v, want [%s run]", p["ProgramArguments"], MacBinary)
	}
	if p["RunAtLoad"] != true {
		t.Error("RunAtLoad is not true: the agent would not start at login")
	}
	if ka, _ := p["KeepAlive"].(map[string]any); len(ka) != 1 || ka["SuccessfulExit"] != false {
		t.Errorf("KeepAlive %v, want {SuccessfulExit: false} (restart after a crash only)", p["KeepAlive"])
	}
	if p["LimitLoadToSessionType"] != "Aqua" {
		t.Errorf("LimitLoadToSessionType %v, want Aqua (GUI sessions)", p["LimitLoadToSessionType"])
	}
	post, err := os.ReadFile("macos/scripts/postinstall")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{MacSystemLaunchAgent, "label=" + LaunchdLabel, `launchctl bootstrap "gui/$uid" "$plist"`} {
		if !strings.Contains(string(post), want) {
			t.Errorf("postinstall does not contain %q", want)
		}
	}
	build, _ := os.ReadFile("macos/build.sh")
	for _, want := range []string{"pkgbuild", "productbuild", "Library/LaunchAgents", "usr/local/bin", "--scripts"} {
		if !strings.Contains(string(build), want) {
			t.Errorf("build.sh does not contain %q", want)
		}
	}
}

// policyJSON turns a plist payload into the JSON the agent gets from plutil.
func policyJSON(t *testing.T, payload map[string]any) []byte {
	t.Helper()
	m := map[string]any{}
	for k, v := range payload {
		if !strings.HasPrefix(k, "Payload") {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConfigurationProfile(t *testing.T) {
	p := parsePlist(t, "macos/com.vpconnect.agent.mobileconfig")
	if p["PayloadType"] != "Configuration" {
		t.Errorf("PayloadType %v, want Configuration", p["PayloadType"])
	}
	content, _ := p["PayloadContent"].([]any)
	var payload map[string]any
	for _, c := range content {
		if m, _ := c.(map[string]any); m["PayloadType"] == config.MacPolicyDomain {
			payload = m
		}
	}
	if payload == nil {
		t.Fatalf("no payload of type %s (the domain agent/config reads)", config.MacPolicyDomain)
	}
	for _, k := range []string{"PayloadIdentifier", "PayloadUUID", "PayloadVersion"} {
		if payload[k] == nil || p[k] == nil {
			t.Errorf("%s missing", k)
		}
	}
	// The keys are policy keys of the right types: the agent's own parser
	// takes the payload without a complaint, and the result is valid.
	pol, errs := config.ParsePolicy(policyJSON(t, payload), "mobileconfig")
	if len(errs) != 0 {
		t.Fatalf("policy errors: %v", errs)
	}
	for _, k := range []string{"sync.enabled", "vantagepoint.apiUrl", "vantagepoint.database", "vantagepoint.clientId",
		"vantagepoint.clientSecret", "microsoft.clientId", "microsoft.tenant", "localApi.allowedOrigins"} {
		if !pol.Has(k) {
			t.Errorf("the example does not set %s", k)
		}
	}
	if _, errs := config.Default().Effective(pol); len(errs) != 0 {
		t.Errorf("the example policy is not valid: %v", errs)
	}
}

func TestLinuxFiles(t *testing.T) {
	data, err := os.ReadFile("linux/policy.example.json")
	if err != nil {
		t.Fatal(err)
	}
	pol, errs := config.ParsePolicy(data, "policy.example.json")
	if len(errs) != 0 {
		t.Fatalf("policy errors: %v", errs)
	}
	if _, errs := config.Default().Effective(pol); len(errs) != 0 {
		t.Errorf("the example policy is not valid: %v", errs)
	}

	unit := SystemdUnit
	for _, line := range []string{"[Service]", "ExecStart=" + LinuxBinary + " run", "Restart=on-failure", "[Install]", "WantedBy=default.target"} {
		if !slices.Contains(strings.Split(unit, "\n"), line) {
			t.Errorf("vpconnect.service lacks the line %q", line)
		}
	}
	desktop := strings.Split(XDGAutostart, "\n")
	for _, line := range []string{"[Desktop Entry]", "Type=Application", "Exec=vpconnect run", "Name=vpconnect"} {
		if !slices.Contains(desktop, line) {
			t.Errorf("vpconnect.desktop lacks the line %q", line)
		}
	}
}
