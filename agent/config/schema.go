package config

import (
	"reflect"
	"strings"
)

// field describes one key of the file, derived from Config's JSON tags so that
// the struct stays the single source of truth for key names.
type field struct {
	key        string       // full dotted key, e.g. "sync.lookbackDays"
	index      []int        // reflect field index path from Config
	typ        reflect.Type // Go type of the value
	section    bool         // an object holding further keys
	policyOnly bool         // settable by policy, never by the file
}

var (
	durationType = reflect.TypeFor[Duration]()
	stringsType  = reflect.TypeFor[[]string]()
	boolPtrType  = reflect.TypeFor[*bool]()

	schema      []*field
	schemaByKey = map[string]*field{}
)

func init() {
	buildSchema(reflect.TypeFor[Config](), "", nil, false)
}

func buildSchema(t reflect.Type, prefix string, index []int, policyOnly bool) {
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" || !sf.IsExported() {
			continue
		}
		f := &field{
			key:        prefix + name,
			index:      append(append([]int{}, index...), i),
			typ:        sf.Type,
			policyOnly: policyOnly || sf.Tag.Get("policy") == "only",
		}
		if sf.Type.Kind() == reflect.Struct {
			f.section = true
			schema = append(schema, f)
			schemaByKey[f.key] = f
			buildSchema(sf.Type, f.key+".", f.index, f.policyOnly)
			// A section is policy-only when every key in it is (ui).
			f.policyOnly = true
			for _, g := range schema {
				if strings.HasPrefix(g.key, f.key+".") && !g.policyOnly {
					f.policyOnly = false
				}
			}
			continue
		}
		schema = append(schema, f)
		schemaByKey[f.key] = f
	}
}

// Keys returns every settable key in dotted form ("sync.interval"), in the
// order of the file, policy-only keys included. Documentation, the ADMX
// template and the Sync Options page can enumerate them from here.
func Keys() []string {
	var keys []string
	for _, f := range schema {
		if !f.section {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// PolicyOnly reports whether key may be set only by policy, not by the file.
func PolicyOnly(key string) bool {
	f, ok := schemaByKey[key]
	return ok && !f.section && f.policyOnly
}

// want describes a type the way the error messages say it.
func want(t reflect.Type) string {
	switch t {
	case durationType:
		return wantDuration
	case stringsType:
		return "a list of strings"
	case boolPtrType:
		return "true or false"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

// suggest returns the known key closest to an unknown one, or "". It catches
// typos (edit distance), wrong case, and a right key in the wrong section.
func suggest(key string, withPolicy bool) string {
	best, bestScore := "", 1<<30
	lk := strings.ToLower(key)
	last := lk[strings.LastIndex(lk, ".")+1:]
	for _, f := range schema {
		if f.policyOnly && !withPolicy {
			continue
		}
		lc := strings.ToLower(f.key)
		score := 1 << 30
		if d := editDistance(lk, lc); d <= max(1, len(lc)/5) {
			score = d
		} else if lcLast := lc[strings.LastIndex(lc, ".")+1:]; lcLast == last && len(last) > 2 {
			score = 100 // moved to another section: a weaker guess than a typo
		}
		if score < bestScore {
			best, bestScore = f.key, score
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20 // keys are short; do not spend time on garbage
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
