package syncer

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// htmlToText turns an HTML message body into the plain text a Vantagepoint
// activity's Notes show: block elements become line breaks, list items get a
// dash, links keep their target, scripts and styles vanish, entities decode.
// Graph already converts bodies when asked (Prefer: outlook.body-content-type)
// but this keeps Notes readable when a server ignores the preference.
func htmlToText(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var b strings.Builder
	skip := 0 // depth inside <script>, <style>, <head>, <title>
	var href string
	space := false // a pending inter-word space
	newline := func(n int) {
		space = false
		s := b.String()
		have := len(s) - len(strings.TrimRight(s, "\n"))
		if len(s) == 0 {
			return
		}
		for ; have < n; have++ {
			b.WriteByte('\n')
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			// io.EOF or a tokenizer error: either way, what was read is the text.
			return strings.TrimSpace(b.String())
		case html.TextToken:
			if skip > 0 {
				continue
			}
			text := string(z.Text())
			words := strings.Fields(text)
			if len(words) == 0 {
				space = space || text != ""
				continue
			}
			if startsWithSpace([]byte(text)) {
				space = true
			}
			if space && b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
				b.WriteByte(' ')
			}
			b.WriteString(strings.Join(words, " "))
			space = endsWithSpace([]byte(text))
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			end := tt == html.EndTagToken
			switch tag {
			case "script", "style", "head", "title":
				if tt == html.StartTagToken {
					skip++
				} else if end && skip > 0 {
					skip--
				}
			case "br":
				b.WriteByte('\n')
				space = false
			case "p", "div", "table", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "hr":
				newline(2)
			case "tr":
				newline(1)
			case "td", "th":
				if !end {
					space = true
				}
			case "li":
				if !end {
					newline(1)
					b.WriteString("- ")
					space = false
				}
			case "a":
				if !end && hasAttr {
					href = ""
					for {
						k, v, more := z.TagAttr()
						if string(k) == "href" {
							href = string(v)
						}
						if !more {
							break
						}
					}
				} else if end && href != "" {
					if strings.HasPrefix(href, "http://") || strings.HasPrefix(href, "https://") {
						if !strings.HasSuffix(b.String(), href) {
							fmt.Fprintf(&b, " <%s>", href)
						}
					}
					href = ""
				}
			}
		}
	}
}

func startsWithSpace(raw []byte) bool {
	r, _ := utf8.DecodeRune(raw)
	return r == ' ' || r == '\t' || r == '\n' || r == '\r'
}

func endsWithSpace(raw []byte) bool {
	r, _ := utf8.DecodeLastRune(raw)
	return r == ' ' || r == '\t' || r == '\n' || r == '\r'
}

// truncateUTF8 cuts s to at most max bytes without splitting a character.
func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
