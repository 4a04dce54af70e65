package addin

import (
	"encoding/xml"
	"io"
	"sort"
)

func xmlEscape(w io.Writer, s string) error { return xml.EscapeText(w, []byte(s)) }

func sortStrings(s []string) { sort.Strings(s) }
