package graphsim

import (
	"bytes"
	"encoding/json"
	"html"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// jw writes one JSON object in a fixed property order. Graph's responses
// have a stable, documented order (id first, @odata annotations before
// properties), and a map would lose it; a hand-rolled writer also keeps the
// per-item cost of a 100,000-message listing low.
type jw struct {
	b     *bytes.Buffer
	first []bool // one entry per open object/array: nothing written yet
}

func newJW(b *bytes.Buffer) *jw { return &jw{b: b} }

func (w *jw) sep() {
	if n := len(w.first); n > 0 {
		if !w.first[n-1] {
			w.b.WriteByte(',')
		}
		w.first[n-1] = false
	}
}

func (w *jw) key(k string) {
	w.sep()
	writeString(w.b, k)
	w.b.WriteByte(':')
	// The value that follows must not write another separator.
	w.first = append(w.first, true)
}

func (w *jw) valueDone() { w.first = w.first[:len(w.first)-1] }

func (w *jw) open(c byte) {
	w.b.WriteByte(c)
	w.first = append(w.first, true)
}

func (w *jw) close(c byte) {
	w.first = w.first[:len(w.first)-1]
	w.b.WriteByte(c)
}

// beginObject starts an object as a top-level value or an array element.
func (w *jw) beginObject() { w.sep(); w.open('{') }
func (w *jw) endObject()   { w.close('}') }

func (w *jw) objectField(k string) { w.key(k); w.open('{') }
func (w *jw) endObjectField()      { w.close('}'); w.valueDone() }
func (w *jw) arrayField(k string)  { w.key(k); w.open('[') }
func (w *jw) endArrayField()       { w.close(']'); w.valueDone() }

func (w *jw) str(k, v string) { w.key(k); writeString(w.b, v); w.valueDone() }

// strOrNull writes null for "", as Graph does for unset string properties.
func (w *jw) strOrNull(k, v string) {
	if v == "" {
		w.null(k)
		return
	}
	w.str(k, v)
}
func (w *jw) null(k string) { w.key(k); w.b.WriteString("null"); w.valueDone() }
func (w *jw) boolean(k string, v bool) {
	w.key(k)
	w.b.WriteString(strconv.FormatBool(v))
	w.valueDone()
}
func (w *jw) integer(k string, v int64) {
	w.key(k)
	w.b.WriteString(strconv.FormatInt(v, 10))
	w.valueDone()
}
func (w *jw) time(k string, t time.Time) { w.str(k, formatTime(t)) }
func (w *jw) strings(k string, vs []string) {
	w.arrayField(k)
	for _, v := range vs {
		w.sep()
		writeString(w.b, v)
	}
	w.endArrayField()
}

// raw writes a pre-encoded JSON value.
func (w *jw) raw(k string, v []byte) { w.key(k); w.b.Write(v); w.valueDone() }

// formatTime renders a timestamp as Graph does for DateTimeOffset in UTC.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// writeString writes s as a JSON string. encoding/json would allocate per
// call; this is on the hot path of every listing.
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b.WriteString(s[start:i])
			b.WriteString(`\u202`)
			b.WriteByte(hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// mustJSON encodes small fixed structures (errors, token responses).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("graphsim: " + err.Error()) // only fixed internal types reach here
	}
	return b
}

// htmlToText is the simulator's stand-in for Exchange's HTML-to-text
// conversion (Prefer: outlook.body-content-type="text"): tags dropped,
// block elements and <br> become line breaks, entities decoded, script and
// style content removed, runs of blank lines collapsed.
func htmlToText(s string) string {
	var out strings.Builder
	out.Grow(len(s))
	skip := "" // inside <script> or <style>
	for i := 0; i < len(s); {
		c := s[i]
		if c != '<' {
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				j = len(s) - i
			}
			if skip == "" {
				out.WriteString(html.UnescapeString(collapseSpace(s[i : i+j])))
			}
			i += j
			continue
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break // an unterminated tag: drop the rest, as a browser would
		}
		tag := strings.ToLower(strings.TrimSpace(s[i+1 : i+j]))
		i += j + 1
		name := tag
		if k := strings.IndexAny(name, " \t\r\n/"); k == 0 && strings.HasPrefix(name, "/") {
			name = "/" + strings.Fields(strings.TrimPrefix(name, "/") + " ")[0]
		} else if k > 0 {
			name = name[:k]
		}
		switch {
		case skip != "":
			if name == "/"+skip {
				skip = ""
			}
		case name == "script" || name == "style" || name == "head" || name == "title":
			skip = name
		case name == "br" || name == "p" || name == "/p" || name == "div" || name == "/div" ||
			name == "tr" || name == "/tr" || name == "li" || name == "/h1" || name == "/h2" ||
			name == "/h3" || name == "/table" || name == "/ul" || name == "/ol" || name == "/li":
			out.WriteString("\r\n")
		}
	}
	return tidyLines(out.String())
}

