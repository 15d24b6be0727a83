package mapping

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
)

// Event names of the inventory.
const (
	EventRuntimeArtifact    = "sap.cpi.runtime_artifact"
	EventServiceEndpoint    = "sap.cpi.service_endpoint"
	EventKeystoreEntry      = "sap.cpi.keystore_entry"
	EventIntegrationPackage = "sap.cpi.integration_package"
	EventJMSBroker          = "sap.cpi.jms_broker"
	EventInventory          = "sap.cpi.inventory"
	// ChangedSuffix turns an object's event name into its change event's name.
	ChangedSuffix = ".changed"
)

// Attribute names of inventory records.
const (
	AttrChangeType   = "sap.cpi.change.type"
	AttrChangeFields = "sap.cpi.change.fields"

	AttrArtifactID                = "sap.cpi.artifact.id"
	AttrArtifactName              = "sap.cpi.artifact.name"
	AttrArtifactType              = "sap.cpi.artifact.type"
	AttrArtifactVersion           = "sap.cpi.artifact.version"
	AttrArtifactStatus            = "sap.cpi.artifact.status"
	AttrArtifactDeployedBy        = "sap.cpi.artifact.deployed_by"
	AttrArtifactDeployedOn        = "sap.cpi.artifact.deployed_on"
	AttrArtifactErrorText         = "sap.cpi.artifact.error_text"
	AttrArtifactDesigntimeVersion = "sap.cpi.artifact.designtime_version"
	AttrArtifactVersionDrift      = "sap.cpi.artifact.version_drift"

	AttrEndpointID          = "sap.cpi.endpoint.id"
	AttrEndpointProtocol    = "sap.cpi.endpoint.protocol"
	AttrEndpointTitle       = "sap.cpi.endpoint.title"
	AttrEndpointURLs        = "sap.cpi.endpoint.urls"
	AttrEndpointTypes       = "sap.cpi.endpoint.entry_point_types"
	AttrEndpointAPIDefs     = "sap.cpi.endpoint.api_definitions"
	AttrEndpointActive      = "sap.cpi.endpoint.active"
	AttrEndpointLastUpdated = "sap.cpi.endpoint.last_updated"
	AttrEndpointProtocols   = "sap.cpi.endpoint.protocols"

	AttrKeystoreName       = "sap.cpi.keystore.name"
	AttrKeystoreAlias      = "sap.cpi.keystore.alias"
	AttrKeystoreEntryType  = "sap.cpi.keystore.entry_type"
	AttrKeystoreOwner      = "sap.cpi.keystore.owner"
	AttrKeystoreKeyType    = "sap.cpi.keystore.key_type"
	AttrKeystoreKeySize    = "sap.cpi.keystore.key_size"
	AttrKeystoreNotBefore  = "sap.cpi.keystore.valid_not_before"
	AttrKeystoreNotAfter   = "sap.cpi.keystore.valid_not_after"
	AttrKeystoreSubject    = "sap.cpi.keystore.subject_dn"
	AttrKeystoreIssuer     = "sap.cpi.keystore.issuer_dn"
	AttrKeystoreSerial     = "sap.cpi.keystore.serial_number"
	AttrKeystoreSigAlg     = "sap.cpi.keystore.signature_algorithm"
	AttrKeystoreSHA1       = "sap.cpi.keystore.fingerprint_sha1"
	AttrKeystoreSHA256     = "sap.cpi.keystore.fingerprint_sha256"
	AttrKeystoreModifiedBy = "sap.cpi.keystore.last_modified_by"
	AttrKeystoreModifiedAt = "sap.cpi.keystore.last_modified_time"

	AttrPackageVersion         = "sap.cpi.package.version"
	AttrPackageVendor          = "sap.cpi.package.vendor"
	AttrPackageMode            = "sap.cpi.package.mode"
	AttrPackageCreatedBy       = "sap.cpi.package.created_by"
	AttrPackageCreatedAt       = "sap.cpi.package.created_at"
	AttrPackageModifiedBy      = "sap.cpi.package.modified_by"
	AttrPackageModifiedAt      = "sap.cpi.package.modified_at"
	AttrPackageArtifacts       = "sap.cpi.package.artifacts"
	AttrPackageUpdateAvailable = "sap.cpi.package.update_available"

	AttrJMSBroker         = "sap.cpi.jms.broker"
	AttrJMSCapacityUsed   = "sap.cpi.jms.capacity_used"
	AttrJMSCapacityLimit  = "sap.cpi.jms.capacity_limit"
	AttrJMSQueuesUsed     = "sap.cpi.jms.queues_used"
	AttrJMSQueuesLimit    = "sap.cpi.jms.queues_limit"
	AttrJMSQueuesWarning  = "sap.cpi.jms.queues_warning"
	AttrJMSQueuesCritical = "sap.cpi.jms.queues_critical"
	AttrJMSHighFlags      = "sap.cpi.jms.high_flags"
)

