package graphsim

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// route dispatches a Graph v1.0 request that passed authentication.
func (s *Server) route(w http.ResponseWriter, r *http.Request, rid string) {
	segs := splitPath(strings.TrimPrefix(r.URL.Path, "/v1.0"))
	if len(segs) == 0 {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Invalid request.")
		return
	}
	// /me/... or /users/{id|upn}/...
	switch {
	case strings.EqualFold(segs[0], "me"):
		segs = segs[1:]
	case strings.EqualFold(segs[0], "users") && len(segs) >= 2:
		s.mu.Lock()
		u := s.user
		s.mu.Unlock()
		if id := segs[1]; !strings.EqualFold(id, u.ID) && !strings.EqualFold(id, u.UserPrincipalName) && !strings.EqualFold(id, u.Mail) {
			s.graphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
				fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
			return
		}
		segs = segs[2:]
	default:
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", segs[0]))
		return
	}
	if len(segs) > 0 && s.mailboxRefused(w, r) {
		return // the profile is Entra ID's; everything below it is the mailbox's
	}
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	prefs := preferences(r)
	seg := func(i int) string {
		if i < len(segs) {
			return strings.ToLower(segs[i])
		}
		return ""
	}
	get := r.Method == http.MethodGet
	switch {
	case len(segs) == 0 && get:
		s.serveMe(w, r, q)
	case seg(0) == "mailfolders" && len(segs) == 1 && get:
		s.serveFolders(w, r, q)
	case seg(0) == "mailfolders" && len(segs) == 2 && get:
		s.serveFolder(w, r, q, segs[1])
	case seg(0) == "mailfolders" && len(segs) == 4 && seg(2) == "messages" && isDelta(segs[3]) && get:
		s.serveDelta(w, r, q, prefs, segs[1])
	case seg(0) == "messages" && len(segs) == 2 && get:
		s.serveMessage(w, r, q, prefs, segs[1])
	case seg(0) == "messages" && len(segs) == 2 && r.Method == http.MethodPatch:
		s.patchMessage(w, r, q, prefs, segs[1])
	case seg(0) == "messages" && len(segs) == 3 && seg(2) == "attachments" && get:
		s.serveAttachments(w, r, q, segs[1])
	case seg(0) == "outlook" && seg(1) == "mastercategories" && len(segs) == 2 && get:
		s.serveCategories(w, r)
	case seg(0) == "outlook" && seg(1) == "mastercategories" && len(segs) == 2 && r.Method == http.MethodPost:
		s.postCategory(w, r)
	case seg(0) == "outlook" && seg(1) == "mastercategories" && len(segs) == 3 && r.Method == http.MethodDelete:
		s.deleteCategory(w, r, segs[2])
	case seg(0) == "contactfolders" && len(segs) == 1 && get:
		s.serveContactFolders(w, r, q)
	case seg(0) == "contactfolders" && len(segs) == 1 && r.Method == http.MethodPost:
		s.postContactFolder(w, r)
	case seg(0) == "contactfolders" && len(segs) == 2 && get:
		s.serveContactFolder(w, r, q, segs[1])
	case seg(0) == "contactfolders" && len(segs) == 2 && r.Method == http.MethodPatch:
		s.patchContactFolder(w, r, segs[1])
	case seg(0) == "contactfolders" && len(segs) == 2 && r.Method == http.MethodDelete:
		s.deleteContactFolder(w, r, segs[1])
	case seg(0) == "contactfolders" && len(segs) == 3 && seg(2) == "contacts" && get:
		s.serveContacts(w, r, q, segs[1])
	case seg(0) == "contactfolders" && len(segs) == 3 && seg(2) == "contacts" && r.Method == http.MethodPost:
		s.postContact(w, r, segs[1])
	case seg(0) == "contactfolders" && len(segs) == 4 && seg(2) == "contacts" && isDelta(segs[3]) && get:
		s.serveContactDelta(w, r, q, prefs, segs[1])
	case seg(0) == "contactfolders" && len(segs) == 4 && seg(2) == "contacts":
		s.contactItem(w, r, q, segs[1], segs[3])
	case seg(0) == "contacts" && len(segs) == 1 && r.Method == http.MethodPost:
		s.postContact(w, r, "")
	case seg(0) == "contacts" && len(segs) == 2:
		s.contactItem(w, r, q, "", segs[1])
	case seg(0) == "calendarview" && len(segs) == 2 && isDelta(segs[1]) && get:
		s.serveCalendarViewDelta(w, r, q, prefs)
	case seg(0) == "events" && len(segs) == 1 && get:
		s.serveEvents(w, r, q, prefs)
	case seg(0) == "events" && len(segs) == 1 && r.Method == http.MethodPost:
		s.postEvent(w, r, prefs)
	case seg(0) == "events" && len(segs) == 2 && get:
		s.serveEvent(w, r, q, prefs, segs[1])
	case seg(0) == "events" && len(segs) == 2 && r.Method == http.MethodPatch:
		s.patchEvent(w, r, prefs, segs[1])
	case seg(0) == "events" && len(segs) == 2 && r.Method == http.MethodDelete:
		s.deleteEventHTTP(w, r, segs[1])
	case seg(0) == "translateexchangeids" && len(segs) == 1 && r.Method == http.MethodPost:
		s.translateExchangeIDs(w, r)
	default:
		if len(segs) > 0 && !knownSegment(seg(0)) {
			s.graphError(w, r, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", segs[0]))
			return
		}
		s.graphError(w, r, http.StatusMethodNotAllowed, "Request_BadRequest", "The simulator does not serve this request.")
	}
}

func knownSegment(s string) bool {
	switch s {
	case "mailfolders", "messages", "outlook", "contactfolders", "contacts", "calendarview", "events", "translateexchangeids":
		return true
	}
	return false
}

// splitPath splits a decoded path and unwraps OData key syntax:
// mailfolders('id') becomes mailfolders, id.
func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		if i := strings.Index(s, "('"); i > 0 && strings.HasSuffix(s, "')") {
			out = append(out, s[:i], s[i+2:len(s)-2])
			continue
		}
		out = append(out, s)
	}
	return out
}

