// Package btpaudit is the client of the SAP BTP Audit Log retrieval API (service auditlog-management,
// `GET <url>/auditlog/v2/auditlogrecords`), where Cloud Foundry CPI tenants write their audit events.
//
// What this client relies on (SAP BTP documentation, "Audit Log Retrieval API Usage for Subaccounts in
// the Cloud Foundry Environment"): OAuth2 client credentials from the service key's uaa section; query
// parameters time_from and time_to as UTC "YYYY-MM-DDTHH:MM:SS" without a zone; pages of at most 500
// records; a `Paging: handle=<opaque>` response header while more pages exist, sent back unchanged as the
// `handle` parameter; 204 when there is nothing; records whose `message` is a JSON object or a JSON string
// holding one; records appear with an ingestion delay.
package btpaudit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// Group is the retrieval API for the rate limiter (SAP: 4–8 requests per second per token) and hints.
var Group = httpapi.Group{
	Name:          "btp_audit_log",
	ForbiddenHint: "the auditlog-management service key may not read this subaccount's audit logs (check the instance's plan and that the key belongs to this subaccount)",
	NotFoundHint:  "the Audit Log retrieval API was not found: the endpoint must be the service key's url, e.g. https://auditlog-management.cfapps.<region>.hana.ondemand.com",
}

// ServiceKey is the JSON of an auditlog-management service key.
type ServiceKey struct {
	URL string      `json:"url"`
	UAA httpapi.UAA `json:"uaa"`
}

// ReadServiceKey reads and checks a service key; errors name fields, never values.
func ReadServiceKey(path string) (*ServiceKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading audit log service key: %w", err)
	}
	var k ServiceKey
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("audit log service key %s is not valid JSON", path)
	}
	var missing []string
	if k.URL == "" {
		missing = append(missing, "url")
	}
	missing = append(missing, k.UAA.Missing()...)
	if len(missing) > 0 {
		return nil, fmt.Errorf("audit log service key %s lacks %s; it must be a key of an auditlog-management instance", path, strings.Join(missing, ", "))
	}
	return &k, nil
}

// BaseURL is the retrieval API's base URL of the key (url).
func (k *ServiceKey) BaseURL() string { return k.URL }

// Credentials derives the token endpoint and client credentials from the key's uaa section.
func (k *ServiceKey) Credentials() (httpapi.OAuth2Credentials, error) {
	creds, err := k.UAA.Credentials()
	if err != nil {
		return creds, fmt.Errorf("audit log service key: %w", err)
	}
	return creds, nil
}

// Client reads one subaccount's audit log.
type Client struct {
	records string
	api     *httpapi.Client
}

// NewClient returns a client for the API base URL (the service key's url).
func NewClient(endpoint string, s httpapi.Settings) (*Client, error) {
	u, err := httpapi.ParseBaseURL("audit log endpoint", endpoint, "https://auditlog-management.cfapps.eu10.hana.ondemand.com")
	if err != nil {
		return nil, err
	}
	api, err := httpapi.NewClient(s)
	if err != nil {
		return nil, err
	}
	return &Client{records: strings.TrimRight(u.String(), "/") + "/auditlog/v2/auditlogrecords", api: api}, nil
}

// TimeLayout is the retrieval API's time parameter form: UTC, no zone suffix.
const TimeLayout = "2006-01-02T15:04:05"

// Record is one audit record.
type Record struct {
	MessageUUID    string          `json:"message_uuid"`
	Time           string          `json:"time"`
	Tenant         string          `json:"tenant"`
	OrgID          string          `json:"org_id"`
	SpaceID        string          `json:"space_id"`
	AppOrServiceID string          `json:"app_or_service_id"`
	User           string          `json:"user"`
	Category       string          `json:"category"`
	Message        json.RawMessage `json:"message"`
}

