package graphsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// deltaState is what a skip or delta token carries. Graph keeps the query
// options of the initial request in the token (NOTES 2); so does this.
type deltaState struct {
	Epoch   uint64 `json:"e"`
	Folder  string `json:"f"`
	Pos     uint64 `json:"p"`           // log entries up to this sequence number are done
	Initial bool   `json:"i,omitempty"` // the first round: existing items only, no removals
	Select  string `json:"s,omitempty"`
	Change  string `json:"c,omitempty"` // changeType filter
	// Kind tells the collection type for contact and calendar-view tokens
	// ("contacts", "calendarView"); "" is a message folder.
	Kind string `json:"k,omitempty"`
	// Start and End bound a calendar view (Unix seconds).
	Start int64 `json:"a,omitempty"`
	End   int64 `json:"b,omitempty"`
	// Gen is the token's generation of its collection's sync state.
	Gen uint64 `json:"g,omitempty"`
}

// keptGenerations is how many generations of a collection's sync state
// Exchange keeps: every token it hands out (a nextLink or a deltaLink) is
// a new generation, and a token older than the last three answers 410
// SyncStateNotFound, "The sync state generation is not found;
// generation=149;[highest=157][157][155][156]." (microsoft-graph-docs
// issue 2350; issue 2162: "the former nextLink will gradually turn to
// SyncStateNotFound"). A client that calls the same saved deltaLink again
// and again without keeping the new one loses its sync state.
const keptGenerations = 3

// issueToken gives a token the next generation of its collection (s.mu
// held) and encodes it.
func (s *Server) issueToken(st deltaState) string {
	key := st.Kind + "|" + st.Folder
	s.gens[key]++
	st.Gen = s.gens[key]
	return encodeToken(st)
}

// generationGone answers 410 SyncStateNotFound when a token's generation
// is no longer kept (s.mu held, and released around the answer).
func (s *Server) generationGone(w http.ResponseWriter, r *http.Request, st deltaState) bool {
	high := s.gens[st.Kind+"|"+st.Folder]
	if st.Gen == 0 || st.Gen+keptGenerations > high {
		return false
	}
	s.goneRounds.Add(1)
	kept := ""
	for g := high; g+keptGenerations > high && g > 0; g-- {
		kept += fmt.Sprintf("[%d]", g)
	}
	s.mu.Unlock()
	w.Header().Set("Location", s.initialDeltaURL(r))
	s.graphError(w, r, http.StatusGone, "SyncStateNotFound",
		fmt.Sprintf("The sync state generation is not found; generation=%d;[highest=%d]%s.", st.Gen, high, kept))
	s.mu.Lock()
	return true
}

func encodeToken(st deltaState) string {
	return base64.RawURLEncoding.EncodeToString(mustJSON(st))
}

func decodeToken(t string) (deltaState, error) {
	var st deltaState
	raw, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return st, errBadToken
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, errBadToken
	}
	return st, nil
}

// initialDeltaURL is the Location of a 410: the initial request with an
// empty $deltatoken (NOTES 13).
func (s *Server) initialDeltaURL(r *http.Request) string {
	p := r.URL.Path
	if i := strings.Index(strings.ToLower(p), "/delta"); i >= 0 {
		p = p[:i] + "/delta"
	}
	return s.URL() + p + "?%24deltatoken="
}

// serveDelta answers GET .../mailFolders/{id}/messages/delta.
func (s *Server) serveDelta(w http.ResponseWriter, r *http.Request, q query, prefs []string, folderRef string) {
	// $top does not size delta pages ("page sizes vary even with $top",
	// delta-query-overview, NOTES 12): only odata.maxpagesize does, so a
	// client that pages by $top gets the default page size here.
	pageSize, applied := s.deltaPageSize(prefs)
	for _, k := range []string{"filter", "orderby", "search"} {
		if q[k] != "" && (k != "filter" || !validDeltaFilter(q[k])) && (k != "orderby" || !strings.EqualFold(strings.TrimSpace(q[k]), "receivedDateTime desc")) {
			s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidUrlQuery", "The query option $"+k+" is not supported with delta for this value.")
			return
		}
	}
	if q["expand"] != "" {
		// Documented for message delta, but expanding extended properties or
		// extensions fails (docs/behaviour.md §11); the simulator supports neither.
		s.graphError(w, r, http.StatusNotImplemented, "NotImplemented", "This operation target is not yet supported.")
		return
	}

	s.mu.Lock()
	f := s.folderLocked(folderRef)
	if f == nil {
		s.mu.Unlock()
		s.notFound(w, r)
		return
	}
	st, has, ok := s.deltaToken(w, r, q, "", f.ID)
	if !ok {
		s.mu.Unlock()
		return
	}
	if !has {
		sel, err := parseSelect(q["select"], messageProps, "microsoft.graph.message")
		if err != nil {
			s.mu.Unlock()
			s.graphError(w, r, http.StatusBadRequest, "RequestBroker--ParseUri", err.Error())
			return
		}
		ct := strings.ToLower(q["changetype"])
		if ct != "" && ct != "created" && ct != "updated" && ct != "deleted" {
			s.mu.Unlock()
			s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidUrlQuery", "The changeType value is invalid; use created, updated or deleted.")
			return
		}
		st = deltaState{Epoch: s.epoch, Folder: f.ID, Initial: true, Select: sel.String(), Change: ct}
		if q["select"] != "" && st.Select == "" {
			st.Select = "id" // $select=id only
		}
	}
	sel, live := st.selection(), s.msgLive(f)
	b := s.writeDeltaPage(r, "message", f.log.log, st, pageSize, func(w *jw, e entry) bool {
		if e.kind == kindRemoved {
			// @removed can appear in the initial round too (NOTES 10): a
			// client must not read it as the removal of an item it knows.
			if st.Change != "" && st.Change != "deleted" {
				return false
			}
			if rec, ok := s.msgs[e.id]; ok && rec.m.FolderID == f.ID {
				return false // moved back in: a later entry reports it
			}
			writeRemoved(w, "#microsoft.graph.message", e.id)
			return true
		}
		if !live(e) {
			return false
		}
		switch st.Change {
		case "deleted":
			return false
		case "created":
			if !st.Initial && e.kind != kindCreated {
				return false
			}
		case "updated":
			if st.Initial || e.kind != kindUpdated {
				return false
			}
		}
		s.writeMessage(w, s.msgs[e.id], sel, renderOpts{inDelta: true})
		return true
	})
	s.mu.Unlock()
	if applied != "" {
		w.Header().Set("Preference-Applied", applied)
	}
	writeBuffer(w, http.StatusOK, b)
}