// isDelta accepts delta, delta() (the SDK sends delta%28%29) and the
// namespace-qualified function name.
func isDelta(s string) bool {
	s = strings.ToLower(s)
	return s == "delta" || s == "delta()" || s == "microsoft.graph.delta" || s == "microsoft.graph.delta()"
}

// query holds OData system query options by lower-case name, without "$"
// (Graph accepts both $select and select).
type query map[string]string

func parseQuery(raw string) (query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("Invalid query string: %v", err)
	}
	q := query{}
	for k, vs := range v {
		q[strings.ToLower(strings.TrimPrefix(k, "$"))] = vs[len(vs)-1]
	}
	return q, nil
}

// message properties in the order Graph renders them (message-get-response.json).
var messageProps = []string{
	"createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "receivedDateTime",
	"sentDateTime", "hasAttachments", "internetMessageId", "subject", "bodyPreview", "importance",
	"parentFolderId", "conversationId", "isDeliveryReceiptRequested", "isReadReceiptRequested",
	"isRead", "isDraft", "webLink", "inferenceClassification", "body", "sender", "from",
	"toRecipients", "ccRecipients", "bccRecipients", "replyTo", "flag",
}

// selection is a parsed $select: nil means every default property.
type selection map[string]bool

func parseSelect(v string, props []string, typ string) (selection, error) {
	if v == "" {
		return nil, nil
	}
	sel := selection{}
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.EqualFold(p, "id") {
			continue
		}
		found := ""
		for _, k := range props {
			if strings.EqualFold(k, p) {
				found = k
				break
			}
		}
		if found == "" {
			return nil, fmt.Errorf("Could not find a property named '%s' on type '%s'.", p, typ)
		}
		sel[found] = true
	}
	return sel, nil
}

func (sel selection) has(p string) bool { return sel == nil || sel[p] }

func (sel selection) String() string { return sel.join(messageProps) }

