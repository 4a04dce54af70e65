package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"

	"golang.org/x/sys/windows/registry"

	"vpconnect/agent/config"
)

// On Windows the policy is in the registry (docs/behaviour.md §5.4). The
// tests write it under HKCU\SOFTWARE\Policies\vpconnect, which a user-scoped
// GPO sets and the user can write (HKLM needs an administrator); a machine
// with a vpconnect policy of its own is left alone and the test skipped.
func isolatePolicy(t *testing.T) {
	t.Helper()
	for _, root := range []struct {
		key  registry.Key
		name string
	}{{registry.LOCAL_MACHINE, "HKLM"}, {registry.CURRENT_USER, "HKCU"}} {
		k, err := registry.OpenKey(root.key, config.WindowsPolicyKey, registry.QUERY_VALUE)
		if err == nil {
			k.Close()
			t.Skipf(`this machine has a vpconnect policy of its own (%s\%s)`, root.name, config.WindowsPolicyKey)
		}
		if !errors.Is(err, registry.ErrNotExist) {
			t.Fatalf(`read %s\%s: %v`, root.name, config.WindowsPolicyKey, err)
		}
	}
	t.Cleanup(func() { removePolicy(t) })
}

// writePolicy replaces the policy with doc, written as a GPO writes it: one
// value a dotted key, REG_DWORD for booleans and numbers, REG_SZ for
// strings (durations too), REG_MULTI_SZ for lists.
func writePolicy(t *testing.T, doc string) {
	t.Helper()
	var tree map[string]any
	if err := json.Unmarshal([]byte(doc), &tree); err != nil {
		t.Fatalf("policy for the test: %v", err)
	}
	values := map[string]any{}
	var flatten func(prefix string, m map[string]any)
	flatten = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				flatten(prefix+k+".", sub)
				continue
			}
			values[prefix+k] = v
		}
	}
	flatten("", tree)
	removePolicy(t)
	k, _, err := registry.CreateKey(registry.CURRENT_USER, config.WindowsPolicyKey, registry.SET_VALUE)
	if err != nil {
		t.Fatalf("create the user's policy key: %v", err)
	}
	defer k.Close()
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := setPolicyValue(k, name, values[name]); err != nil {
			t.Fatalf("policy value %s: %v", name, err)
		}
	}
}

func setPolicyValue(k registry.Key, name string, v any) error {
	switch v := v.(type) {
	case bool:
		d := uint32(0)
		if v {
			d = 1
		}
		return k.SetDWordValue(name, d)
	case float64:
		return k.SetDWordValue(name, uint32(v))
	case string:
		return k.SetStringValue(name, v)
	case []any:
		list := make([]string, len(v))
		for i, s := range v {
			str, ok := s.(string)
			if !ok {
				return fmt.Errorf("a list of %T", s)
			}
			list[i] = str
		}
		return k.SetStringsValue(name, list)
	}
	return fmt.Errorf("no registry type for %T", v)
}

// removePolicy removes the policy the test wrote, as IT lifting it does.
func removePolicy(t *testing.T) {
	t.Helper()
	if err := registry.DeleteKey(registry.CURRENT_USER, config.WindowsPolicyKey); err != nil && !errors.Is(err, registry.ErrNotExist) {
		t.Fatalf("remove the user's policy key: %v", err)
	}
}
