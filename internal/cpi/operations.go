package cpi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/httpapi"
)

// The API groups of the operational-state sources. A group's name is its client-side rate-limit bucket;
// its hints name the role a 403 means is missing and what a 404 means. Where SAP documents no rate-limit
// group for an API, it shares the bucket of its neighbours with its own role hint.
var (
	// GroupDataStores covers DataStores, their Entries and the JMS Queues: one role reads all of them.
	GroupDataStores = group("data_stores", "DataStoresAndQueuesRead")
	// GroupNumberRanges has a rate limit of its own (SAP: 10/s per tenant, 5/s per user).
	GroupNumberRanges = group("number_ranges", "MonitoringDataRead")
	// GroupExternalLogging reads the health of SAP's own MPL push (Cloud Foundry only).
	GroupExternalLogging = httpapi.Group{Name: "external_logging", ForbiddenHint: fmt.Sprintf(roleHint, "ExternalLoggingActivationRead"),
		NotFoundHint: "External Logging exists on Cloud Foundry tenants only; " + notOnTenant}
	// GroupResourceUsage is the Inspect API. SAP documents it for the Inspect UI only; kangoolutions reads
	// it with MonitoringDataRead, which is what the hint names.
	GroupResourceUsage = httpapi.Group{Name: GroupMonitoring.Name, ForbiddenHint: GroupMonitoring.ForbiddenHint,
		NotFoundHint: "the tenant does not offer /api/v1/resourceusage (SAP documents it for the Inspect UI only, not as a public API): " + notOnTenant}
	// GroupArchiving reads ArchivingKeyPerformanceIndicators. The role is inferred: SAP documents
	// DataArchivingRead for the archiving configuration only, and the KPIs read with MonitoringDataRead.
	GroupArchiving = GroupMonitoring
	// GroupAccessPolicies belongs to the Security Content API package of the API hub, hence its bucket.
	GroupAccessPolicies = httpapi.Group{Name: GroupSecurityContent.Name, ForbiddenHint: fmt.Sprintf(roleHint, "AccessPoliciesRead"), NotFoundHint: notOnTenant}
	// GroupCertificateUserMappings is Neo only. The Neo role is inferred from the keystore's
	// (IntegrationOperationServer.read); a Cloud Foundry tenant answers 404.
	GroupCertificateUserMappings = httpapi.Group{Name: GroupSecurityContent.Name,
		ForbiddenHint: fmt.Sprintf(roleHint, "IntegrationOperationServer.read (Neo)"),
		NotFoundHint:  "CertificateUserMappings exist on Neo tenants only; " + notOnTenant}
)

// DataStore is a data store (com.sap.hci.api.DataStore); Type is "" for global and flow-local stores
// and an adapter or step type (XI, AS4, …) otherwise.
type DataStore struct {
	DataStoreName           string
	IntegrationFlow         string
	Type                    string
	Visibility              string // Global or Integration Flow
	NumberOfMessages        Int64
	NumberOfOverdueMessages Int64
}

// DataStoreEntry is one entry of a data store (com.sap.hci.api.DataStoreEntry). The API hub's spec
// spells MessageId "Messageid"; encoding/json matches member names case-insensitively, so both decode.
type DataStoreEntry struct {
	Id              string
	DataStoreName   string
	IntegrationFlow string
	Type            string
	Status          string // Waiting or Overdue
	MessageId       string
	DueAt           Time
	CreatedAt       Time
	RetainUntil     Time
}

// DataStores lists the tenant's data stores; overdueOnly asks for those with overdue entries only
// (SAP's own "overdueonly" parameter). SAP supports no $-option on this set, so none is sent.
func (c *Client) DataStores(ctx context.Context, overdueOnly bool) ([]DataStore, error) {
	var q Query
	if overdueOnly {
		q = q.Add("overdueonly", "true")
	}
	return listAll[DataStore](ctx, c, GroupDataStores, "fetching DataStores", "DataStores", q)
}

// DataStoreEntries lists the entries of one data store, without $-options (SAP supports none here).
func (c *Client) DataStoreEntries(ctx context.Context, store DataStore) ([]DataStoreEntry, error) {
	path := "DataStores" + keyPredicate(keyPart{"DataStoreName", store.DataStoreName}, keyPart{"IntegrationFlow", store.IntegrationFlow}, keyPart{"Type", store.Type}) + "/Entries"
	op := fmt.Sprintf("fetching the Entries of data store %s (flow %q, type %q)", store.DataStoreName, store.IntegrationFlow, store.Type)
	return listAll[DataStoreEntry](ctx, c, GroupDataStores, op, path, nil)
}