// join lists the selected properties in the order of props.
func (sel selection) join(props []string) string {
	if sel == nil {
		return ""
	}
	var ps []string
	for _, p := range props {
		if sel[p] {
			ps = append(ps, p)
		}
	}
	return strings.Join(ps, ",")
}

type renderOpts struct {
	textBody    bool
	attachments selection // nil: not expanded
	expandAtt   bool
	sensitivity bool   // singleValueExtendedProperties expanded for 0x0036
	prop        string // or expanded for this named property
	inDelta     bool
}

func (s *Server) writeMessage(w *jw, r *msgRec, sel selection, o renderOpts) {
	m := &r.m
	item := outlookItem{typ: "#microsoft.graph.message", id: m.ID, changeKey: m.ChangeKey, categories: m.Categories, version: r.version}
	item.begin(w, o.inDelta)
	for _, p := range messageProps {
		if !sel.has(p) || item.writeProp(w, p) {
			continue
		}
		switch p {
		case "receivedDateTime":
			w.time(p, m.ReceivedDateTime)
		case "sentDateTime":
			w.time(p, m.SentDateTime)
		case "hasAttachments":
			w.boolean(p, len(m.Attachments) > 0)
		case "internetMessageId":
			w.str(p, m.InternetMessageID)
		case "subject":
			w.str(p, m.Subject)
		case "bodyPreview":
			w.str(p, preview(m))
		case "importance":
			w.str(p, "normal")
		case "parentFolderId":
			w.str(p, m.FolderID)
		case "conversationId":
			w.str(p, r.convID)
		case "isDeliveryReceiptRequested", "isReadReceiptRequested":
			w.boolean(p, false)
		case "isRead":
			w.boolean(p, m.IsRead)
		case "isDraft":
			w.boolean(p, m.IsDraft)
		case "webLink":
			w.str(p, "https://outlook.office365.com/owa/?ItemID="+url.QueryEscape(m.ID)+"&exvsurl=1&viewmodel=ReadMessageItem")
		case "inferenceClassification":
			w.str(p, "focused")
		case "body":
			ct, content := m.BodyType, m.Body
			if o.textBody && ct == "html" {
				ct, content = "text", htmlToText(content)
			}
			w.objectField(p)
			w.str("contentType", ct)
			w.str("content", content)
			w.endObjectField()
		case "sender", "from":
			if m.From.Address == "" && m.From.Name == "" {
				if !m.IsDraft {
					w.null(p)
				}
				continue
			}
			w.objectField(p)
			writeEmail(w, m.From)
			w.endObjectField()
		case "toRecipients":
			writeRecipients(w, p, m.To)
		case "ccRecipients":
			writeRecipients(w, p, m.Cc)
		case "bccRecipients", "replyTo":
			writeRecipients(w, p, nil)
		case "flag":
			w.objectField(p)
			w.str("flagStatus", "notFlagged")
			w.endObjectField()
		}
	}
	if o.expandAtt {
		w.str("attachments@odata.context", s.url+"/v1.0/$metadata#users('"+s.user.ID+"')/messages('"+m.ID+"')/attachments")
		w.arrayField("attachments")
		for i := range m.Attachments {
			s.writeAttachment(w, r, i, o.attachments)
		}
		w.endArrayField()
	}
	if o.sensitivity && m.Sensitivity != 0 {
		w.str("singleValueExtendedProperties@odata.context", s.url+"/v1.0/$metadata#users('"+s.user.ID+"')/messages('"+m.ID+"')/singleValueExtendedProperties")
		w.arrayField("singleValueExtendedProperties")
		w.beginObject()
		w.str("id", "Integer 0x36")
		w.str("value", strconv.Itoa(m.Sensitivity))
		w.endObject()
		w.endArrayField()
	}
	if p, ok := messageProp(m.ExtendedProperties, o.prop); ok && o.prop != "" {
		// Graph omits the navigation property when the item lacks the
		// property, as for the other items (writeExtProps).
		w.str("singleValueExtendedProperties@odata.context", s.url+"/v1.0/$metadata#users('"+s.user.ID+"')/messages('"+m.ID+"')/singleValueExtendedProperties")
		w.arrayField("singleValueExtendedProperties")
		w.beginObject()
		w.str("id", p.ID)
		w.str("value", p.Value)
		w.endObject()
		w.endArrayField()
	}
	w.endObject()
}

