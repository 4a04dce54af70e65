package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxFileSize bounds what Load and LoadPolicyFile read: a config file is a
// few hundred bytes, and a runaway file must not take the agent's memory.
const maxFileSize = 1 << 20

// maxDepth bounds nesting; the schema is two levels deep.
const maxDepth = 32

// Load reads the config file at path. A missing file is not an error: it
// returns the defaults and exists=false, so the caller can say "using
// defaults" (and activation can write the file). Any other problem is an
// error naming the file; the returned Config is then the zero value, so that
// nobody runs on half a configuration by mistake.
func Load(path string) (c Config, exists bool, err error) {
	data, err := readLimited(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), false, nil
	}
	if err != nil {
		return Config{}, false, fmt.Errorf("read config: %w", err)
	}
	c, err = Parse(data, path)
	return c, true, err
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFileSize)
	}
	return data, nil
}

// Parse decodes a config file over [Default] and validates the result. source
// names the file in messages. Every problem is reported, not only the first:
// unknown keys (with the full dotted key and a suggestion), wrong types,
// syntax errors (line:column), and [Config.Validate] failures, joined with
// errors.Join. Each carries a *[FieldError] where a key is involved.
func Parse(data []byte, source string) (Config, error) {
	c := Default()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // Notepad's BOM
	root, err := parseDocument(data)
	if err != nil {
		return Config{}, locate(source, data, err)
	}
	var errs []error
	at := map[string]int{} // key → offset, to place validation errors
	if root.kind != kindObject {
		return Config{}, locate(source, data, &posError{root.pos, fmt.Errorf("want a JSON object ({ ... }) at the top, got %s", root.describe())})
	}
	v := reflect.ValueOf(&c).Elem()
	walk(root, "", false, func(f *field, key string, n *node, keyPos int) {
		at[key] = keyPos
		if f == nil {
			err := unknownKey(key, false)
			if g := schemaByKey[key]; g != nil && !g.policyOnly {
				sec, leaf, _ := strings.Cut(key, ".")
				err = fmt.Errorf("unknown key %q: the file nests sections, write {%q: {%q: ...}}", key, sec, leaf)
			}
			errs = append(errs, locate(source, data, &posError{keyPos, err}))
			return
		}
		if f.policyOnly {
			errs = append(errs, locate(source, data, &posError{keyPos, &FieldError{Key: key, Index: -1,
				Msg: "can only be set by the administrator's policy, not in the config file"}}))
			return
		}
		val, err := convertNode(f, n)
		if err != nil {
			errs = append(errs, locate(source, data, err))
			return
		}
		if val.IsValid() {
			v.FieldByIndex(f.index).Set(val)
		}
	}, func(err error) { errs = append(errs, locate(source, data, err)) })
	c.normalize()
	for _, fe := range c.validate() {
		pos, ok := at[fe.Key]
		if !ok {
			pos = -1
		}
		errs = append(errs, locate(source, data, &posError{pos, fe}))
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

func unknownKey(key string, withPolicy bool) error {
	msg := fmt.Sprintf("unknown key %q", key)
	if s := suggest(key, withPolicy); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return errors.New(msg)
}

// walk visits the leaves of obj against the schema. visit gets the schema
// field (nil when unknown), the full key, the value and the position of the
// key. With dotted set, a key may also be written "sync.enabled" at any level
// (policy sources are flat: registry value names, plist keys).
func walk(obj *node, prefix string, dotted bool, visit func(f *field, key string, n *node, keyPos int), fail func(error)) {
	for _, m := range obj.members {
		key := prefix + m.key
		f := schemaByKey[key]
		if !dotted && strings.Contains(m.key, ".") {
			f = nil // the file nests sections; "sync.interval" is not a key there
		}
		switch {
		case f != nil && f.section:
			switch m.val.kind {
			case kindObject:
				walk(m.val, key+".", dotted, visit, fail)
			case kindNull:
				// null leaves the whole section at its defaults.
			default:
				fail(&posError{m.val.pos, &FieldError{Key: key, Index: -1,
					Msg: fmt.Sprintf("want an object ({ ... }), got %s", m.val.describe())}})
			}
		default:
			visit(f, key, m.val, m.pos)
		}
	}
}

// convertNode turns a JSON value into a value of f's Go type. An invalid
// reflect.Value (and no error) means null: keep what is there.
func convertNode(f *field, n *node) (reflect.Value, error) {
	bad := func(n *node, idx int, wantWhat string) error {
		return &posError{n.pos, &FieldError{Key: f.key, Index: idx,
			Msg: fmt.Sprintf("want %s, got %s", wantWhat, n.describe())}}
	}
	if n.kind == kindNull {
		return reflect.Value{}, nil
	}
	switch f.typ {
	case durationType:
		if n.kind != kindString {
			return reflect.Value{}, bad(n, -1, wantDuration)
		}
		d, err := ParseDuration(n.text)
		if err != nil {
			return reflect.Value{}, &posError{n.pos, &FieldError{Key: f.key, Index: -1, Msg: err.Error()}}
		}
		return reflect.ValueOf(d), nil
	case stringsType:
		if n.kind != kindArray {
			return reflect.Value{}, bad(n, -1, "a list of strings")
		}
		out := make([]string, 0, len(n.elems))
		for i, e := range n.elems {
			if e.kind != kindString {
				return reflect.Value{}, bad(e, i, "a string")
			}
			out = append(out, e.text)
		}
		return reflect.ValueOf(out), nil
	case boolPtrType:
		if n.kind != kindBool {
			return reflect.Value{}, bad(n, -1, "true or false")
		}
		b := n.boolean
		return reflect.ValueOf(&b), nil
	}
	switch f.typ.Kind() {
	case reflect.String:
		if n.kind != kindString {
			return reflect.Value{}, bad(n, -1, "a string")
		}
		return reflect.ValueOf(n.text), nil
	case reflect.Bool:
		if n.kind != kindBool {
			return reflect.Value{}, bad(n, -1, "true or false")
		}
		return reflect.ValueOf(n.boolean), nil
	case reflect.Int:
		if n.kind != kindNumber {
			return reflect.Value{}, bad(n, -1, "a number")
		}
		i, err := strconv.ParseInt(n.text, 10, 64)
		if err != nil || i < math.MinInt32 || i > math.MaxInt32 {
			return reflect.Value{}, bad(n, -1, "a whole number")
		}
		return reflect.ValueOf(int(i)), nil
	}
	return reflect.Value{}, fmt.Errorf("internal: no conversion for %s", f.typ)
}

// FieldError is one problem with one key. Key is the full dotted key; Index is
// the position in a list value, or -1.
type FieldError struct {
	Key   string
	Index int
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("%s[%d]: %s", e.Key, e.Index, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Key, e.Msg)
}

// posError is an error at a byte offset of the document (-1: none).
type posError struct {
	pos int
	err error
}

func (e *posError) Error() string { return e.err.Error() }
func (e *posError) Unwrap() error { return e.err }

// LocatedError is an error in a file, with the line and column (1-based; 0
// when the problem has no place in the file, such as a bad default).
type LocatedError struct {
	Source       string
	Line, Column int
	Err          error
}

func (e *LocatedError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %v", e.Source, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Source, e.Err)
}

// Unwrap gives errors.As access to the *FieldError inside.
func (e *LocatedError) Unwrap() error { return e.Err }

func locate(source string, data []byte, err error) error {
	var pe *posError
	if !errors.As(err, &pe) || pe.pos < 0 {
		if pe != nil {
			err = pe.err
		}
		return &LocatedError{Source: source, Err: err}
	}
	line, col := lineCol(data, pe.pos)
	return &LocatedError{Source: source, Line: line, Column: col, Err: pe.err}
}

func lineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}

type nodeKind uint8

const (
	kindObject nodeKind = iota
	kindArray
	kindString
	kindNumber
	kindBool
	kindNull
)

// node is a parsed JSON value with its position. The file is parsed into
// nodes rather than straight into Config so that every error can name its
// key and line, duplicate keys are caught, and key matching is exact
// (encoding/json matches field names case-insensitively).
type node struct {
	pos     int
	kind    nodeKind
	text    string // string value, or number literal
	boolean bool
	elems   []*node
	members []member
}

type member struct {
	key string
	pos int
	val *node
}

// describe renders a value for "got ..." in messages, shortened.
func (n *node) describe() string {
	switch n.kind {
	case kindObject:
		return "an object"
	case kindArray:
		return "a list"
	case kindString:
		return shorten(strconv.Quote(n.text))
	case kindNumber:
		return shorten(n.text)
	case kindBool:
		return strconv.FormatBool(n.boolean)
	}
	return "null"
}

func shorten(s string) string {
	if utf8.RuneCountInString(s) <= 60 {
		return s
	}
	r := []rune(s)
	return string(r[:57]) + "…"
}

type docParser struct {
	data []byte
	dec  *json.Decoder
}

// parseDocument parses one JSON value and rejects anything after it.
func parseDocument(data []byte) (*node, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the file is empty; write {} to use the defaults")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &docParser{data: data, dec: dec}
	root, err := p.value(0)
	if err != nil {
		return nil, err
	}
	start := p.next()
	if _, err := dec.Token(); err != io.EOF {
		return nil, &posError{start, errors.New("unexpected text after the end of the JSON value")}
	}
	return root, nil
}

// next returns the offset where the next token starts, for positions.
func (p *docParser) next() int {
	off := int(p.dec.InputOffset())
	for off < len(p.data) && strings.IndexByte(" \t\r\n,:", p.data[off]) >= 0 {
		off++
	}
	return off
}

func (p *docParser) syntax(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &posError{int(se.Offset) - 1, fmt.Errorf("syntax error: %s", se.Error())}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &posError{len(p.data), errors.New("syntax error: unexpected end of file (a missing } or ]?)")}
	}
	return &posError{p.next(), fmt.Errorf("syntax error: %w", err)}
}

func (p *docParser) value(depth int) (*node, error) {
	start := p.next()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntax(err)
	}
	n := &node{pos: start}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, &posError{start, errors.New("nested too deeply")}
		}
		switch t {
		case '{':
			n.kind = kindObject
			seen := map[string]bool{}
			for p.dec.More() {
				kpos := p.next()
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.syntax(err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, &posError{kpos, errors.New("syntax error: want a key string")}
				}
				if seen[key] {
					return nil, &posError{kpos, fmt.Errorf("duplicate key %q", key)}
				}
				seen[key] = true
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, member{key: key, pos: kpos, val: v})
			}
		case '[':
			n.kind = kindArray
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
		default:
			return nil, &posError{start, fmt.Errorf("syntax error: unexpected %q", rune(t))}
		}
		if _, err := p.dec.Token(); err != nil { // the closing } or ]
			return nil, p.syntax(err)
		}
	case string:
		n.kind, n.text = kindString, t
	case json.Number:
		n.kind, n.text = kindNumber, string(t)
	case bool:
		n.kind, n.boolean = kindBool, t
	case nil:
		n.kind = kindNull
	}
	return n, nil
}