// NumberRange is a number range object (com.sap.hci.api.NumberRange). Every figure is an Edm.String on
// the wire and is kept as sent: interpreting them (and skipping garbage) is the mapping's job.
type NumberRange struct {
	Name         string
	Description  string
	MinValue     string
	MaxValue     string
	CurrentValue string
	Rotate       string // "true" or "false"
	FieldLength  string
	DeployedBy   string
	DeployedOn   Time
}

// NumberRanges lists every number range.
func (c *Client) NumberRanges(ctx context.Context) ([]NumberRange, error) {
	return listAll[NumberRange](ctx, c, GroupNumberRanges, "fetching NumberRanges", "NumberRanges", nil)
}

// The resource types of the resource-usage API, as the Inspect UI asks for them.
const (
	ResourceDBTableSize        = "mon-db-table-size"
	ResourceDataStoreUsage     = "datastore-usage"
	ResourceDBConnectionUsage  = "db-connection-usage"
	ResourceMessageSizeMax     = "message-size-max-bytes"
	ResourceMessageStatusCount = "mpl-status-all"
)

// ResourceUsageTypes lists every resource type the receiver knows.
var ResourceUsageTypes = []string{ResourceDBTableSize, ResourceDataStoreUsage, ResourceDBConnectionUsage, ResourceMessageSizeMax, ResourceMessageStatusCount}

// ResourceUsage is the answer of /api/v1/resourceusage for one type and window.
//
// SAP documents this API for the Inspect UI only. What is assumed: the answer is a plain JSON object
// (not an OData envelope) with "resource-usage", an array of {"context", "value"}, and "total-available";
// values may be numbers or numeric strings, and either may be null or absent (Valid false); "context"
// names what a value is about (a table, a status, …) and may be a string or a number. No per-item time
// is assumed: the caller asks for one hour at a time and the window's start is the bucket.
type ResourceUsage struct {
	Type           string               `json:"-"`
	From, To       time.Time            `json:"-"`
	Usage          []ResourceUsageValue `json:"resource-usage"`
	TotalAvailable Double               `json:"total-available"`
}

// ResourceUsageValue is one figure of a resource-usage answer.
type ResourceUsageValue struct {
	Context string
	Value   Double
}