var attachmentProps = []string{"lastModifiedDateTime", "name", "contentType", "size", "isInline", "contentId", "contentLocation", "contentBytes"}

func (s *Server) writeAttachment(w *jw, r *msgRec, i int, sel selection) {
	a := r.m.Attachments[i]
	w.beginObject()
	w.str("@odata.type", "#microsoft.graph.fileAttachment")
	if sel.has("contentBytes") {
		w.str("@odata.mediaContentType", a.ContentType)
	}
	w.str("id", attachmentID(r.m.ID, i))
	for _, p := range attachmentProps {
		if !sel.has(p) {
			continue
		}
		switch p {
		case "lastModifiedDateTime":
			w.time(p, r.modified)
		case "name":
			w.str(p, a.Name)
		case "contentType":
			w.str(p, a.ContentType)
		case "size":
			w.integer(p, a.Size)
		case "isInline":
			w.boolean(p, false)
		case "contentId", "contentLocation":
			w.null(p)
		case "contentBytes":
			// The simulator keeps no content: zero bytes of the stated size,
			// capped so that a huge seeded size cannot exhaust memory.
			w.str(p, base64.StdEncoding.EncodeToString(make([]byte, min(a.Size, 1<<20))))
		}
	}
	w.endObject()
}

func attachmentID(msgID string, i int) string {
	return msgID[:len(msgID)-4] + base64.URLEncoding.EncodeToString([]byte{1, 0, byte(i >> 8), byte(i)})
}

func writeEmail(w *jw, a Recipient) {
	w.objectField("emailAddress")
	w.str("name", a.Name)
	w.str("address", a.Address)
	w.endObjectField()
}

func writeRecipients(w *jw, k string, rs []Recipient) {
	w.arrayField(k)
	for _, a := range rs {
		w.beginObject()
		writeEmail(w, a)
		w.endObject()
	}
	w.endArrayField()
}

// preview is bodyPreview: the first 255 characters of the text.
func preview(m *Message) string {
	t := m.Body
	if m.BodyType == "html" {
		t = htmlToText(t)
	}
	t = strings.Join(strings.Fields(t), " ")
	if utf8.RuneCountInString(t) > 255 {
		rs := []rune(t)
		t = string(rs[:255])
	}
	return t
}

// readOpts reads $expand and the body-format preference of a message GET.
func readOpts(q query, prefs []string) (renderOpts, []string, error) {
	var o renderOpts
	var applied []string
	if v, ok := preference(prefs, "outlook.body-content-type"); ok {
		switch strings.ToLower(v) {
		case "text":
			o.textBody = true
			applied = append(applied, `outlook.body-content-type="text"`)
		case "html":
			applied = append(applied, `outlook.body-content-type="html"`)
		}
	}
	expands := splitTopLevel(q["expand"])
	if len(expands) > 1 {
		// Graph documents expanding a message's attachments, and its
		// extended properties, each on its own; the simulator takes
		// only what is documented.
		return o, nil, fmt.Errorf("The simulator takes one $expand per message request, as Graph documents them.")
	}
	for _, ex := range expands {
		name, inner, _ := strings.Cut(ex, "(")
		inner = strings.TrimSuffix(inner, ")")
		opts := map[string]string{}
		for _, o := range strings.Split(inner, ";") {
			if k, v, ok := strings.Cut(o, "="); ok {
				opts[strings.ToLower(strings.TrimPrefix(strings.TrimSpace(k), "$"))] = strings.TrimSpace(v)
			}
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "attachments":
			sel, err := parseSelect(opts["select"], attachmentProps, "microsoft.graph.attachment")
			if err != nil {
				return o, nil, err
			}
			o.expandAtt, o.attachments = true, sel
		case "singlevalueextendedproperties":
			f := strings.ToLower(strings.Join(strings.Fields(opts["filter"]), " "))
			if f == "" {
				return o, nil, fmt.Errorf("The $expand of singleValueExtendedProperties requires a $filter on id.")
			}
			// Graph matches the property tag numerically: 0x0036 == 0x36.
			o.sensitivity = f == "id eq 'integer 0x0036'" || f == "id eq 'integer 0x36'"
			if !o.sensitivity {
				// A named property, by the one documented form: $filter
				// with eq on id (Get singleValueLegacyExtendedProperty,
				// https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get);
				// the name keeps its case, so the raw filter is parsed.
				m := expandFilterRe.FindStringSubmatch(opts["filter"])
				if m == nil {
					return o, nil, fmt.Errorf("Invalid filter clause: '%s'; filter singleValueExtendedProperties with id eq '...'.", opts["filter"])
				}
				if err := validProps([]extProp{{ID: unquote(m[1])}}); err != nil {
					return o, nil, err
				}
				o.prop = unquote(m[1])
			}
		case "":
		default:
			return o, nil, fmt.Errorf("Could not find a property named '%s' on type 'microsoft.graph.message'.", strings.TrimSpace(name))
		}
	}
	return o, applied, nil
}

