package admin

import (
	"regexp"
	"strings"
)

// What the agents hub may hold. Every employee reads the hub (docs/admin.md,
// "Who reads what"), so a record carries states, counts and times, and its
// last error is a category and a short reason from a fixed vocabulary:
// nothing of the failure's own text (which can name a message's subject, a
// contact's address or a server's answer) reaches it.

// The categories of a last error.
const (
	CategorySignIn       = "sign-in"      // a sign-in was refused: the employee signs in again
	CategoryNeedsIT      = "needs IT"     // refused for a reason only IT can fix
	CategoryVantagepoint = "vantagepoint" // the Vantagepoint API failed
	CategoryMailbox      = "mailbox"      // Microsoft 365 failed
	CategoryDelete       = "delete"       // the administrator's Delete or Force Delete
	CategoryOther        = "error"
)

// httpStatus finds the status of an API error as the clients write it
// ("Vantagepoint GET /activity: 503 Service Unavailable", Graph's
// "… (HTTP 500)", "… status 429"), in the lower-cased failure.
var httpStatus = regexp.MustCompile(`(?:: |status |code |http )([45][0-9][0-9])\b`)

// Summarize turns an agent's last failure into what its record says:
// "category: reason", at most about 80 characters, "" for none.
func Summarize(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	l := strings.ToLower(s)
	switch {
	case strings.HasPrefix(l, "force delete"):
		return CategoryDelete + ": Force Delete, the mailbox was not touched"
	case strings.HasPrefix(l, "the administrator's delete failed"):
		return CategoryDelete + ": the administrator's Delete failed, " + reason(l)
	case strings.HasPrefix(l, "sign-in needed"):
		return CategorySignIn + ": " + signInReason(l)
	case strings.HasPrefix(l, "needs it"):
		return CategoryNeedsIT + ": " + needsITReason(l)
	case strings.Contains(l, "vantagepoint"):
		return CategoryVantagepoint + ": " + reason(l)
	case strings.Contains(l, "graph") || strings.Contains(l, "microsoft") || strings.Contains(l, "mailbox") ||
		strings.Contains(l, "exchange") || strings.Contains(l, "login.microsoftonline"):
		return CategoryMailbox + ": " + reason(l)
	}
	return CategoryOther + ": " + reason(l)
}

// reason is the short reason of a lower-cased failure.
func reason(l string) string {
	code := ""
	if m := httpStatus.FindStringSubmatch(l); m != nil {
		code = m[1]
	}
	r := "failed"
	switch {
	case strings.Contains(l, "deadline exceeded") || strings.Contains(l, "timeout") || strings.Contains(l, "timed out"):
		r = "timed out"
	case strings.Contains(l, "connection refused") || strings.Contains(l, "no such host") || strings.Contains(l, "unreachable") ||
		strings.Contains(l, "dial tcp") || strings.Contains(l, "connection reset"):
		r = "unreachable"
	case code == "429" || strings.Contains(l, "too many requests") || strings.Contains(l, "throttl"):
		r = "throttled"
	case strings.HasPrefix(code, "5") || strings.Contains(l, "unavailable"):
		r = "unavailable"
	case code == "401" || code == "403" || strings.Contains(l, "rejected") || strings.Contains(l, "forbidden"):
		r = "refused the credentials or the role's rights"
	case code == "404" || strings.Contains(l, "not found"):
		r = "not found"
	case strings.HasPrefix(code, "4") || strings.Contains(l, "invalid"):
		r = "refused a request"
	case strings.Contains(l, "malformed") || strings.Contains(l, "unexpected"):
		r = "unexpected answer"
	}
	if code != "" {
		r += " (HTTP " + code + ")"
	}
	return r
}

func signInReason(l string) string {
	switch {
	case strings.Contains(l, "expired") || strings.Contains(l, "revoked"):
		return "the sign-in expired or was revoked"
	case strings.Contains(l, "password"):
		return "the password was refused"
	case strings.Contains(l, "disabled"):
		return "the login is disabled"
	case strings.Contains(l, "app registration"):
		return "the app registration was refused"
	}
	return "the sign-in was refused"
}

func needsITReason(l string) string {
	switch {
	case strings.Contains(l, "not enabled for microsoft graph"):
		return "the mailbox is not enabled for Microsoft Graph"
	case strings.Contains(l, "refuses the app access"):
		return "Exchange Online refuses the app access to the mailbox"
	case strings.Contains(l, "app registration"):
		return "the app registration was refused"
	case strings.Contains(l, "password"):
		return "the password sign-in was refused"
	}
	return "refused; see the agent's status on the computer"
}
