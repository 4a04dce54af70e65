package graph

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"golang.org/x/oauth2"

	"vpconnect/internal/fault"
	"vpconnect/syncer"
)

// wrap turns an SDK, transport or token error into one of the engine's
// sentinels, with what was being done and Graph's code for the log, marked
// as the mailbox's (internal/fault).
func wrap(op string, err error) error {
	return fault.OnSide(fault.Mailbox, sentinel(op, err))
}

func sentinel(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("graph: %s: %w", op, err)
	}
	var te *tokenError
	if errors.As(err, &te) {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "unauthorized_client" ||
			re.ErrorCode == "invalid_client" || re.ErrorCode == "interaction_required") {
			return fmt.Errorf("graph: %s: %w: %s", op, syncer.ErrAuthRejected, te.Error())
		}
		if errors.Is(err, syncer.ErrAuthRejected) {
			return fmt.Errorf("graph: %s: %w", op, err)
		}
		// A token endpoint that cannot be reached is a network problem, not a
		// rejection: the account must not be suspended for it.
		return fmt.Errorf("graph: %s: %w: %s", op, syncer.ErrUnavailable, te.Error())
	}
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		code, msg := "", ""
		if e := oe.GetErrorEscaped(); e != nil {
			if c := e.GetCode(); c != nil {
				code = *c
			}
			if m := e.GetMessage(); m != nil {
				msg = *m
			}
		}
		return statusError(op, oe.ResponseStatusCode, code, msg)
	}
	var ae *abs.ApiError
	if errors.As(err, &ae) {
		if ae.ResponseStatusCode >= 200 && ae.ResponseStatusCode < 300 {
			return fmt.Errorf("graph: %s: %w: %v", op, syncer.ErrMalformed, err)
		}
		return statusError(op, ae.ResponseStatusCode, "", ae.Message)
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return fmt.Errorf("graph: %s: %w: %v", op, syncer.ErrUnavailable, err)
	}
	// What is left comes from reading or decoding the body.
	return fmt.Errorf("graph: %s: %w: %v", op, syncer.ErrMalformed, err)
}

// conflictCode is Graph's error code, with 412 Precondition Failed, for an
// update whose If-Match is not the item's version any more: "The send or
// update operation could not be performed because the change key passed in
// the request does not match the current change key for the item."
// (microsoftgraph/msgraph-sdk-dotnet#1201, microsoft-graph-docs#2256).
// Either the status or the code makes it syncer.ErrConflict.
const conflictCode = "ErrorIrresolvableConflict"

// ifMatch is the If-Match value of an update based on the version
// changeKey: the item's @odata.etag, which Graph makes for Outlook items
// as the weak etag of the changeKey (W/"<changeKey>", as in the fixtures'
// message-get-response.json and event-create-response-singleinstance.json).
// "" for no changeKey: the update is then unconditional.
func ifMatch(changeKey string) string {
	if changeKey == "" {
		return ""
	}
	return `W/"` + changeKey + `"`
}

func statusError(op string, status int, code, msg string) error {
	detail := fmt.Sprintf("HTTP %d", status)
	if code != "" {
		detail += " " + code
	}
	if msg != "" {
		detail += ": " + msg
	}
	switch {
	case status == 404 && strings.EqualFold(code, "MailboxNotEnabledForRESTAPI"):
		// An on-premises mailbox, or one without an Exchange Online
		// license: Graph cannot reach it (Graph's "Known issues": REST
		// API not supported for on-premises or unlicensed mailboxes).
		return &syncer.MailboxRefusedError{Problem: "the mailbox is not enabled for Microsoft Graph (an on-premises Exchange mailbox, or one without an Exchange Online license)",
			Fix: "move the mailbox to Exchange Online, or assign the user an Exchange Online license", Err: fmt.Errorf("graph: %s: %s", op, detail)}
	case status == 403 && strings.EqualFold(code, "ErrorAccessDenied"):
		// Exchange itself refused the app, not the token: signing in
		// again cannot help. For a delegated app "Access to OData is
		// disabled." comes from the organization's or the mailbox's EWS
		// application access policy (EwsApplicationAccessPolicy,
		// EwsAllowList/EwsBlockList: office-js-docs-pr issue 2808,
		// microsoft-graph-docs issue 10103); a missing delegated
		// permission answers the same code.
		return &syncer.MailboxRefusedError{Problem: "Exchange Online refuses the app access to this mailbox",
			Fix: "have the Exchange administrator allow the app in the mailbox's and the organization's application access policies (EwsApplicationAccessPolicy, EwsAllowList or EwsBlockList in Get-CASMailbox and Get-OrganizationConfig), and check the app's delegated permissions in Entra ID",
			Err: fmt.Errorf("graph: %s: %s", op, detail)}
	}
	var sentinel error
	switch {
	case status == 410 || strings.EqualFold(code, "syncStateNotFound") || strings.EqualFold(code, "resyncRequired") ||
		strings.EqualFold(code, "syncStateInvalid"):
		sentinel = syncer.ErrResyncRequired
	case status == 401 || status == 403:
		sentinel = syncer.ErrAuthRejected
	case status == 404:
		sentinel = syncer.ErrNotFound
	case status == 412 || strings.EqualFold(code, conflictCode):
		sentinel = syncer.ErrConflict
	case status == 429 || status >= 500 || status == 408:
		sentinel = syncer.ErrUnavailable
	case status >= 400:
		sentinel = syncer.ErrInvalid
	default:
		sentinel = syncer.ErrMalformed
	}
	return fmt.Errorf("graph: %s: %w (%s)", op, sentinel, detail)
}