// writeDeltaPage writes one page of a delta round over a collection's log
// (s.mu held), from the position st carries: entries are offered to item in
// order, which writes what the round reports of one (nothing, an item, or
// @removed) and says whether it wrote anything, until pageSize are written;
// then the nextLink, or the deltaLink at the end of the log. set names the
// entity type in @odata.context.
func (s *Server) writeDeltaPage(r *http.Request, set string, log []entry, st deltaState, pageSize int, item func(*jw, entry) bool) *bytes.Buffer {
	var b bytes.Buffer
	jw := newJW(&b)
	jw.beginObject()
	jw.str("@odata.context", s.url+"/v1.0/$metadata#Collection("+set+")")
	// The link must come before the items in the body, as in Graph's
	// responses, but is known only after the scan: collect the items first.
	var items bytes.Buffer
	ijw := newJW(&items)
	ijw.open('[')
	n := 0
	i := seekLog(log, st.Pos)
	for ; i < len(log) && n < pageSize; i++ {
		if item(ijw, log[i]) {
			n++
		}
	}
	ijw.close(']')
	s.writeDeltaLink(jw, r, st, log, i)
	jw.raw("value", items.Bytes())
	jw.endObject()
	return &b
}

// validDeltaFilter accepts the only documented delta filters:
// receivedDateTime ge|gt {value} (NOTES 5).
func validDeltaFilter(f string) bool {
	p := strings.Fields(f)
	return len(p) == 3 && strings.EqualFold(p[0], "receivedDateTime") && (strings.EqualFold(p[1], "ge") || strings.EqualFold(p[1], "gt"))
}

// deltaPageSize reads Prefer: odata.maxpagesize, capped by MaxPageSize, and
// the Preference-Applied value to answer with.
func (s *Server) deltaPageSize(prefs []string) (int, string) {
	if v, ok := preference(prefs, "odata.maxpagesize"); ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			n = min(n, s.opts.MaxPageSize)
			return n, "odata.maxpagesize=" + strconv.Itoa(n)
		}
	}
	return defaultPageSize, ""
}

// deltaToken reads the skip or delta token of a contact or calendar-view
// delta request (s.mu held). has is false for an initial request. On a bad
// or expired token it answers the request and returns ok false: 400 for a
// token of another collection, 410 syncStateNotFound with a Location for an
// expired one (NOTES 13, 14).
func (s *Server) deltaToken(w http.ResponseWriter, r *http.Request, q query, kind, collection string) (st deltaState, has, ok bool) {
	tok := q["skiptoken"]
	if tok == "" {
		tok = q["deltatoken"]
	}
	if tok == "" {
		s.initialRounds.Add(1)
		return st, false, true
	}
	st, err := decodeToken(tok)
	if err != nil || st.Kind != kind || st.Folder != collection {
		s.mu.Unlock()
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidUrlQuery", "The sync state token is invalid.")
		s.mu.Lock()
		return st, true, false
	}
	if st.Epoch != s.epoch {
		s.mu.Unlock()
		s.goneRounds.Add(1)
		w.Header().Set("Location", s.initialDeltaURL(r))
		s.graphError(w, r, http.StatusGone, "syncStateNotFound", defaultMessage(http.StatusGone, "syncStateNotFound"))
		s.mu.Lock()
		return st, true, false
	}
	if s.generationGone(w, r, st) {
		return st, true, false
	}
	return st, true, true
}

// writeDeltaLink ends a page: a nextLink when log entries remain after
// index i, else the round's deltaLink.
func (s *Server) writeDeltaLink(jw *jw, r *http.Request, st deltaState, log []entry, i int) {
	base := s.url + r.URL.Path
	next := st
	if i < len(log) {
		next.Pos = log[i-1].seq
		jw.str("@odata.nextLink", base+"?%24skiptoken="+url.QueryEscape(s.issueToken(next)))
		return
	}
	next.Pos, next.Initial = s.seq, false
	jw.str("@odata.deltaLink", base+"?%24deltatoken="+url.QueryEscape(s.issueToken(next)))
}

// writeRemoved writes a removal as Graph does: type, id and @removed only
// (NOTES 10).
func writeRemoved(w *jw, typ, id string) {
	w.beginObject()
	w.str("@odata.type", typ)
	w.str("id", id)
	w.objectField("@removed")
	w.str("reason", "deleted")
	w.endObjectField()
	w.endObject()
}

// selection rebuilds the $select a token carries.
func (st deltaState) selection() selection {
	if st.Select == "" {
		return nil
	}
	sel := selection{}
	for _, p := range strings.Split(st.Select, ",") {
		sel[p] = true
	}
	return sel
}
