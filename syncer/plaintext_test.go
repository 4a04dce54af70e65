package syncer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHTMLToText(t *testing.T) {
	cases := []struct{ in, want string }{
		{`<p>a</p><p>b</p>`, "a\n\nb"},
		{`line<br>break`, "line\nbreak"},
		{`<div>x &lt;y&gt; &nbsp;z</div>`, "x <y> z"},
		{`<script>alert(1)</script>visible`, "visible"},
		{`<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>`, "a b\nc"},
		{`<a href="mailto:x@y">mail</a>`, "mail"},
		{`unclosed <b>bold`, "unclosed bold"},
	}
	for _, c := range cases {
		if got := htmlToText(c.in); got != c.want {
			t.Errorf("htmlToText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTruncateUTF8(t *testing.T) {
	s := "aé" // 3 bytes
	if got := truncateUTF8(s, 2); got != "a" {
		t.Errorf("truncateUTF8 split a character: %q", got)
	}
	if got := truncateUTF8(s, 10); got != s {
		t.Errorf("truncateUTF8 of a short string = %q", got)
	}
}

func FuzzHTMLToText(f *testing.F) {
	f.Add(`<html><body><p>Hi <a href="https://x">there</a></p><ul><li>a</li></ul></body></html>`)
	f.Add(`<style>p{}</style><p>&amp;&#x41;</p>`)
	f.Add("<<<>>>&&&")
	f.Fuzz(func(t *testing.T, in string) {
		out := htmlToText(in)
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Errorf("valid input gave invalid UTF-8: %q → %q", in, out)
		}
		if strings.Contains(strings.ToLower(out), "<script") && !strings.Contains(strings.ToLower(in), "&lt;script") {
			t.Errorf("markup survived: %q → %q", in, out)
		}
	})
}

func FuzzActivityNotes(f *testing.F) {
	f.Add("body", "<id@x>", "a.pdf", int64(10))
	f.Fuzz(func(t *testing.T, body, imid, att string, size int64) {
		n := activityNotes(Message{MessageChange: MessageChange{InternetMessageID: imid}, Body: body, Attachments: []Attachment{{Name: att, Size: size}}})
		if !strings.Contains(n, messageRef(imid)) {
			t.Fatalf("Notes lost the natural key: %q", n)
		}
		if len(n) > NotesLimit+len(att)+len(imid)+400 {
			t.Fatalf("Notes of %d bytes exceed the limit", len(n))
		}
	})
}
