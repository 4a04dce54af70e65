package graphsim

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
)

// Exchange item ids come in several formats (NOTES 21, 22). The simulator's
// ids are immutable REST ids (restImmutableEntryId); Office.js hands the
// add-in EWS ids (standard base64) or REST ids. The simulator derives the
// other formats from the immutable one with a marker byte, so that
// translation round-trips and a mistranslated id is visibly different:
//
//	restImmutableEntryId = base64url(raw)
//	restId               = base64url(0xE5 + raw)
//	ewsId                = base64std(0xE5 + raw)

const mutableMarker = 0xE5

// RestID returns the (mutable) REST id form of an item's immutable id, as
// Office.js's convertToRestId would give it.
func RestID(immutableID string) string {
	raw, err := base64.URLEncoding.DecodeString(immutableID)
	if err != nil {
		return ""
	}
	return base64.URLEncoding.EncodeToString(append([]byte{mutableMarker}, raw...))
}

// EWSID returns the EWS id form of an item's immutable id, as Office.js's
// item.itemId gives it.
func EWSID(immutableID string) string {
	raw, err := base64.URLEncoding.DecodeString(immutableID)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(append([]byte{mutableMarker}, raw...))
}

// maxTranslate is the documented limit per call (NOTES 22).
const maxTranslate = 1000

// rawID decodes an id of the given format to the item's raw bytes.
func rawID(id, format string) ([]byte, bool) {
	var enc *base64.Encoding
	mutable := true
	switch strings.ToLower(format) {
	case "restimmutableentryid":
		enc, mutable = base64.URLEncoding, false
	case "restid":
		enc = base64.URLEncoding
	case "ewsid":
		enc = base64.StdEncoding
	default:
		return nil, false
	}
	raw, err := enc.DecodeString(id)
	if err != nil || len(raw) < 2 {
		return nil, false
	}
	if mutable {
		if raw[0] != mutableMarker {
			return nil, false
		}
		raw = raw[1:]
	}
	return raw, true
}

func formatID(raw []byte, format string) (string, bool) {
	switch strings.ToLower(format) {
	case "restimmutableentryid":
		return base64.URLEncoding.EncodeToString(raw), true
	case "restid":
		return base64.URLEncoding.EncodeToString(append([]byte{mutableMarker}, raw...)), true
	case "ewsid":
		return base64.StdEncoding.EncodeToString(append([]byte{mutableMarker}, raw...)), true
	}
	return "", false
}

var idFormats = map[string]bool{"entryid": true, "ewsid": true, "immutableentryid": true, "restid": true, "restimmutableentryid": true}

// translateExchangeIDs answers POST /me/translateExchangeIds
// (immutableid-translateexchangeids-*.json). An id that cannot be read in
// the source format gets errorDetails instead of a targetId, as Graph's
// convertIdResult allows. entryId and immutableEntryId (binary MAPI ids)
// are valid formats the simulator does not convert.
func (s *Server) translateExchangeIDs(w http.ResponseWriter, r *http.Request) {
	var in struct {
		InputIDs     []string `json:"inputIds"`
		TargetIDType string   `json:"targetIdType"`
		SourceIDType string   `json:"sourceIdType"`
	}
	if err := decodeBody(r, &in); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBodyRead", "Invalid request body: "+err.Error())
		return
	}
	if !idFormats[strings.ToLower(in.TargetIDType)] || !idFormats[strings.ToLower(in.SourceIDType)] {
		s.graphError(w, r, http.StatusBadRequest, "RequestBodyRead", "Requested value '"+in.SourceIDType+"' or '"+in.TargetIDType+"' was not found.")
		return
	}
	if len(in.InputIDs) == 0 || len(in.InputIDs) > maxTranslate {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidParameter", "inputIds must hold 1 to 1000 ids.")
		return
	}
	var b bytes.Buffer
	jw := newJW(&b)
	jw.beginObject()
	jw.str("@odata.context", s.URL()+"/v1.0/$metadata#Collection(microsoft.graph.convertIdResult)")
	jw.arrayField("value")
	for _, id := range in.InputIDs {
		jw.beginObject()
		raw, ok := rawID(id, in.SourceIDType)
		var target string
		if ok {
			target, ok = formatID(raw, in.TargetIDType)
		}
		if ok {
			jw.str("targetId", target)
			jw.str("sourceId", id)
		} else {
			jw.str("sourceId", id)
			jw.objectField("errorDetails")
			jw.str("code", "ErrorInvalidIdMalformed")
			jw.str("message", "Id is malformed.")
			jw.endObjectField()
		}
		jw.endObject()
	}
	jw.endArrayField()
	jw.endObject()
	writeBuffer(w, http.StatusOK, &b)
}