var expandFilterRe = regexp.MustCompile(`(?i)^\s*id\s+eq\s+'((?:[^']|'')*)'\s*$`)

// splitTopLevel splits on commas outside parentheses and quotes.
func splitTopLevel(s string) []string {
	var out []string
	depth, start, inQ := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			inQ = !inQ
		case '(':
			if !inQ {
				depth++
			}
		case ')':
			if !inQ {
				depth--
			}
		case ',':
			if depth == 0 && !inQ {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func (s *Server) serveMessage(w http.ResponseWriter, r *http.Request, q query, prefs []string, id string) {
	sel, err := parseSelect(q["select"], messageProps, "microsoft.graph.message")
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBroker--ParseUri", err.Error())
		return
	}
	o, applied, err := readOpts(q, prefs)
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBroker--ParseUri", err.Error())
		return
	}
	var b bytes.Buffer
	s.mu.Lock()
	rec, ok := s.msgs[id]
	if ok {
		s.writeEntity(&b, rec, sel, o)
	}
	s.mu.Unlock()
	if !ok {
		s.notFound(w, r)
		return
	}
	if len(applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(applied, ", "))
	}
	writeBuffer(w, http.StatusOK, &b)
}

func (s *Server) writeEntity(b *bytes.Buffer, rec *msgRec, sel selection, o renderOpts) {
	writeWithContext(b, s.selectedContext("messages", sel, messageProps), func(w *jw) { s.writeMessage(w, rec, sel, o) })
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.graphError(w, r, http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
}

// messagePatch is what PATCH /messages/{id} accepts. Unknown properties are
// refused, as Graph refuses properties the type does not have.
type messagePatch struct {
	Categories *[]string `json:"categories"`
	IsRead     *bool     `json:"isRead"`
	Subject    *string   `json:"subject"`
	Body       *struct {
		ContentType string `json:"contentType"`
		Content     string `json:"content"`
	} `json:"body"`
	Importance *string `json:"importance"`
	// Props creates or updates single-value extended properties ("Create
	// single-value extended property": PATCH the existing item with
	// singleValueExtendedProperties).
	Props []extProp `json:"singleValueExtendedProperties"`
}

func (s *Server) patchMessage(w http.ResponseWriter, r *http.Request, q query, prefs []string, id string) {
	var p messagePatch
	if err := decodeBody(r, &p); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBodyRead", "Invalid request body: "+err.Error())
		return
	}
	sel, err := parseSelect(q["select"], messageProps, "microsoft.graph.message")
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBroker--ParseUri", err.Error())
		return
	}
	o, applied, err := readOpts(q, prefs)
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBroker--ParseUri", err.Error())
		return
	}
	if err := validProps(p.Props); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidProperty", err.Error())
		return
	}
	var b bytes.Buffer
	s.mu.Lock()
	rec, ok := s.msgs[id]
	if ok && !s.mayUpdate(w, r, id, rec.m.ChangeKey) {
		return
	}
	if ok {
		m := cloneMessage(rec.m)
		if (p.Subject != nil || p.Body != nil) && !m.IsDraft {
			s.mu.Unlock()
			// Docs: subject and body are updatable only while isDraft is true.
			s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidPropertyUpdateSentMessage", "Update operation is invalid for property of a sent message.")
			return
		}
		if p.Categories != nil {
			m.Categories = append([]string{}, (*p.Categories)...)
		}
		if p.IsRead != nil {
			m.IsRead = *p.IsRead
		}
		if p.Subject != nil {
			m.Subject = *p.Subject
		}
		if p.Body != nil {
			m.Body, m.BodyType = p.Body.Content, strings.ToLower(p.Body.ContentType)
		}
		for _, x := range p.Props {
			if old, ok := messageProp(m.ExtendedProperties, x.ID); ok {
				delete(m.ExtendedProperties, old.ID)
			}
			if m.ExtendedProperties == nil {
				m.ExtendedProperties = map[string]string{}
			}
			m.ExtendedProperties[x.ID] = x.Value
		}
		s.touchLocked(rec, m)
		s.writeEntity(&b, rec, sel, o)
	}
	s.mu.Unlock()
	if !ok {
		s.notFound(w, r)
		return
	}
	if len(applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(applied, ", "))
	}
	writeBuffer(w, http.StatusOK, &b)
}

