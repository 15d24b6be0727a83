package cpi

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// MessageProcessingLog is an entry of the MessageProcessingLogs entity set. Field names mirror the
// tenant's $metadata (com.sap.hci.api.MessageProcessingLog).
type MessageProcessingLog struct {
	MessageGuid                      string
	CorrelationId                    string
	ApplicationMessageId             string
	ApplicationMessageType           string
	LogStart                         Time
	LogEnd                           Time
	Sender                           string
	Receiver                         string
	IntegrationFlowName              string
	Status                           string
	AlternateWebLink                 string
	IntegrationArtifact              IntegrationArtifact
	LogLevel                         string
	CustomStatus                     string
	ArchivingStatus                  string
	ArchivingSenderChannelMessages   Bool
	ArchivingReceiverChannelMessages Bool
	ArchivingLogAttachments          Bool
	ArchivingPersistedMessages       Bool
	TransactionId                    string
	PreviousComponentName            string
	LocalComponentName               string
	OriginComponentName              string
	CustomHeaderProperties           CustomHeaderProperties
}

// IntegrationArtifact is the complex type naming the artifact (iFlow) and package of an MPL.
type IntegrationArtifact struct {
	Id          string
	Name        string
	Type        string
	PackageId   string
	PackageName string
}

// CustomHeaderProperty is one MessageProcessingLogCustomHeaderProperty; names may repeat.
type CustomHeaderProperty struct {
	Name  string
	Value string
}

// CustomHeaderProperties is the CustomHeaderProperties navigation: expanded when custom headers are
// asked for, a deferred stub (read as empty) otherwise.
type CustomHeaderProperties = Expanded[CustomHeaderProperty]

// MessageStatus values, as the API spells them.
const (
	StatusCompleted  = "COMPLETED"
	StatusProcessing = "PROCESSING"
	StatusRetry      = "RETRY"
	StatusEscalated  = "ESCALATED"
	StatusFailed     = "FAILED"
	StatusCancelled  = "CANCELLED"
	StatusDiscarded  = "DISCARDED"
	StatusAbandoned  = "ABANDONED"
)

// KnownStatuses lists every documented MPL status.
var KnownStatuses = []string{StatusCompleted, StatusProcessing, StatusRetry, StatusEscalated, StatusFailed, StatusCancelled, StatusDiscarded, StatusAbandoned}

// IsFinal tells whether an MPL in this status no longer changes. CANCELLED is listed as final even
// though a still-running message can overwrite it; the poller sees that as a new state anyway.
func IsFinal(status string) bool {
	switch status {
	case StatusCompleted, StatusFailed, StatusDiscarded, StatusCancelled:
		return true
	}
	return false
}

// mplSelect is every scalar the receiver maps; $select keeps pages small and the tenant's work low.
var mplSelect = strings.Join([]string{
	"MessageGuid", "CorrelationId", "ApplicationMessageId", "ApplicationMessageType", "LogStart", "LogEnd",
	"Sender", "Receiver", "IntegrationFlowName", "Status", "AlternateWebLink", "IntegrationArtifact",
	"LogLevel", "CustomStatus", "ArchivingStatus", "TransactionId",
	"PreviousComponentName", "LocalComponentName", "OriginComponentName",
}, ",")

// MessageQuery selects a window of MPLs by LogEnd, oldest first.
type MessageQuery struct {
	// From is inclusive, Until exclusive.
	From, Until time.Time
	// IFlows and Statuses, when not empty, keep only these (server-side `eq` filters joined by `or`).
	IFlows, Statuses []string
	// ExcludeIFlows and ExcludeStatuses drop these (server-side `ne` filters).
	ExcludeIFlows, ExcludeStatuses []string
	Top, Skip                      int
	// CustomHeaders expands CustomHeaderProperties (off by default: they can carry personal data).
	CustomHeaders bool
}

// Filter renders the $filter expression.
func (q MessageQuery) Filter() string {
	parts := []string{"LogEnd ge " + FilterTime(q.From), "LogEnd lt " + FilterTime(q.Until)}
	parts = appendAny(parts, "IntegrationArtifact/Id", q.IFlows)
	parts = appendAny(parts, "Status", q.Statuses)
	for _, id := range q.ExcludeIFlows {
		parts = append(parts, "IntegrationArtifact/Id ne "+literal(id))
	}
	for _, s := range q.ExcludeStatuses {
		parts = append(parts, "Status ne "+literal(s))
	}
	return strings.Join(parts, " and ")
}

func appendAny(parts []string, field string, values []string) []string {
	if len(values) == 0 {
		return parts
	}
	ors := make([]string, len(values))
	for i, v := range values {
		ors[i] = field + " eq " + literal(v)
	}
	if len(ors) == 1 {
		return append(parts, ors[0])
	}
	return append(parts, "("+strings.Join(ors, " or ")+")")
}

// literal quotes an OData string literal; a quote inside is doubled.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Query renders the query options.
func (q MessageQuery) Query() Query {
	sel := mplSelect
	qq := Query{}.Add("$filter", q.Filter()).Add("$orderby", "LogEnd")
	if q.CustomHeaders {
		sel += ",CustomHeaderProperties"
		qq = qq.Add("$expand", "CustomHeaderProperties")
	}
	qq = qq.Add("$select", sel)
	if q.Top > 0 {
		qq = qq.Add("$top", strconv.Itoa(q.Top))
	}
	if q.Skip > 0 {
		qq = qq.Add("$skip", strconv.Itoa(q.Skip))
	}
	return qq
}

// MessageProcessingLogs reads one page of MPLs. It does not follow the next link: the poller pages by
// LogEnd itself, which stays correct while the tenant updates entries between two pages.
func (c *Client) MessageProcessingLogs(ctx context.Context, q MessageQuery) (Page[MessageProcessingLog], error) {
	return getPage(ctx, c, GroupMessages, "fetching MessageProcessingLogs", "MessageProcessingLogs", q.Query(), DecodeMessagePage)
}

// MessageErrorText reads MessageProcessingLogs('<guid>')/ErrorInformation/$value, the plain-text error of
// a failed message, capped at limit bytes.
func (c *Client) MessageErrorText(ctx context.Context, guid string, limit int) (string, bool, error) {
	path := "MessageProcessingLogs" + keyPredicate(keyPart{Value: guid}) + "/ErrorInformation/$value"
	return c.GetText(ctx, GroupMessages, "fetching ErrorInformation of message "+guid, path, limit)
}
