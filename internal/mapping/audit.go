package mapping

import (
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/btpaudit"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

// EventAudit is the event.name of an audit record.
const EventAudit = "sap.cpi.audit"

// Attribute names of sap.cpi.audit records.
const (
	AttrAuditID         = "sap.cpi.audit.id"
	AttrAuditAction     = "sap.cpi.audit.action"
	AttrAuditUser       = "sap.cpi.audit.user"
	AttrAuditUserType   = "sap.cpi.audit.user_type"
	AttrAuditObjectType = "sap.cpi.audit.object.type"
	AttrAuditObjectID   = "sap.cpi.audit.object.id"
	AttrAuditSource     = "sap.cpi.audit.source"
	AttrAuditNodeType   = "sap.cpi.audit.node_type"
	AttrAuditCategory   = "sap.cpi.audit.category"
	AttrAuditOutcome    = "sap.cpi.audit.outcome"
	AttrAuditChanges    = "sap.cpi.audit.changes"
	AttrAuditOrigin     = "sap.cpi.audit.origin"
)

// AuditAttributes lists every attribute a sap.cpi.audit record can carry (metadata.yaml must agree).
var AuditAttributes = []string{AttrAuditID, AttrAuditAction, AttrAuditUser, AttrAuditUserType, AttrAuditObjectType, AttrAuditObjectID,
	AttrAuditSource, AttrAuditNodeType, AttrAuditCategory, AttrAuditOutcome, AttrAuditChanges, AttrAuditOrigin}

// Audit origins.
const (
	AuditOriginOData = "cpi_odata"     // /api/v1/AuditLogs (Neo)
	AuditOriginBTP   = "btp_audit_log" // BTP Audit Log retrieval API (Cloud Foundry)
)

// AuditEntry is an audit event from either source, in one shape.
type AuditEntry struct {
	ID, Action, User, UserType, ObjectType, ObjectID string
	Source, NodeType, Category, Outcome, Origin      string
	Time                                             time.Time
	// Changes are "<attribute>: <old> → <new>".
	Changes []string
}

// AuditFromOData normalises an AuditLogs entry. The entity has no outcome field: the action says it
// (e.g. "Deploy_Failed"), otherwise it is unknown.
func AuditFromOData(a cpi.AuditLog) AuditEntry {
	return AuditEntry{
		ID: a.ChangeId, Action: a.Action, User: a.UserName, UserType: a.UserType, ObjectType: a.ObjType, ObjectID: a.ObjName,
		Source: a.Source, NodeType: a.NodeType, Outcome: outcomeOf(a.Action, nil), Origin: AuditOriginOData, Time: a.Timestamp.Time,
	}
}

// AuditFromBTP normalises a BTP Audit Log record; its outcome is the message's success flag where
// there is one, else what the action says.
func AuditFromBTP(e btpaudit.Event) AuditEntry {
	return AuditEntry{
		ID: e.UUID, Action: e.Action, User: e.User, ObjectType: e.ObjectType, ObjectID: e.ObjectID, Source: e.IP,
		Category: e.Category, Outcome: outcomeOf(e.Action, e.Success), Origin: AuditOriginBTP, Time: e.Time, Changes: e.Changes,
	}
}

func outcomeOf(action string, success *bool) string {
	if success != nil {
		if *success {
			return "success"
		}
		return "failure"
	}
	a := strings.ToLower(action)
	switch {
	case strings.Contains(a, "fail") || strings.Contains(a, "error") || strings.Contains(a, "denied"):
		return "failure"
	case strings.Contains(a, "completed"):
		return "success"
	}
	return "unknown"
}

// Audit maps audit entries to records with event.name sap.cpi.audit; a failure is a warning.
func (m *Mapper) Audit(entries []AuditEntry, observed time.Time) plog.Logs {
	logs, sl, ok := m.eventScope(EventAudit, len(entries))
	if !ok {
		return logs
	}
	obs := pcommon.NewTimestampFromTime(observed)
	for _, e := range entries {
		lr := appendEvent(sl, EventAudit, pcommon.NewTimestampFromTime(e.Time), obs)
		if e.Outcome == "failure" {
			lr.SetSeverityNumber(plog.SeverityNumberWarn)
			lr.SetSeverityText("WARN")
		} else {
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
		}
		attrs := lr.Attributes()
		putStr(attrs, AttrAuditID, e.ID)
		putStr(attrs, AttrAuditAction, e.Action)
		putStr(attrs, AttrAuditUser, e.User)
		putStr(attrs, AttrAuditUserType, e.UserType)
		putStr(attrs, AttrAuditObjectType, e.ObjectType)
		putStr(attrs, AttrAuditObjectID, e.ObjectID)
		putStr(attrs, AttrAuditSource, e.Source)
		putStr(attrs, AttrAuditNodeType, e.NodeType)
		putStr(attrs, AttrAuditCategory, e.Category)
		putStr(attrs, AttrAuditOutcome, e.Outcome)
		putStr(attrs, AttrAuditOrigin, e.Origin)
		if len(e.Changes) > 0 {
			putSlice(attrs, AttrAuditChanges, e.Changes)
		}
		body := strings.TrimSpace(strings.Join([]string{e.User, e.Action, e.ObjectType, e.ObjectID}, " "))
		if e.Outcome == "failure" {
			body += " (failed)"
		}
		lr.Body().SetStr(body)
	}
	return logs
}