// Field is one attribute of an inventory object.
type Field struct {
	Key   string
	Value any // string, int64, bool or []string
}

// Object is one inventory object: what identifies it goes on the resource, the rest on the record.
type Object struct {
	Event    string
	Key      string
	Resource []Field
	Attrs    []Field
	Body     string
	Severity plog.SeverityNumber
	// Volatile lists attributes left out of change detection (figures that move on every poll).
	Volatile map[string]bool
}

// Compare is the object's identity and compared attributes as strings, for change detection.
func (o Object) Compare() map[string]string {
	out := make(map[string]string, len(o.Resource)+len(o.Attrs))
	for _, f := range o.Resource {
		out[f.Key] = valueString(f.Value)
	}
	for _, f := range o.Attrs {
		if !o.Volatile[f.Key] {
			out[f.Key] = valueString(f.Value)
		}
	}
	return out
}

// ResourceStrings is the identity as strings, kept to describe the object once it is deleted.
func (o Object) ResourceStrings() map[string]string {
	out := make(map[string]string, len(o.Resource))
	for _, f := range o.Resource {
		out[f.Key] = valueString(f.Value)
	}
	return out
}

func valueString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return strings.Join(x, "\n")
	default:
		return fmt.Sprint(x)
	}
}

// Change is a created, updated or deleted object; for updates, the attributes that changed.
type Change struct {
	Type    string // created, updated, deleted
	Object  Object
	Changed []string
}

// Diff compares the previous state (key → compared strings) with the current objects.
func Diff(prev map[string]map[string]string, prevResource map[string]map[string]string, prevEvent map[string]string, current []Object) []Change {
	var out []Change
	seen := make(map[string]bool, len(current))
	for _, o := range current {
		seen[o.Key] = true
		old, ok := prev[o.Key]
		if !ok {
			out = append(out, Change{Type: "created", Object: o})
			continue
		}
		now := o.Compare()
		var changed []string
		for k, v := range now {
			if old[k] != v {
				changed = append(changed, k)
			}
		}
		for k := range old {
			if _, still := now[k]; !still {
				changed = append(changed, k)
			}
		}
		if len(changed) > 0 {
			sort.Strings(changed)
			out = append(out, Change{Type: "updated", Object: o, Changed: changed})
		}
	}
	var gone []string
	for k := range prev {
		if !seen[k] {
			gone = append(gone, k)
		}
	}
	sort.Strings(gone)
	for _, k := range gone {
		o := Object{Event: prevEvent[k], Key: k, Severity: plog.SeverityNumberWarn}
		for rk, rv := range prevResource[k] {
			o.Resource = append(o.Resource, Field{rk, rv})
		}
		sort.Slice(o.Resource, func(i, j int) bool { return o.Resource[i].Key < o.Resource[j].Key })
		out = append(out, Change{Type: "deleted", Object: o})
	}
	return out
}

