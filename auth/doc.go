// Package auth signs the user in to Microsoft 365 and Vantagepoint and keeps
// the resulting refresh tokens in the operating system's keychain.
//
// # Microsoft 365
//
// vpconnect is a public native client (RFC 8252): [MicrosoftApp.SignIn]
// runs the authorization code flow with PKCE (S256) through the system
// browser and a loopback redirect on a free port, and falls back to the
// device-code flow when no browser can be opened. The redirect URI is
// http://localhost:<port>, as Microsoft's own libraries send it, for the
// http://localhost that IT registers under the portal's "Mobile and desktop
// applications" platform: Entra ID matches a loopback redirect URI by
// scheme, host and path and ignores the port, so any free port matches, but
// http://127.0.0.1 would not match a registered http://localhost
// (AADSTS50011). Entra sends the browser back to http://localhost:<port>/.
// The listener answers on 127.0.0.1 and ::1 only, wherever the browser
// resolves localhost.
//
// A refusal that only an administrator can fix (AADSTS50194 single-tenant
// app with the organizations authority, AADSTS7000218 public client flows
// off or a redirect URI under "Web", an unknown tenant or client id, a
// missing admin consent, invalid_scope, invalid_request…) is a
// [SignInRequiredError] whose Fix names the setting; it is final, as any
// rejection. Entra shows some of them (AADSTS50011, 50194, 700016, 90094)
// as a page in the browser that never comes back to the listener, so the
// browser sign-in reads that page first and ends at once with the fix.
// [MicrosoftApp.Check] asks for these without a user (the
// OpenID configuration, the sign-in page, a device code) and tells them
// apart from an unreachable platform; [MicrosoftApp.CheckRegistration] is
// its registration part.
//
// # Vantagepoint
//
// [VantagepointApp.SignIn] uses the token endpoint's password grant
// (database, Client_Id, client_secret from the configuration). The password
// is kept only when the administrator allows it ([VantagepointApp.KeepPassword]);
// the agent can then sign in again by itself when the refresh token is
// refused.
//
// # What is kept, and where
//
// Only what is needed to resume goes to the keychain, one [Record] per
// account: the refresh token and who signed in where. Access tokens stay in
// memory. A record longer than one keychain entry allows (Windows: 2,560
// bytes) is split over several entries; see [Store].
//
// A [TokenSource] serves access tokens for one account, refreshes them, and
// saves a rotated refresh token before it hands out the new access token. A
// lock file in the data dir and a re-read of the keychain before each refresh
// make two processes (the agent and a CLI command, say) refreshing at once
// safe: the second uses the refresh token the first saved.
//
// # Errors
//
// A definitive rejection (invalid_grant, a 401 after a refresh, a wrong
// password, a disabled login) is a [*SignInRequiredError]; it matches
// syncer.ErrAuthRejected, and the TokenSource keeps answering it without a
// network call until the user signs in again. Network failures, 5xx and 429
// are retried with a bounded backoff and then surface as
// syncer.ErrUnavailable. A keychain that cannot be used (no Secret Service,
// locked, no D-Bus session) is [ErrKeychainUnavailable].
package auth