func (s *Server) serveAttachments(w http.ResponseWriter, r *http.Request, q query, id string) {
	sel, err := parseSelect(q["select"], attachmentProps, "microsoft.graph.attachment")
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBroker--ParseUri", err.Error())
		return
	}
	var b bytes.Buffer
	s.mu.Lock()
	rec, ok := s.msgs[id]
	if ok {
		jw := newJW(&b)
		jw.beginObject()
		jw.str("@odata.context", s.url+"/v1.0/$metadata#users('"+s.user.ID+"')/messages('"+id+"')/attachments")
		jw.arrayField("value")
		for i := range rec.m.Attachments {
			s.writeAttachment(jw, rec, i, sel)
		}
		jw.endArrayField()
		jw.endObject()
	}
	s.mu.Unlock()
	if !ok {
		s.notFound(w, r)
		return
	}
	writeBuffer(w, http.StatusOK, &b)
}

var userProps = []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}

func (s *Server) serveMe(w http.ResponseWriter, r *http.Request, q query) {
	sel, err := parseSelect(q["select"], userProps, "microsoft.graph.user")
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "Request_BadRequest", err.Error())
		return
	}
	s.mu.Lock()
	u := s.user
	s.mu.Unlock()
	var b bytes.Buffer
	jw := newJW(&b)
	jw.beginObject()
	ctx := s.URL() + "/v1.0/$metadata#users/$entity"
	if sel != nil {
		var ps []string
		for _, p := range userProps {
			if sel[p] {
				ps = append(ps, p)
			}
		}
		ctx = s.URL() + "/v1.0/$metadata#users(" + strings.Join(ps, ",") + ")/$entity"
	}
	jw.str("@odata.context", ctx)
	for _, p := range userProps {
		if p != "id" && !sel.has(p) {
			continue
		}
		switch p {
		case "businessPhones":
			jw.strings(p, []string{})
		case "displayName":
			jw.strOrNull(p, u.DisplayName)
		case "givenName":
			jw.strOrNull(p, u.GivenName)
		case "jobTitle":
			jw.strOrNull(p, u.JobTitle)
		case "mail":
			jw.strOrNull(p, u.Mail)
		case "surname":
			jw.strOrNull(p, u.Surname)
		case "userPrincipalName":
			jw.str(p, u.UserPrincipalName)
		case "preferredLanguage":
			jw.str(p, "en-US")
		case "id":
			jw.str(p, u.ID)
		default:
			jw.null(p)
		}
	}
	jw.endObject()
	writeBuffer(w, http.StatusOK, &b)
}

