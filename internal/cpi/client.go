package cpi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

const (
	notOnTenant = "not available on this tenant (Neo and Cloud Foundry offer different APIs), or the endpoint is not the tenant's API URL"
	roleHint    = "the service key's instance lacks role %s (Cloud Foundry: add it to the api-plan instance's roles; Neo: assign the matching role to the user or OAuth client)"
)

func group(name, role string) httpapi.Group {
	return httpapi.Group{Name: name, ForbiddenHint: fmt.Sprintf(roleHint, role), NotFoundHint: notOnTenant}
}

// The API groups of the CPI API: SAP documents a rate limit per group (requests per second per tenant
// and per user). Each names the role the default, read-only setup needs.
var (
	GroupMessages         = group("message_processing_logs", "MonitoringDataRead")
	GroupRuntimeArtifacts = group("runtime_artifacts", "MonitoringDataRead")
	GroupSecurityContent  = group("security_content", "MonitoringDataRead")
	GroupDesignTime       = group("design_time", "WorkspacePackagesRead")
	GroupMonitoring       = group("monitoring", "MonitoringDataRead")
	// GroupAudit needs the Neo role AuditLog.Read; Cloud Foundry tenants keep audit events in the BTP Audit Log service.
	GroupAudit = group("audit_logs", "AuditLog.Read (Neo)")
)

// Settings configure a Client.
type Settings struct {
	// ServiceRoot is the tenant URL; /api/v1 is appended unless present.
	ServiceRoot string
	httpapi.Settings
}

// Client calls one tenant's OData API. It is safe for concurrent use.
type Client struct {
	root *url.URL
	api  *httpapi.Client
}

// NewClient checks the settings and returns a Client.
func NewClient(s Settings) (*Client, error) {
	root, err := ServiceRoot(s.ServiceRoot)
	if err != nil {
		return nil, err
	}
	api, err := httpapi.NewClient(s.Settings)
	if err != nil {
		return nil, err
	}
	return &Client{root: root, api: api}, nil
}

// ServiceRoot normalises a tenant URL to its OData service root: `/api/v1` is appended unless the path
// already ends with it, and a trailing slash is kept so that relative next links resolve inside it.
func ServiceRoot(endpoint string) (*url.URL, error) {
	u, err := httpapi.ParseBaseURL("endpoint", endpoint, "https://<tenant>.it-cpi018.cfapps.eu10.hana.ondemand.com")
	if err != nil {
		return nil, err
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/api/v1") {
		p += "/api/v1"
	}
	u.Path = p + "/"
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u, nil
}

// Root returns the service root, without a trailing slash.
func (c *Client) Root() string { return strings.TrimRight(c.root.String(), "/") }

// resolve turns a next link into an absolute URL on the tenant's host. A link to another host is
// refused: the client would send its credentials there.
func (c *Client) resolve(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("bad next link %q: %w", link, err)
	}
	abs := c.root.ResolveReference(u)
	if !strings.EqualFold(abs.Hostname(), c.root.Hostname()) || effectivePort(abs) != effectivePort(c.root) {
		return "", fmt.Errorf("next link %q points away from the tenant %s", link, c.root.Host)
	}
	// Tenants write :443 explicitly in links; use the root's form so connections are reused.
	abs.Host = c.root.Host
	abs.Scheme = c.root.Scheme
	return abs.String(), nil
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "http" {
		return "80"
	}
	return "443"
}

// Query is an ordered list of OData query options.
type Query [][2]string

// Add appends an option.
func (q Query) Add(key, value string) Query { return append(q, [2]string{key, value}) }

// Encode writes the options with %20 for spaces, which every OData server reads; `$` stays literal.
func (q Query) Encode() string {
	var b strings.Builder
	for i, kv := range q {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(url.QueryEscape(kv[1]), "+", "%20"))
	}
	return b.String()
}

func (c *Client) url(path string, q Query) string {
	u := c.root.String() + strings.TrimLeft(path, "/")
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// GetPage reads one page of an entity set (path relative to the service root, or an absolute next link).
func GetPage[T any](ctx context.Context, c *Client, group httpapi.Group, op, pathOrLink string, q Query) (Page[T], error) {
	return getPage(ctx, c, group, op, pathOrLink, q, DecodePage[T])
}

// getPage is GetPage with the page decoder to use (MPLs have their own, see DecodeMessagePage).
func getPage[T any](ctx context.Context, c *Client, group httpapi.Group, op, pathOrLink string, q Query,
	decode func(io.Reader) (Page[T], error),
) (Page[T], error) {
	var rawURL string
	if strings.HasPrefix(pathOrLink, "http://") || strings.HasPrefix(pathOrLink, "https://") {
		var err error
		if rawURL, err = c.resolve(pathOrLink); err != nil {
			return Page[T]{}, &httpapi.Error{Op: op, Kind: httpapi.KindBadResponse, Detail: err.Error()}
		}
	} else {
		rawURL = c.url(pathOrLink, q)
	}
	var page Page[T]
	err := c.api.Do(ctx, group, op, httpapi.Request{URL: rawURL, Accept: "application/json"}, func(body io.Reader, _ *http.Response) error {
		var err error
		page, err = decode(body)
		return err
	})
	return page, err
}

// List reads every page of an entity set, following the server's next links (absolute or relative),
// and hands each page to fn. fn's error stops the listing and is returned.
func List[T any](ctx context.Context, c *Client, group httpapi.Group, op, path string, q Query, fn func(Page[T]) error) error {
	page, err := GetPage[T](ctx, c, group, op, path, q)
	for {
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
		next, rerr := c.resolve(page.Next)
		if rerr != nil {
			return &httpapi.Error{Op: op, Kind: httpapi.KindBadResponse, Detail: rerr.Error()}
		}
		page, err = GetPage[T](ctx, c, group, op, next, nil)
	}
}

// GetText reads a media value ($value) as text, at most limit bytes; truncated reports a longer value.
// A 204 or 404 (no such value) gives "" without an error.
func (c *Client) GetText(ctx context.Context, group httpapi.Group, op, path string, limit int) (text string, truncated bool, err error) {
	req := httpapi.Request{URL: c.url(path, nil), Accept: "text/plain, application/json;q=0.9, */*;q=0.8"}
	err = c.api.Do(ctx, group, op, req, func(body io.Reader, _ *http.Response) error {
		buf, rerr := io.ReadAll(io.LimitReader(body, int64(limit)+1))
		if rerr != nil {
			return fmt.Errorf("%w: %w", httpapi.ErrTruncated, rerr)
		}
		truncated = len(buf) > limit
		if truncated {
			buf = buf[:limit]
		}
		text = string(buf)
		return nil
	})
	if httpapi.KindOf(err) == httpapi.KindNotFound {
		return "", false, nil
	}
	return text, truncated, err
}

// getEntity reads a single-entity document {"d":{…}}.
func (c *Client) getEntity(ctx context.Context, group httpapi.Group, op, path string, q Query, v any) error {
	return c.api.Do(ctx, group, op, httpapi.Request{URL: c.url(path, q), Accept: "application/json"}, func(body io.Reader, _ *http.Response) error {
		return decodeEntity(body, v)
	})
}