// collapseSpace turns the source formatting of HTML text (newlines,
// indentation) into single spaces, as rendering does.
func collapseSpace(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") && !strings.Contains(s, "  ") {
		return s
	}
	f := strings.Fields(s)
	if len(f) == 0 {
		if s != "" {
			return " "
		}
		return ""
	}
	r := strings.Join(f, " ")
	if s[0] == ' ' || s[0] == '\n' || s[0] == '\r' || s[0] == '\t' {
		r = " " + r
	}
	if e := s[len(s)-1]; e == ' ' || e == '\n' || e == '\r' || e == '\t' {
		r += " "
	}
	return r
}

func tidyLines(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var out []string
	blank := 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			blank++
			if blank > 1 || len(out) == 0 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\r\n")
}

// userContext is the @odata.context of what lies at path under the
// signed-in user ("contactFolders", "messages/$entity").
func (s *Server) userContext(path string) string {
	return s.url + "/v1.0/$metadata#users('" + s.user.ID + "')/" + path
}

// entityContext is the @odata.context of one entity of set.
func (s *Server) entityContext(set string) string { return s.userContext(set + "/$entity") }

// selectedContext is the @odata.context of one entity of set read with
// $select: Graph names the selected properties (in props' order).
func (s *Server) selectedContext(set string, sel selection, props []string) string {
	if sel == nil {
		return s.entityContext(set)
	}
	return s.userContext(set + "(" + sel.join(props) + ")/$entity")
}

// writeWithContext writes an entity with @odata.context first, as in
// Graph's entity responses.
func writeWithContext(b *bytes.Buffer, ctx string, write func(*jw)) {
	var tmp bytes.Buffer
	write(newJW(&tmp))
	b.WriteString(`{"@odata.context":`)
	writeString(b, ctx)
	if tmp.Len() > 2 {
		b.WriteByte(',')
	}
	b.Write(tmp.Bytes()[1:])
}

// writeListPage writes one page of a collection listing ($top items from
// $skip): @odata.context, the nextLink when more remain (next makes it
// from the following $skip), then the items.
func writeListPage[T any](b *bytes.Buffer, ctx string, list []T, skip, top int, next func(skip int) string, item func(*jw, T)) {
	jw := newJW(b)
	jw.beginObject()
	jw.str("@odata.context", ctx)
	if skip+top < len(list) {
		jw.str("@odata.nextLink", next(skip+top))
	}
	jw.arrayField("value")
	for i := skip; i < len(list) && i < skip+top; i++ {
		item(jw, list[i])
	}
	jw.endArrayField()
	jw.endObject()
}

// outlookItem is what a message, a contact and an event share: Graph's
// outlookItem base type (createdDateTime, lastModifiedDateTime, changeKey,
// categories), the id, and the version's weak etag.
type outlookItem struct {
	typ        string // @odata.type
	id         string
	changeKey  string
	categories []string
	version
}

// begin opens the item's object with what Graph writes before its
// properties: @odata.type (in delta answers), @odata.etag (the weak etag
// of the changeKey) and id.
func (it outlookItem) begin(w *jw, inDelta bool) {
	w.beginObject()
	if inDelta {
		w.str("@odata.type", it.typ)
	}
	w.str("@odata.etag", `W/"`+it.changeKey+`"`)
	w.str("id", it.id)
}

// writeProp writes p if it is an outlookItem property, and says whether
// it was one.
func (it outlookItem) writeProp(w *jw, p string) bool {
	switch p {
	case "createdDateTime":
		w.time(p, it.created)
	case "lastModifiedDateTime":
		w.time(p, it.modified)
	case "changeKey":
		w.str(p, it.changeKey)
	case "categories":
		w.strings(p, it.categories)
	default:
		return false
	}
	return true
}