// Page reads the records with from ≤ time < to; handle continues a previous page. It returns the
// handle of the next page, or "" after the last.
func (c *Client) Page(ctx context.Context, from, to time.Time, handle string, categories []string) ([]Record, string, error) {
	q := url.Values{}
	q.Set("time_from", from.UTC().Format(TimeLayout))
	q.Set("time_to", to.UTC().Format(TimeLayout))
	if handle != "" {
		q.Set("handle", handle)
	}
	if len(categories) > 0 {
		q.Set("category", strings.Join(categories, ","))
	}
	var recs []Record
	var next string
	req := httpapi.Request{URL: c.records + "?" + q.Encode(), Accept: "application/json"}
	err := c.api.Do(ctx, Group, "fetching BTP audit log records", req, func(body io.Reader, resp *http.Response) error {
		recs, next = nil, pagingHandle(resp.Header.Get("Paging"))
		if resp.StatusCode == http.StatusNoContent {
			return nil
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			return httpapi.WrapJSON(err)
		}
		if len(strings.TrimSpace(string(raw))) == 0 {
			return nil
		}
		if err := json.Unmarshal(raw, &recs); err != nil {
			return fmt.Errorf("audit log records: %w", httpapi.WrapJSON(err))
		}
		return nil
	})
	return recs, next, err
}

func pagingHandle(h string) string {
	h = strings.TrimSpace(h)
	if v, ok := strings.CutPrefix(h, "handle="); ok {
		return v
	}
	return h
}

// Event is a record read into the fields the receiver maps.
type Event struct {
	UUID, User, Category, IP     string
	Time                         time.Time
	Action, ObjectType, ObjectID string
	Success                      *bool
	Changes                      []string
}

// message is the inner document, whether it arrived as an object or as a JSON string.
type message struct {
	UUID     string          `json:"uuid"`
	User     string          `json:"user"`
	Time     string          `json:"time"`
	IP       string          `json:"ip"`
	Category string          `json:"category"`
	Data     json.RawMessage `json:"data"`
	Object   *struct {
		Type string          `json:"type"`
		ID   json.RawMessage `json:"id"`
	} `json:"object"`
	Attributes []struct {
		Name string `json:"name"`
		Old  string `json:"old"`
		New  string `json:"new"`
	} `json:"attributes"`
	Success *bool `json:"success"`
}

// cpiData is the compact JSON CPI writes into security events' data.
type cpiData struct {
	Action            string `json:"action"`
	ObjectType        string `json:"objectType"`
	ObjectID          string `json:"objectId"`
	ChangedAttributes map[string]struct {
		OldValue any `json:"oldValue"`
		NewValue any `json:"newValue"`
	} `json:"changedAttributes"`
}

// pgpForm matches the non-JSON {action=…, objType=…} form some CPI subsystems write.
var pgpForm = regexp.MustCompile(`(\w+)=("[^"]*"|[^,}]*)`)

// Parse reads a record; a message it cannot read keeps the record with what the envelope says.
func (r Record) Parse() Event {
	e := Event{UUID: r.MessageUUID, User: r.User, Category: r.Category}
	if t, err := time.Parse(time.RFC3339Nano, r.Time); err == nil {
		e.Time = t.UTC()
	} else if t, err := time.Parse(TimeLayout, r.Time); err == nil {
		e.Time = t.UTC()
	}
	var m message
	raw := []byte(r.Message)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = []byte(s) // the message is a JSON document in a string
	}
	if json.Unmarshal(raw, &m) != nil {
		return e
	}
	if e.User == "" {
		e.User = m.User
	}
	e.IP, e.Success = m.IP, m.Success
	if m.Object != nil {
		e.ObjectType, e.ObjectID = m.Object.Type, strings.Trim(string(m.Object.ID), `"`)
	}
	for _, a := range m.Attributes {
		e.Changes = append(e.Changes, a.Name+": "+a.Old+" → "+a.New)
	}
	e.readData(m.Data)
	return e
}

func (e *Event) readData(raw json.RawMessage) {
	if len(raw) == 0 {
		return
	}
	text := string(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		text = s
	}
	var d cpiData
	if json.Unmarshal([]byte(text), &d) == nil && d.Action != "" {
		e.Action, e.ObjectType, e.ObjectID = d.Action, d.ObjectType, d.ObjectID
		names := make([]string, 0, len(d.ChangedAttributes))
		for n := range d.ChangedAttributes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c := d.ChangedAttributes[n]
			e.Changes = append(e.Changes, fmt.Sprintf("%s: %v → %v", n, c.OldValue, c.NewValue))
		}
		return
	}
	fields := map[string]string{}
	for _, m := range pgpForm.FindAllStringSubmatch(text, -1) {
		fields[m[1]] = strings.Trim(strings.TrimSpace(m[2]), `"`)
	}
	if fields["action"] != "" {
		e.Action, e.ObjectType, e.ObjectID = fields["action"], fields["objType"], fields["objName"]
	}
}
