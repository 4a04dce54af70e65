package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Where administrators set policy (docs/behaviour.md §5.4). The names are part of the
// product's contract with IT (ADMX template, configuration profiles,
// provisioning scripts): never change them.
const (
	// WindowsPolicyKey is read under HKLM (and, with lower precedence, HKCU,
	// where user-scoped GPOs write). Value names are the dotted keys.
	WindowsPolicyKey = `SOFTWARE\Policies\vpconnect`
	// MacPolicyDomain is the preference domain (PayloadType of the
	// configuration profile).
	MacPolicyDomain = "com.vpconnect.agent"
	// MacPolicyPath is where macOS installs the domain's managed preferences
	// for every user; a per-user file in /Library/Managed Preferences/<user>/
	// takes precedence over it.
	MacPolicyPath = "/Library/Managed Preferences/" + MacPolicyDomain + ".plist"
	// LinuxPolicyPath is the policy file on Linux and other Unix systems.
	LinuxPolicyPath = "/etc/vpconnect/policy.json"
)

// Policy is what the administrator set: any key of the config file, plus the
// policy-only keys sync.enabled, ui.allowPause and localApi.autoApproveOrigins.
// Every key is optional; the zero Policy sets nothing. Values are already of
// the right type; their range is checked by [Config.Effective], against the
// merged result.
type Policy struct {
	values map[string]policyValue
}

type policyValue struct {
	v      any    // of the field's Go type
	source string // where it came from, for messages and the Sync Options page
}