func (s *Server) writeFolder(jw *jw, f *folder) {
	jw.beginObject()
	jw.str("id", f.ID)
	jw.str("displayName", f.DisplayName)
	jw.str("parentFolderId", f.ParentFolderID)
	jw.integer("childFolderCount", 0)
	jw.integer("unreadItemCount", int64(f.unread))
	jw.integer("totalItemCount", int64(f.total))
	jw.boolean("isHidden", false)
	jw.endObject()
}

func (s *Server) serveFolder(w http.ResponseWriter, r *http.Request, q query, id string) {
	var b bytes.Buffer
	s.mu.Lock()
	f := s.folderLocked(id)
	if f != nil {
		writeWithContext(&b, s.entityContext("mailFolders"), func(w *jw) { s.writeFolder(w, f) })
	}
	s.mu.Unlock()
	if f == nil {
		s.notFound(w, r)
		return
	}
	writeBuffer(w, http.StatusOK, &b)
}

// serveFolders lists the top-level folders, 10 per page by default, $top up
// to 1000, with a $skip nextLink (NOTES 24, 25).
func (s *Server) serveFolders(w http.ResponseWriter, r *http.Request, q query) {
	top, skip, ok := s.paging(w, r, q)
	if !ok {
		return
	}
	var b bytes.Buffer
	s.mu.Lock()
	next := func(skip int) string {
		return s.url + "/v1.0/me/mailFolders?%24top=" + strconv.Itoa(top) + "&%24skip=" + strconv.Itoa(skip)
	}
	writeListPage(&b, s.userContext("mailFolders"), s.order, skip, top, next, s.writeFolder)
	s.mu.Unlock()
	writeBuffer(w, http.StatusOK, &b)
}

func (s *Server) serveCategories(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	s.mu.Lock()
	jw := newJW(&b)
	jw.beginObject()
	jw.str("@odata.context", s.url+"/v1.0/$metadata#users('"+s.user.ID+"')/outlook/masterCategories")
	jw.arrayField("value")
	for _, c := range s.cats {
		writeCategory(jw, c)
	}
	jw.endArrayField()
	jw.endObject()
	s.mu.Unlock()
	writeBuffer(w, http.StatusOK, &b)
}

func writeCategory(jw *jw, c Category) {
	jw.beginObject()
	jw.str("id", c.ID)
	jw.str("displayName", c.DisplayName)
	jw.str("color", c.Color)
	jw.endObject()
}

var presetColors = func() map[string]bool {
	m := map[string]bool{"none": true}
	for i := 0; i <= 24; i++ {
		m["preset"+strconv.Itoa(i)] = true
	}
	return m
}()

func (s *Server) postCategory(w http.ResponseWriter, r *http.Request) {
	var c struct {
		DisplayName string `json:"displayName"`
		Color       string `json:"color"`
	}
	if err := decodeBody(r, &c); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBodyRead", "Invalid request body: "+err.Error())
		return
	}
	if strings.TrimSpace(c.DisplayName) == "" {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidParameter", "The displayName of a category cannot be empty.")
		return
	}
	if c.Color != "" && !presetColors[strings.ToLower(c.Color)] {
		s.graphError(w, r, http.StatusBadRequest, "RequestBodyRead", fmt.Sprintf("Requested value '%s' was not found.", c.Color))
		return
	}
	created, ok := s.AddCategory(Category{DisplayName: c.DisplayName, Color: c.Color})
	if !ok {
		s.graphError(w, r, http.StatusConflict, "ErrorDuplicateDisplayName", "A category with the same display name already exists.")
		return
	}
	var b bytes.Buffer
	jw := newJW(&b)
	jw.beginObject()
	jw.str("@odata.context", s.URL()+"/v1.0/$metadata#users('"+s.user.ID+"')/outlook/masterCategories/$entity")
	jw.str("id", created.ID)
	jw.str("displayName", created.DisplayName)
	jw.str("color", created.Color)
	jw.endObject()
	writeBuffer(w, http.StatusCreated, &b)
}