// Inventory maps a snapshot (every object) and changes to log records, one resource per object.
func (m *Mapper) Inventory(snapshot []Object, changes []Change, observed time.Time) plog.Logs {
	logs := plog.NewLogs()
	ts := pcommon.NewTimestampFromTime(observed)
	for _, o := range snapshot {
		lr, ok := m.objectRecord(logs, o, o.Event)
		if !ok {
			continue
		}
		lr.SetTimestamp(ts)
		lr.SetObservedTimestamp(ts)
		lr.Body().SetStr(o.Body)
	}
	for _, c := range changes {
		lr, ok := m.objectRecord(logs, c.Object, c.Object.Event+ChangedSuffix)
		if !ok {
			continue
		}
		lr.SetTimestamp(ts)
		lr.SetObservedTimestamp(ts)
		lr.Attributes().PutStr(AttrChangeType, c.Type)
		if len(c.Changed) > 0 {
			putSlice(lr.Attributes(), AttrChangeFields, c.Changed)
		}
		if c.Type == "deleted" {
			lr.SetSeverityNumber(plog.SeverityNumberWarn)
			lr.SetSeverityText("WARN")
		}
		lr.Body().SetStr(changeBody(c))
	}
	return logs
}

// objectRecord appends the record of one object under its own resource, unless its event is switched
// off or its resource filtered out.
func (m *Mapper) objectRecord(logs plog.Logs, o Object, event string) (plog.LogRecord, bool) {
	if !m.Enabled(event) {
		return plog.LogRecord{}, false
	}
	sl, ok := m.appendScope(logs, o.Resource...)
	if !ok {
		return plog.LogRecord{}, false
	}
	lr := sl.LogRecords().AppendEmpty()
	lr.SetEventName(event)
	for _, f := range o.Attrs {
		putValue(lr.Attributes(), f)
	}
	sev := o.Severity
	if sev == plog.SeverityNumberUnspecified {
		sev = plog.SeverityNumberInfo
	}
	lr.SetSeverityNumber(sev)
	lr.SetSeverityText(severityText(sev))
	return lr, true
}

func severityText(s plog.SeverityNumber) string {
	switch {
	case s >= plog.SeverityNumberError:
		return "ERROR"
	case s >= plog.SeverityNumberWarn:
		return "WARN"
	}
	return "INFO"
}

func putValue(attrs pcommon.Map, f Field) {
	switch v := f.Value.(type) {
	case string:
		if v != "" {
			attrs.PutStr(f.Key, v)
		}
	case int64:
		attrs.PutInt(f.Key, v)
	case bool:
		attrs.PutBool(f.Key, v)
	case float64:
		attrs.PutDouble(f.Key, v)
	case []string:
		putSlice(attrs, f.Key, v)
	}
}

func putSlice(attrs pcommon.Map, key string, values []string) {
	s := attrs.PutEmptySlice(key)
	s.EnsureCapacity(len(values))
	for _, v := range values {
		s.AppendEmpty().SetStr(v)
	}
}

func changeBody(c Change) string {
	name := strings.TrimPrefix(c.Object.Event, "sap.cpi.")
	id := c.Object.Key
	switch c.Type {
	case "updated":
		return fmt.Sprintf("%s %s updated: %s", strings.ReplaceAll(name, "_", " "), id, strings.Join(c.Changed, ", "))
	default:
		return fmt.Sprintf("%s %s %s", strings.ReplaceAll(name, "_", " "), id, c.Type)
	}
}