// Keys returns the keys the policy sets, in the order of the file.
func (p Policy) Keys() []string {
	var keys []string
	for _, f := range schema {
		if _, ok := p.values[f.key]; ok {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// Has reports whether the policy sets key, so that a user interface can show
// the setting as "managed by your administrator" and not offer to change it.
func (p Policy) Has(key string) bool {
	_, ok := p.values[key]
	return ok
}

// Source names where the value of key came from ("" when not set).
func (p Policy) Source(key string) string { return p.values[key].source }

// IsZero reports whether the policy sets nothing.
func (p Policy) IsZero() bool { return len(p.values) == 0 }

// Over returns p with lower's values added where p sets none: p wins. It
// merges sources of different precedence (HKLM over HKCU, a user's managed
// preferences over the computer's).
func (p Policy) Over(lower Policy) Policy {
	out := Policy{values: map[string]policyValue{}}
	for k, v := range lower.values {
		out.values[k] = v
	}
	for k, v := range p.values {
		out.values[k] = v
	}
	return out
}

func (p *Policy) set(key string, v any, source string) {
	if p.values == nil {
		p.values = map[string]policyValue{}
	}
	p.values[key] = policyValue{v: v, source: source}
}

// ParsePolicy reads a JSON policy document: the config file's shape, in
// which dotted keys are also accepted at any level ({"sync.enabled": false}
// equals {"sync": {"enabled": false}}), because policy sources are flat. A
// key that is unknown or of the wrong type is reported and left out; the
// rest applies. A document that is not JSON at all gives an empty policy and
// one error.
func ParsePolicy(data []byte, source string) (Policy, []error) {
	var p Policy
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	root, err := parseDocument(data)
	if err != nil {
		return p, []error{policyErr(locate(source, data, err))}
	}
	if root.kind != kindObject {
		return p, []error{policyErr(locate(source, data, &posError{root.pos,
			fmt.Errorf("want a JSON object ({ ... }) at the top, got %s", root.describe())}))}
	}
	var errs []error
	walk(root, "", true, func(f *field, key string, n *node, keyPos int) {
		if f == nil {
			errs = append(errs, policyErr(locate(source, data, &posError{keyPos, unknownKey(key, true)})))
			return
		}
		val, err := convertNode(f, n)
		if err != nil {
			errs = append(errs, policyErr(locate(source, data, err)))
			return
		}
		if !val.IsValid() {
			return // null: not set
		}
		if p.Has(key) {
			errs = append(errs, policyErr(locate(source, data, &posError{keyPos,
				&FieldError{Key: key, Index: -1, Msg: "set twice; the last value applies"}})))
		}
		p.set(key, val.Interface(), source)
	}, func(err error) { errs = append(errs, policyErr(locate(source, data, err))) })
	return p, errs
}

// PolicyFromValues builds a policy from flat name → value pairs, as the
// Windows registry and other typed stores hold them: v is uint64 (REG_DWORD,
// REG_QWORD), string (REG_SZ) or []string (REG_MULTI_SZ). Names are dotted
// keys matched case-insensitively, as registry value names are. Conversions
// are lenient where an admin tool leaves no choice: a DWORD 0/1 for a
// boolean, a DWORD of seconds for a duration, a REG_SZ list separated by ';'
// or ','. Bad values are reported and left out.
func PolicyFromValues(values map[string]any, source string) (Policy, []error) {
	var p Policy
	var errs []error
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := lookupFold(name)
		if f == nil {
			errs = append(errs, policyErr(&LocatedError{Source: source, Err: unknownKey(name, true)}))
			continue
		}
		v, err := convertNative(f, values[name])
		if err != nil {
			errs = append(errs, policyErr(&LocatedError{Source: source, Err: &FieldError{Key: f.key, Index: -1, Msg: err.Error()}}))
			continue
		}
		p.set(f.key, v, source)
	}
	return p, errs
}

func lookupFold(name string) *field {
	for _, f := range schema {
		if !f.section && strings.EqualFold(f.key, name) {
			return f
		}
	}
	return nil
}

func convertNative(f *field, v any) (any, error) {
	bad := func() error {
		got := fmt.Sprintf("%v", v)
		if s, ok := v.(string); ok {
			got = strconv.Quote(s)
		}
		return fmt.Errorf("want %s, got %s", want(f.typ), shorten(got))
	}
	switch f.typ {
	case durationType:
		switch x := v.(type) {
		case string:
			return ParseDuration(x)
		case uint64:
			if x > uint64(math.MaxInt64)/1e9 {
				return nil, bad()
			}
			return Duration(x * 1e9), nil
		}
	case stringsType:
		switch x := v.(type) {
		case []string:
			return slices.Clone(x), nil
		case string:
			out := []string{}
			for _, s := range strings.FieldsFunc(x, func(r rune) bool { return r == ';' || r == ',' || r == '\n' }) {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
			return out, nil
		}
	case boolPtrType:
		b, ok := nativeBool(v)
		if !ok {
			return nil, bad()
		}
		return &b, nil
	}
	switch f.typ.Kind() {
	case reflect.String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case reflect.Bool:
		if b, ok := nativeBool(v); ok {
			return b, nil
		}
	case reflect.Int:
		switch x := v.(type) {
		case uint64:
			if x <= math.MaxInt32 {
				return int(x), nil
			}
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 32); err == nil {
				return int(n), nil
			}
		}
	}
	return nil, bad()
}

func nativeBool(v any) (bool, bool) {
	switch x := v.(type) {
	case uint64:
		switch x {
		case 0:
			return false, true
		case 1:
			return true, true
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "1":
			return true, true
		case "false", "0":
			return false, true
		}
	}
	return false, false
}

// policyErr marks a policy problem as ignored, so that the message says what
// the agent did about it.
func policyErr(err error) error { return fmt.Errorf("policy: %w (ignored)", err) }

// Apply returns c with every value p sets: policy wins over the file. It
// does not check ranges; use [Config.Effective] for a config to run on.
func (c Config) Apply(p Policy) Config {
	out := c.Clone()
	v := reflect.ValueOf(&out).Elem()
	for key, pv := range p.values {
		f := schemaByKey[key]
		if f == nil || f.section {
			continue
		}
		fv := v.FieldByIndex(f.index)
		val := reflect.ValueOf(pv.v)
		if val.IsValid() && val.Type() == f.typ {
			fv.Set(val)
		}
	}
	out.normalize()
	return out.Clone() // no slice or pointer shared with the policy
}

// Effective returns the config to run on: c with p applied, then validated.
// A policy value that makes the result invalid is dropped (a bad item of a
// list drops only that item) and reported, and the file's value applies
// instead; the agent keeps running (docs/behaviour.md §5.4). c itself should be valid
// (as [Load] guarantees); problems of c are returned too.
func (c Config) Effective(p Policy) (Config, []error) {
	work := Policy{values: map[string]policyValue{}}
	for k, v := range p.values {
		work.values[k] = v
	}
	var problems []error
	for range len(work.values) + 2 {
		eff := c.Apply(work)
		fes := eff.validate()
		drop := map[string][]int{} // key → indices (nil: whole value)
		var rest []error
		for _, fe := range fes {
			pv, ok := work.values[fe.Key]
			if !ok {
				rest = append(rest, fe)
				continue
			}
			problems = append(problems, policyErr(&LocatedError{Source: pv.source, Err: fe}))
			if _, isList := pv.v.([]string); isList && fe.Index >= 0 {
				if idx, seen := drop[fe.Key]; !seen || idx != nil {
					drop[fe.Key] = append(idx, fe.Index)
				}
			} else {
				drop[fe.Key] = nil
			}
		}
		if len(drop) == 0 {
			return eff, append(problems, rest...)
		}
		for key, idx := range drop {
			if idx == nil {
				delete(work.values, key)
				continue
			}
			pv := work.values[key]
			list := slices.Clone(pv.v.([]string))
			slices.Sort(idx)
			for _, i := range slices.Backward(slices.Compact(idx)) {
				if i < len(list) {
					list = slices.Delete(list, i, i+1)
				}
			}
			pv.v = list
			work.values[key] = pv
		}
	}
	// Not reached for a valid c: every round drops at least one value or item.
	eff := c.Clone()
	return eff, append(problems, errors.New("policy: could not be applied; using the config file alone"))
}

// LoadPolicyFile reads a JSON policy file. A missing file is an empty policy,
// not an error. On Unix a file that other users may write is ignored: policy
// applies to every user of the machine, and whoever can write it could send
// everyone's credentials to a server of their choosing.
func LoadPolicyFile(path string) (Policy, []error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Policy{}, nil
	}
	if err != nil {
		return Policy{}, []error{policyErr(err)}
	}
	if !st.Mode().IsRegular() {
		return Policy{}, []error{policyErr(fmt.Errorf("%s: not a regular file", path))}
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o022 != 0 {
		return Policy{}, []error{policyErr(fmt.Errorf("%s: writable by other users (mode %v); make it 0644 and owned by root", path, st.Mode().Perm()))}
	}
	data, err := readLimited(path)
	if err != nil {
		return Policy{}, []error{policyErr(err)}
	}
	return ParsePolicy(data, path)
}

// PolicyFingerprint is the policy as LoadPolicy reads it now, as text:
// every key with its value and source, then the problems. Two readings
// differ when the administrator changed anything the agent would apply
// differently; a running agent compares them once a minute (docs/behaviour.md §5.4: a
// policy change reaches a running agent without a new login).
func PolicyFingerprint() string {
	p, errs := LoadPolicy()
	var b strings.Builder
	for _, k := range p.Keys() {
		v := p.values[k]
		// Values may be pointers (a bool that can be unset): their
		// targets are what counts.
		rv := reflect.ValueOf(v.v)
		for rv.Kind() == reflect.Pointer && !rv.IsNil() {
			rv = rv.Elem()
		}
		var shown any
		if rv.IsValid() {
			shown = rv.Interface()
		}
		fmt.Fprintf(&b, "%s=%#v (%s)\n", k, shown, v.source)
	}
	for _, e := range errs {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	return b.String()
}
