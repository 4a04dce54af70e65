package installer

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"regexp"
	"slices"
	"testing"

	"vpconnect/agent/config"
)

type admxElement struct {
	XMLName   xml.Name
	ID        string `xml:"id,attr"`
	ValueName string `xml:"valueName,attr"`
}

type admxPolicy struct {
	Name         string `xml:"name,attr"`
	Class        string `xml:"class,attr"`
	Key          string `xml:"key,attr"`
	ValueName    string `xml:"valueName,attr"`
	Presentation string `xml:"presentation,attr"`
	Category     struct {
		Ref string `xml:"ref,attr"`
	} `xml:"parentCategory"`
	Enabled *struct {
		Decimal struct {
			Value string `xml:"value,attr"`
		} `xml:"decimal"`
	} `xml:"enabledValue"`
	Disabled *struct {
		Decimal struct {
			Value string `xml:"value,attr"`
		} `xml:"decimal"`
	} `xml:"disabledValue"`
	Elements struct {
		List []admxElement `xml:",any"`
	} `xml:"elements"`
}

type admx struct {
	Categories []struct {
		Name string `xml:"name,attr"`
	} `xml:"categories>category"`
	Policies []admxPolicy `xml:"policies>policy"`
}

type adml struct {
	Strings []struct {
		ID string `xml:"id,attr"`
	} `xml:"resources>stringTable>string"`
	Presentations []struct {
		ID       string `xml:"id,attr"`
		Controls []struct {
			RefID string `xml:"refId,attr"`
		} `xml:",any"`
	} `xml:"resources>presentationTable>presentation"`
}

// keyKinds says what each configuration key holds, from the defaults' JSON
// (the policy-only keys are set first so that they appear).
func keyKinds(t *testing.T) map[string]string {
	t.Helper()
	c := config.Default()
	yes := true
	c.Sync.Enabled, c.UI.AllowPause, c.Vantagepoint.SilentRelogin = &yes, &yes, &yes
	c.LocalAPI.AutoApproveOrigins = []string{"https://addin.example.com"}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(b, &doc)
	kinds := map[string]string{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			switch v := v.(type) {
			case map[string]any:
				walk(prefix+k+".", v)
			case bool:
				kinds[prefix+k] = "bool"
			case float64:
				kinds[prefix+k] = "number"
			case []any:
				kinds[prefix+k] = "list"
			default:
				kinds[prefix+k] = "string"
			}
		}
	}
	walk("", doc)
	for _, k := range config.Keys() {
		if kinds[k] == "" {
			t.Fatalf("cannot tell the type of %s from the defaults: set it in keyKinds", k)
		}
	}
	return kinds
}

func TestADMXCoversEveryPolicyKey(t *testing.T) {
	var x admx
	var l adml
	for path, v := range map[string]any{"windows/admx/vpconnect.admx": &x, "windows/admx/en-US/vpconnect.adml": &l} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	kinds := keyKinds(t)
	known := config.Keys()
	byValue := map[string]admxPolicy{}
	for _, p := range x.Policies {
		if p.Key != config.WindowsPolicyKey {
			t.Errorf("policy %s writes under %q, want %q", p.Name, p.Key, config.WindowsPolicyKey)
		}
		if p.Class != "Both" {
			t.Errorf("policy %s: class %q, want Both (HKLM and HKCU are read)", p.Name, p.Class)
		}
		names := []string{}
		if p.ValueName != "" {
			names = append(names, p.ValueName)
		}
		for _, e := range p.Elements.List {
			names = append(names, e.ValueName)
		}
		if len(names) != 1 {
			t.Errorf("policy %s sets %d values %q, want 1", p.Name, len(names), names)
			continue
		}
		key := names[0]
		if !slices.Contains(known, key) {
			t.Errorf("policy %s sets %q, which agent/config does not accept", p.Name, key)
			continue
		}
		if _, dup := byValue[key]; dup {
			t.Errorf("two policies set %s", key)
		}
		byValue[key] = p
		// The registry type must be one LoadPolicy reads for the key's type.
		want := map[string]string{"bool": "enabledValue", "number": "decimal", "list": "multiText", "string": "text"}[kinds[key]]
		got := "enabledValue"
		if p.ValueName == "" {
			got = p.Elements.List[0].XMLName.Local
		} else if p.Enabled == nil || p.Disabled == nil || p.Enabled.Decimal.Value != "1" || p.Disabled.Decimal.Value != "0" {
			t.Errorf("policy %s: want enabledValue decimal 1, disabledValue decimal 0 (REG_DWORD)", p.Name)
		}
		if got != want && !(want == "text" && got == "enum") {
			t.Errorf("policy %s (%s, a %s): element %s, want %s", p.Name, key, kinds[key], got, want)
		}
	}
	for _, k := range known {
		if _, ok := byValue[k]; !ok {
			t.Errorf("no ADMX policy for %s", k)
		}
	}

	// Every string and presentation the ADMX names is in the ADML, and each
	// presentation's controls name the policy's elements.
	data, _ := os.ReadFile("windows/admx/vpconnect.admx")
	strs := map[string]bool{}
	for _, s := range l.Strings {
		if strs[s.ID] {
			t.Errorf("ADML string %s defined twice", s.ID)
		}
		strs[s.ID] = true
	}
	for _, m := range regexp.MustCompile(`\$\(string\.([^)]+)\)`).FindAllStringSubmatch(string(data), -1) {
		if !strs[m[1]] {
			t.Errorf("ADMX names string %s, missing from the ADML", m[1])
		}
	}
	pres := map[string][]string{}
	for _, p := range l.Presentations {
		for _, c := range p.Controls {
			pres[p.ID] = append(pres[p.ID], c.RefID)
		}
	}
	cats := map[string]bool{}
	for _, c := range x.Categories {
		cats[c.Name] = true
	}
	for _, p := range x.Policies {
		if !cats[p.Category.Ref] {
			t.Errorf("policy %s: unknown category %q", p.Name, p.Category.Ref)
		}
		if p.ValueName != "" {
			continue
		}
		id := regexp.MustCompile(`^\$\(presentation\.([^)]+)\)$`).FindStringSubmatch(p.Presentation)
		if id == nil {
			t.Errorf("policy %s has elements but no presentation", p.Name)
			continue
		}
		refs, ok := pres[id[1]]
		if !ok {
			t.Errorf("policy %s: presentation %s missing from the ADML", p.Name, id[1])
			continue
		}
		for _, e := range p.Elements.List {
			if !slices.Contains(refs, e.ID) {
				t.Errorf("policy %s: element %s has no control in presentation %s", p.Name, e.ID, id[1])
			}
		}
	}
}