// decodeBody reads a JSON request body into v. Instance annotations
// ("@odata.type", which the SDK's models always send) are accepted as Graph
// accepts them; unknown properties are refused, as Graph refuses properties
// the type does not have. gzip-encoded bodies are accepted.
func decodeBody(r *http.Request, v any) error {
	var body io.Reader = io.LimitReader(r.Body, 4<<20)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return err
		}
		defer zr.Close()
		body = io.LimitReader(zr, 4<<20)
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	stripAnnotations(m)
	if err := exactNames(reflect.TypeOf(v), m); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(mustJSON(m)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// exactNames refuses a property whose name matches a known one only when
// case is ignored ("Subject" for "subject"), at every level. Graph's
// property names are case-sensitive on the wire; Go's JSON decoding is
// not, so without this the simulator would take what Graph refuses
// ("The property 'Subject' does not exist on type 'microsoft.graph.event'").
func exactNames(t reflect.Type, m map[string]json.RawMessage) error {
	fields := jsonFields(t)
	if fields == nil {
		return nil
	}
	for k, raw := range m {
		ft, ok := fields[k]
		if !ok {
			for name := range fields {
				if strings.EqualFold(name, k) {
					return fmt.Errorf("the property '%s' does not exist on this type: property names are case-sensitive ('%s')", k, name)
				}
			}
			continue // DisallowUnknownFields answers for an unknown one
		}
		var obj map[string]json.RawMessage
		var arr []map[string]json.RawMessage
		switch {
		case json.Unmarshal(raw, &obj) == nil:
			if err := exactNames(ft, obj); err != nil {
				return err
			}
		case json.Unmarshal(raw, &arr) == nil:
			for _, o := range arr {
				if err := exactNames(ft, o); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// jsonFields maps the JSON names of a struct type's fields to their types,
// looking through pointers, slices and the simulator's opt wrapper; nil
// for anything else (a map, a raw message: no names to check).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice) {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	if strings.HasPrefix(t.Name(), "opt[") {
		if f, ok := t.FieldByName("v"); ok {
			return jsonFields(f.Type)
		}
	}
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// stripAnnotations removes instance annotations ("@odata.type") at every
// level: the SDK's models may put them on nested objects too.
func stripAnnotations(m map[string]json.RawMessage) {
	for k, v := range m {
		if strings.Contains(k, "@") {
			delete(m, k)
			continue
		}
		if t := bytes.TrimSpace(v); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
			m[k] = stripValue(t)
		}
	}
}

func stripValue(v json.RawMessage) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) == nil {
		stripAnnotations(obj)
		return mustJSON(obj)
	}
	var arr []json.RawMessage
	if json.Unmarshal(v, &arr) == nil {
		for i, x := range arr {
			if t := bytes.TrimSpace(x); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
				arr[i] = stripValue(t)
			}
		}
		return mustJSON(arr)
	}
	return v
}

// contactItem answers GET, PATCH and DELETE of one contact.
func (s *Server) contactItem(w http.ResponseWriter, r *http.Request, q query, folderID, id string) {
	switch r.Method {
	case http.MethodGet:
		s.serveContact(w, r, q, folderID, id)
	case http.MethodPatch:
		s.patchContact(w, r, folderID, id)
	case http.MethodDelete:
		s.deleteContact(w, r, folderID, id)
	default:
		s.graphError(w, r, http.StatusMethodNotAllowed, "Request_BadRequest", "The simulator does not serve this request.")
	}
}

// deleteCategory answers DELETE /me/outlook/masterCategories/{id}: 204, or
// 404 for an unknown id. Items keep the category name, as in Outlook.
func (s *Server) deleteCategory(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	n := len(s.cats)
	s.cats = slices.DeleteFunc(s.cats, func(c Category) bool { return c.ID == id })
	found := len(s.cats) < n
	s.mu.Unlock()
	if !found {
		s.notFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
