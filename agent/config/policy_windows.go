//go:build windows

package config

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// LoadPolicy reads HKLM\SOFTWARE\Policies\vpconnect (set by GPO through the
// ADMX template, or by the MSI's properties) and, with lower precedence, the
// same key under HKCU (user-scoped GPO). Value names are the dotted keys:
// sync.enabled as REG_DWORD 0/1, strings as REG_SZ, lists as REG_MULTI_SZ.
func LoadPolicy() (Policy, []error) {
	var errs []error
	read := func(root registry.Key, name string) Policy {
		source := name + `\` + WindowsPolicyKey
		values, err := readRegistry(root)
		if err != nil {
			errs = append(errs, policyErr(fmt.Errorf("%s: %w", source, err)))
			return Policy{}
		}
		p, e := PolicyFromValues(values, source)
		errs = append(errs, e...)
		return p
	}
	machine := read(registry.LOCAL_MACHINE, "HKLM")
	user := read(registry.CURRENT_USER, "HKCU")
	return machine.Over(user), errs
}

// unsupportedValue stands for a registry value of a type policy does not use
// (REG_BINARY, say); its text is what the error message shows.
type unsupportedValue string

func readRegistry(root registry.Key) (map[string]any, error) {
	k, err := registry.OpenKey(root, WindowsPolicyKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer k.Close()
	names, err := k.ReadValueNames(0)
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	for _, name := range names {
		_, typ, err := k.GetValue(name, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		switch typ {
		case registry.DWORD, registry.QWORD:
			v, _, err := k.GetIntegerValue(name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			values[name] = v
		case registry.SZ, registry.EXPAND_SZ:
			v, _, err := k.GetStringValue(name)
			if err == nil && typ == registry.EXPAND_SZ {
				v, err = registry.ExpandString(v)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			values[name] = v
		case registry.MULTI_SZ:
			v, _, err := k.GetStringsValue(name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			values[name] = v
		default:
			// A distinct type, so PolicyFromValues reports it as a
			// wrong type instead of taking it for a REG_SZ.
			values[name] = unsupportedValue(fmt.Sprintf("a registry value of type %d", typ))
		}
	}
	return values, nil
}