// UnmarshalJSON accepts a string or a number as the context.
func (v *ResourceUsageValue) UnmarshalJSON(b []byte) error {
	var raw struct {
		Context json.RawMessage `json:"context"`
		Value   Double          `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	ctxText, err := rawText(raw.Context)
	if err != nil {
		return err
	}
	*v = ResourceUsageValue{Context: ctxText, Value: raw.Value}
	return nil
}

// isoZ is the instant format the Inspect UI sends: UTC with milliseconds and a Z.
const isoZ = "2006-01-02T15:04:05.000Z"

// ResourceUsage reads hourly usage of one resource type for [from, to). The answer is not OData, so it
// is decoded here; an answer without "resource-usage" is reported as malformed, because it means the
// API's shape differs from what is assumed.
func (c *Client) ResourceUsage(ctx context.Context, typ string, from, to time.Time) (ResourceUsage, error) {
	q := Query{}.Add("type", typ).Add("time", "hourly").Add("from", from.UTC().Format(isoZ)).Add("to", to.UTC().Format(isoZ))
	op := "fetching resourceusage of type " + typ
	var out ResourceUsage
	err := c.api.Do(ctx, GroupResourceUsage, op, httpapi.Request{URL: c.url("resourceusage", q), Accept: "application/json"}, func(body io.Reader, _ *http.Response) error {
		var doc struct {
			Usage          *[]ResourceUsageValue `json:"resource-usage"`
			TotalAvailable Double                `json:"total-available"`
		}
		if err := json.NewDecoder(body).Decode(&doc); err != nil {
			return httpapi.WrapJSON(err)
		}
		if doc.Usage == nil {
			return fmt.Errorf("%w: no \"resource-usage\" member", httpapi.ErrMalformed)
		}
		out = ResourceUsage{Usage: *doc.Usage, TotalAvailable: doc.TotalAvailable}
		return nil
	})
	out.Type, out.From, out.To = typ, from.UTC(), to.UTC()
	return out, err
}

// ArchivingKeyPerformanceIndicators is one archiving run (com.sap.hci.api.ArchivingKeyPerformanceIndicators),
// keyed by RunStart. The counts and durations are Edm.Int32; Int64 reads them whether sent as numbers
// or strings.
type ArchivingKeyPerformanceIndicators struct {
	RunStart                            Time
	RunDurationInMinutes                Int64
	DataCollectionDurationInMinutes     Int64
	DataCompressionDurationInMinutes    Int64
	DataUploadDurationInMinutes         Int64
	MplsToBeArchived                    Int64
	MplsArchived                        Int64
	MplsArchivingFailed                 Int64
	MplsArchivedUntilDate               Time
	DateOfOldestMplToBeArchivedAfterRun Time
	DataUploadedInMb                    Int64
	RunStatus                           string
	RunFailedPhase                      string
}

// ArchivingRuns lists the archiving runs the tenant keeps. No query option is sent: SAP documents none
// for this set, and the runs are few (one a day at most).
func (c *Client) ArchivingRuns(ctx context.Context) ([]ArchivingKeyPerformanceIndicators, error) {
	return listAll[ArchivingKeyPerformanceIndicators](ctx, c, GroupArchiving, "fetching ArchivingKeyPerformanceIndicators", "ArchivingKeyPerformanceIndicators", nil)
}

// ExternalLoggingActivationStatus tells whether SAP's External Logging push is active.
type ExternalLoggingActivationStatus struct {
	Id     string
	Active Bool
}

// ExternalLoggingActivation reads ExternalLoggingActivationStatus('x'): the tenant is taken from the
// token, so any key works.
func (c *Client) ExternalLoggingActivation(ctx context.Context) (ExternalLoggingActivationStatus, error) {
	var s ExternalLoggingActivationStatus
	err := c.getEntity(ctx, GroupExternalLogging, "fetching ExternalLoggingActivationStatus", "ExternalLoggingActivationStatus"+keyPredicate(keyPart{Value: "x"}), nil, &s)
	return s, err
}

// ExternalLoggingEvent is an event of the External Logging push (activated, deactivated, a send error,
// sending resumed), keyed by Timestamp. SAP documents neither EventType's nor EventObject's values.
type ExternalLoggingEvent struct {
	Timestamp             EpochMillis
	EventType             string
	EventObject           string
	HasError              Bool
	StatusText            string
	StatusChangedAtMillis EpochMillis
	AverageLoadSec        Double
	AverageLagSec         Double
	AverageAvailability   Double
}

// ExternalLoggingEvents lists the events of the last 14 days (all the tenant keeps).
func (c *Client) ExternalLoggingEvents(ctx context.Context) ([]ExternalLoggingEvent, error) {
	return listAll[ExternalLoggingEvent](ctx, c, GroupExternalLogging, "fetching ExternalLoggingEvents", "ExternalLoggingEvents", nil)
}

// Queue is a JMS queue (com.sap.hci.api.Queue). Every figure is an Edm.Int64; State follows QueueState
// (0 OK, 1 warning, 2 critical) and Active is 1 or 0. FillGrade is taken to be a percentage (inferred).
type Queue struct {
	Name       string
	NumbOfMsgs Int64
	Size       Int64
	Type       Int64
	State      Int64
	FillGrade  Int64
	Active     Int64
}

// Queues lists the JMS queues with their figures. Not every tenant offers the set: a 404 says so.
func (c *Client) Queues(ctx context.Context) ([]Queue, error) {
	return listAll[Queue](ctx, c, GroupDataStores, "fetching Queues", "Queues", nil)
}

// CertificateUserMapping maps a client certificate to a user (Neo only). The certificate itself is not
// selected: it is large, and only its expiry is monitored.
type CertificateUserMapping struct {
	Id         string
	User       string
	ValidUntil EpochMillis
}

// CertificateUserMappings lists the certificate-to-user mappings; a Cloud Foundry tenant answers 404.
func (c *Client) CertificateUserMappings(ctx context.Context) ([]CertificateUserMapping, error) {
	return listAll[CertificateUserMapping](ctx, c, GroupCertificateUserMappings, "fetching CertificateUserMappings", "CertificateUserMappings",
		Query{}.Add("$select", "Id,User,ValidUntil"))
}

// AccessPolicy is an access policy with the artifacts it protects (com.sap.hci.api.AccessPolicy).
type AccessPolicy struct {
	Id                 Int64
	RoleName           string
	Description        string
	ArtifactReferences Expanded[ArtifactReference]
}

// ArtifactReference is one artifact (or artifact pattern) an access policy protects.
type ArtifactReference struct {
	Id                 Int64
	Name               string
	Description        string
	Type               string
	ConditionAttribute string
	ConditionValue     string
	ConditionType      string
}

// AccessPolicies lists the access policies with their artifact references.
func (c *Client) AccessPolicies(ctx context.Context) ([]AccessPolicy, error) {
	return listAll[AccessPolicy](ctx, c, GroupAccessPolicies, "fetching AccessPolicies", "AccessPolicies", Query{}.Add("$expand", "ArtifactReferences"))
}