func stamp(t cpi.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// RuntimeArtifactObject describes a deployed artifact; errorText is the ErrorInformation of one in ERROR.
func RuntimeArtifactObject(a cpi.IntegrationRuntimeArtifact, errorText string) Object {
	o := Object{
		Event: EventRuntimeArtifact, Key: a.Id,
		Resource: []Field{{AttrArtifactID, a.Id}, {AttrArtifactName, a.Name}, {AttrArtifactType, a.Type}, {AttrArtifactVersion, a.Version}},
		Attrs: []Field{{AttrArtifactStatus, a.Status}, {AttrArtifactDeployedBy, a.DeployedBy}, {AttrArtifactDeployedOn, stamp(a.DeployedOn)},
			{AttrArtifactErrorText, errorText}},
		Body: fmt.Sprintf("%s %s (%s) is %s", a.Type, a.Id, a.Version, a.Status),
	}
	if a.Status == "ERROR" {
		o.Severity = plog.SeverityNumberError
		if errorText != "" {
			o.Body += ": " + firstLine(errorText)
		}
	}
	return o
}

// ServiceEndpointObject describes an endpoint; active tells whether its flow is deployed and STARTED.
func ServiceEndpointObject(e cpi.ServiceEndpoint, active bool) Object {
	var urls, types, defs []string
	for _, p := range e.EntryPoints {
		urls = append(urls, p.Url)
		types = append(types, p.Type)
	}
	for _, d := range e.ApiDefinitions {
		defs = append(defs, d.Name+" "+d.Url)
	}
	return Object{
		Event: EventServiceEndpoint, Key: e.Id,
		Resource: []Field{{AttrEndpointID, e.Id}, {AttrIFlowID, e.Name}, {AttrEndpointProtocol, e.Protocol}},
		Attrs: []Field{{AttrEndpointTitle, e.Title}, {AttrArtifactVersion, e.Version}, {AttrEndpointURLs, urls}, {AttrEndpointTypes, types},
			{AttrEndpointAPIDefs, defs}, {AttrEndpointActive, active}, {AttrEndpointLastUpdated, stamp(e.LastUpdated)}},
		Body: fmt.Sprintf("%s endpoint of %s: %s", e.Protocol, e.Name, strings.Join(urls, ", ")),
	}
}

// KeystoreEntryObject describes a keystore entry; its severity warns within warnWithin of expiry.
func KeystoreEntryObject(keystore string, k cpi.KeystoreEntry, now time.Time, warnWithin time.Duration) Object {
	o := Object{
		Event: EventKeystoreEntry, Key: keystore + "/" + k.Alias,
		Resource: []Field{{AttrKeystoreName, keystore}, {AttrKeystoreAlias, k.Alias}},
		Attrs: []Field{{AttrKeystoreEntryType, k.Type}, {AttrKeystoreOwner, k.Owner}, {AttrKeystoreKeyType, k.KeyType},
			{AttrKeystoreKeySize, int64(k.KeySize)}, {AttrKeystoreNotBefore, stamp(k.ValidNotBefore)}, {AttrKeystoreNotAfter, stamp(k.ValidNotAfter)},
			{AttrKeystoreSubject, k.SubjectDN}, {AttrKeystoreIssuer, k.IssuerDN}, {AttrKeystoreSerial, k.SerialNumber},
			{AttrKeystoreSigAlg, k.SignatureAlgorithm}, {AttrKeystoreSHA1, k.FingerprintSha1}, {AttrKeystoreSHA256, k.FingerprintSha256},
			{AttrKeystoreModifiedBy, k.LastModifiedBy}, {AttrKeystoreModifiedAt, stamp(k.LastModifiedTime)}},
	}
	left := k.ValidNotAfter.Sub(now)
	switch {
	case k.ValidNotAfter.IsZero():
		o.Body = fmt.Sprintf("%s %s in keystore %s", k.Type, k.Alias, keystore)
	case left <= 0:
		o.Severity = plog.SeverityNumberError
		o.Body = fmt.Sprintf("%s %s in keystore %s expired on %s", k.Type, k.Alias, keystore, k.ValidNotAfter.Format("2006-01-02"))
	default:
		if left <= warnWithin {
			o.Severity = plog.SeverityNumberWarn
		}
		o.Body = fmt.Sprintf("%s %s in keystore %s expires on %s (in %d days)", k.Type, k.Alias, keystore, k.ValidNotAfter.Format("2006-01-02"), int(left.Hours()/24))
	}
	return o
}

// IntegrationPackageObject describes a package with the ids of its iFlows.
func IntegrationPackageObject(p cpi.IntegrationPackage, artifacts []string) Object {
	return Object{
		Event: EventIntegrationPackage, Key: p.Id,
		Resource: []Field{{AttrPackageID, p.Id}, {AttrPackageName, p.Name}, {AttrPackageVersion, p.Version}},
		Attrs: []Field{{AttrPackageVendor, p.Vendor}, {AttrPackageMode, p.Mode}, {AttrPackageCreatedBy, p.CreatedBy},
			{AttrPackageCreatedAt, stamp(p.CreationDate)}, {AttrPackageModifiedBy, p.ModifiedBy}, {AttrPackageModifiedAt, stamp(p.ModifiedDate)},
			{AttrPackageArtifacts, artifacts}, {AttrPackageUpdateAvailable, bool(p.UpdateAvailable)}},
		Body: fmt.Sprintf("package %s (%s) with %d integration flows", p.Name, p.Version, len(artifacts)),
	}
}

// JMSBrokerObject describes the broker; capacity figures are volatile, queue states and flags are not.
func JMSBrokerObject(b cpi.JmsBroker) Object {
	var warn, crit, flags []string
	for _, q := range b.QueueStates {
		switch q.State {
		case 1:
			warn = append(warn, q.Name)
		case 2:
			crit = append(crit, q.Name)
		}
	}
	for name, v := range map[string]cpi.Int64{"transacted_sessions": b.IsTransactedSessionsHigh, "consumers": b.IsConsumersHigh,
		"producers": b.IsProducersHigh, "queues": b.IsQueuesHigh, "message_spool": b.IsMessageSpoolHigh} {
		if v != 0 {
			flags = append(flags, name)
		}
	}
	sort.Strings(flags)
	o := Object{
		Event: EventJMSBroker, Key: b.Key,
		Resource: []Field{{AttrJMSBroker, b.Key}},
		Attrs: []Field{{AttrJMSCapacityUsed, int64(b.Capacity)}, {AttrJMSCapacityLimit, int64(b.MaxCapacity)},
			{AttrJMSQueuesUsed, int64(b.QueueNumber)}, {AttrJMSQueuesLimit, int64(b.MaxQueueNumber)},
			{AttrJMSQueuesWarning, warn}, {AttrJMSQueuesCritical, crit}, {AttrJMSHighFlags, flags}},
		Volatile: map[string]bool{AttrJMSCapacityUsed: true, AttrJMSQueuesUsed: true},
		Body:     fmt.Sprintf("JMS broker %s: %s of %s used, %d of %d queues", b.Key, bytesText(int64(b.Capacity)), bytesText(int64(b.MaxCapacity)), b.QueueNumber, b.MaxQueueNumber),
	}
	if len(crit) > 0 || len(flags) > 0 {
		o.Severity = plog.SeverityNumberWarn
	}
	return o
}

func bytesText(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<30), 'f', 2, 64) + " GiB"
}

