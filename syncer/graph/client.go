package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"golang.org/x/oauth2"

	"vpconnect/syncer"
)

// DefaultGraphURL is Microsoft Graph's v1.0 endpoint.
const DefaultGraphURL = "https://graph.microsoft.com/v1.0"

// DefaultPageSize is the message-delta page size asked for with
// Prefer: odata.maxpagesize. Graph documents no cap for message delta; 1000
// is the documented $top limit of message lists and what graphsim honours.
const DefaultPageSize = 1000

// DefaultMaxConcurrent is Outlook's limit of concurrent requests per app and
// mailbox (docs/behaviour.md §4.6).
const DefaultMaxConcurrent = 4

// Options configures a Client.
type Options struct {
	// GraphURL is the v1.0 base URL; DefaultGraphURL when "".
	GraphURL string
	// TokenSource yields access tokens for Graph (delegated, Mail.ReadWrite
	// and MailboxSettings.ReadWrite). Required.
	TokenSource oauth2.TokenSource
	// HTTPClient supplies the base transport (proxy, TLS); its Transport is
	// wrapped, never modified. http.DefaultTransport when nil.
	HTTPClient *http.Client
	// PageSize is the delta page size; DefaultPageSize when zero.
	PageSize int
	// MaxConcurrent bounds requests in flight; DefaultMaxConcurrent when zero.
	MaxConcurrent int
	// Logger receives retry and throttling notes; slog.Default() when nil.
	Logger *slog.Logger
	// AddinManifestID is the <Id> of the Outlook add-in whose custom
	// properties Message reads; syncer.AddinManifestID when "".
	AddinManifestID string
}

// Client is the Microsoft 365 side of the engine: syncer.Mailbox over
// Microsoft Graph, through msgraph-sdk-go's request adapter and models.
type Client struct {
	adapter  *core.GraphRequestAdapterBase
	base     string // GraphURL without a trailing slash
	pageSize int
	tr       *transport
	log      *slog.Logger
	addinID  string
}

var _ syncer.Mailbox = (*Client)(nil)

// New builds a Client. It sends nothing until a method is called.
func New(o Options) (*Client, error) {
	if o.TokenSource == nil {
		return nil, errors.New("graph: a TokenSource is required")
	}
	if o.GraphURL == "" {
		o.GraphURL = DefaultGraphURL
	}
	base, err := url.Parse(strings.TrimSuffix(o.GraphURL, "/"))
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, fmt.Errorf("graph: invalid Graph URL %q", o.GraphURL)
	}
	if base.Scheme == "http" && !isLoopback(base.Hostname()) {
		// A bearer token must not travel in clear text; plain http is for
		// the simulator on loopback only.
		return nil, fmt.Errorf("graph: refusing plain http for %q (only loopback may use http)", o.GraphURL)
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var parent http.RoundTripper = http.DefaultTransport
	if o.HTTPClient != nil && o.HTTPClient.Transport != nil {
		parent = o.HTTPClient.Transport
	}
	tr := newTransport(parent, o.MaxConcurrent, o.Logger)

	// Kiota's own retry handler gives up after 3 tries and 180 s; ours (in
	// transport, below the pipeline) keeps slowing down under sustained
	// throttling, so the kiota one is left out. Compression is left out as
	// well: the request bodies are tiny and not every Graph workload accepts
	// gzip request bodies.
	clientOptions := core.GraphClientOptions{GraphServiceLibraryVersion: "1.89.0"}
	middlewares := []khttp.Middleware{
		core.NewGraphTelemetryHandler(&clientOptions),
		khttp.NewRedirectHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		khttp.NewHeadersInspectionHandler(),
	}
	httpClient := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(tr, middlewares...)}
	if o.HTTPClient != nil {
		httpClient.Timeout = o.HTTPClient.Timeout
		httpClient.Jar = o.HTTPClient.Jar
	}
	// The redirect middleware follows redirects itself; net/http must not.
	httpClient.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	// docs/behaviour.md §11: the allowed-hosts validator compares host names without the
	// port; registering "127.0.0.1:PORT" silently sends no Authorization.
	auth := absauth.NewBaseBearerTokenAuthenticationProvider(&tokenProvider{
		ts:      o.TokenSource,
		allowed: absauth.NewAllowedHostsValidator([]string{base.Hostname()}),
	})
	parse := absser.NewParseNodeFactoryRegistry()
	parse.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonParseNodeFactory()
	write := absser.NewSerializationWriterFactoryRegistry()
	write.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonSerializationWriterFactory()
	adapter, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, clientOptions, parse, write, httpClient)
	if err != nil {
		return nil, fmt.Errorf("graph: building the request adapter: %w", err)
	}
	adapter.SetBaseUrl(base.String())
	if o.AddinManifestID == "" {
		o.AddinManifestID = syncer.AddinManifestID
	}
	return &Client{adapter: adapter, base: base.String(), pageSize: o.PageSize, tr: tr, log: o.Logger, addinID: o.AddinManifestID}, nil
}

// Requests is the number of HTTP requests sent so far, retries included.
func (c *Client) Requests() int64 { return c.tr.requests.Load() }

// tokenProvider is a kiota AccessTokenProvider over an x/oauth2 TokenSource.
type tokenProvider struct {
	ts      oauth2.TokenSource
	allowed absauth.AllowedHostsValidator
}

// GetAuthorizationToken returns a token only for the Graph host, so that a
// nextLink pointing elsewhere never receives the user's token.
func (p *tokenProvider) GetAuthorizationToken(ctx context.Context, u *url.URL, _ map[string]any) (string, error) {
	if !p.allowed.IsUrlHostValid(u) {
		return "", nil
	}
	if u.Scheme != "https" && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("graph: refusing to send a token over plain http to %s", u.Host)
	}
	tok, err := p.ts.Token()
	if err != nil {
		return "", &tokenError{err: err}
	}
	return tok.AccessToken, nil
}

// GetAllowedHostsValidator returns the hosts that receive the token.
func (p *tokenProvider) GetAllowedHostsValidator() *absauth.AllowedHostsValidator { return &p.allowed }

// tokenError marks a failure to obtain a token, so that error mapping can
// tell it from a Graph answer.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "getting an access token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
