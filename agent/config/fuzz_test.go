package config

import (
	"encoding/json"
	"reflect"
	"testing"
)

var fuzzSeeds = []string{
	`{}`,
	`{"sync": {"interval": "2m", "mailFolders": ["A"], "enabled": true}}`,
	`{"sync.enabled": false, "localApi": {"allowedOrigins": ["https://a.example.com"], "autoApproveOrigins": ["https://a.example.com"]}}`,
	`{"microsoft": {"graphUrl": "http://127.0.0.1:1/v1.0/"}, "localApi": {"port": 48613}}`,
	`{"sync": {"lookbackDays": "x"}} trailing`,
	`[1, {"a": null}]`,
	`{"ui": {"allowPause": null}, "admin": null}`,
	"\xef\xbb\xbf{\"dataDir\": \"/tmp/x\"}",
}

// FuzzParse: never a panic; either an error or a config that validates and
// survives a Save-style round trip unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.json")
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid config: %v", err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(out, "again.json")
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip differs:\n%+v\n%+v", c, back)
		}
	})
}

// FuzzParsePolicy: never a panic; whatever the policy holds, the effective
// config over a valid file config validates.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _ := ParsePolicy(data, "fuzz.json")
		eff, _ := Default().Effective(p)
		if err := eff.Validate(); err != nil {
			t.Fatalf("effective config invalid: %v", err)
		}
	})
}