// InventoryRow is one deployed artifact joined with its package, design-time version and endpoints.
type InventoryRow struct {
	Artifact          cpi.IntegrationRuntimeArtifact
	PackageID         string
	PackageName       string
	DesigntimeVersion string
	EndpointURLs      []string
	Protocols         []string
}

// InventoryObject is the consolidated view of one deployed artifact.
func InventoryObject(r InventoryRow) Object {
	a := r.Artifact
	drift := r.DesigntimeVersion != "" && r.DesigntimeVersion != "active" && r.DesigntimeVersion != a.Version
	o := Object{
		Event: EventInventory, Key: a.Id,
		Resource: []Field{{AttrArtifactID, a.Id}, {AttrArtifactName, a.Name}, {AttrArtifactType, a.Type}, {AttrArtifactVersion, a.Version}},
		Attrs: []Field{{AttrArtifactStatus, a.Status}, {AttrPackageID, r.PackageID}, {AttrPackageName, r.PackageName},
			{AttrArtifactDesigntimeVersion, r.DesigntimeVersion}, {AttrArtifactVersionDrift, drift},
			{AttrEndpointURLs, r.EndpointURLs}, {AttrEndpointProtocols, r.Protocols}, {AttrArtifactDeployedOn, stamp(a.DeployedOn)}},
		Body: fmt.Sprintf("%s %s %s deployed (%s)", a.Type, a.Id, a.Version, a.Status),
	}
	if drift {
		o.Body += fmt.Sprintf("; design time has version %s", r.DesigntimeVersion)
	}
	if a.Status == "ERROR" {
		o.Severity = plog.SeverityNumberError
	}
	return o
}
