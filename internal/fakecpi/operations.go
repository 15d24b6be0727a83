package fakecpi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The operational state of the simulated tenant, changing with the epochs of inventory.go:
//   - the data store PO_Retry_Store gains two overdue entries in epochs 2–4 of every eight, then clears;
//   - the number range PO_Number_Range creeps toward its maximum without rotation (past 90 % from the start);
//   - resource usage has hourly figures, the DB tables near 80 % of total-available;
//   - archiving ran daily before Start (the run two days before failed) and runs every other epoch since
//     (every fourth of those fails in part);
//   - External Logging (Cloud Foundry only) is active and fails to send in epochs 1–2 of every ten;
//   - the JMS queues fill; a CertificateUserMapping (Neo only) expires 10 days after Start and is renewed
//     from epoch 6; two access policies exist;
//   - some failed messages keep message-store entries and attachments (text and binary), see payloads.go.
//
// Every path can be denied (Options.ForbiddenPaths, matched with and without key predicates) or made
// absent (Options.AbsentPaths). Values SAP does not document (status words, event types, contexts) are
// this simulator's inventions and say nothing about real tenants.

// opsSets are the first path segments served here.
var opsSets = map[string]bool{
	"DataStores": true, "NumberRanges": true, "resourceusage": true, "ArchivingKeyPerformanceIndicators": true,
	"ExternalLoggingActivationStatus": true, "ExternalLoggingEvents": true, "Queues": true, "CertificateUserMappings": true,
	"AccessPolicies": true, "MessageStoreEntries": true, "MessageProcessingLogAttachments": true, "MessageProcessingLogs": true,
}

// operations serves the operational-state and payload paths; ok is false for any other path.
func (s *Server) operations(req *http.Request, path, base string, now time.Time) (int, []byte, string, bool) {
	ep, ok := parseEntityPath(path)
	if !ok || !opsSets[ep.set] {
		return 0, nil, "", false
	}
	if ep.set == "MessageProcessingLogs" && ep.rest != "MessageStoreEntries" && ep.rest != "Attachments" {
		return 0, nil, "", false
	}
	norm := ep.normalized()
	for _, p := range s.opts.ForbiddenPaths {
		if strings.HasPrefix(norm, p) {
			return jsonError(http.StatusForbidden, "Forbidden", "User does not have the required role for "+p)
		}
	}
	for _, p := range s.opts.AbsentPaths {
		if strings.HasPrefix(path, p) || strings.HasPrefix(norm, p) {
			return 0, nil, "", false
		}
	}
	q := req.URL.Query()
	e := s.epoch(now)
	switch {
	case ep.set == "DataStores":
		return s.serveDataStores(ep, q, e, now)
	case ep.set == "NumberRanges" && ep.plain():
		return collection(s.numberRanges(e))
	case ep.set == "resourceusage" && ep.plain():
		return s.resourceUsage(q, now)
	case ep.set == "ArchivingKeyPerformanceIndicators" && ep.plain():
		return collection(s.archivingRuns(now))
	case strings.HasPrefix(ep.set, "ExternalLogging"):
		if !s.opts.CloudFoundry {
			return 0, nil, "", false // External Logging exists on Cloud Foundry only
		}
		if ep.set == "ExternalLoggingEvents" && ep.plain() {
			return collection(s.externalLoggingEvents(now))
		}
		if ep.set == "ExternalLoggingActivationStatus" && len(ep.keys) == 1 && ep.rest == "" {
			raw, _ := json.Marshal(map[string]any{"d": map[string]any{"Id": ep.keys[""], "Active": true}})
			return http.StatusOK, raw, "application/json", true
		}
	case ep.set == "Queues" && ep.plain():
		return collection(s.queues(e))
	case ep.set == "CertificateUserMappings" && ep.plain():
		if s.opts.CloudFoundry {
			return 0, nil, "", false // Neo only
		}
		return collection(s.certificateUserMappings(e))
	case ep.set == "AccessPolicies" && ep.plain():
		return collection(accessPolicies(q.Get("$expand") == "ArtifactReferences"))
	default:
		return s.payloads(ep, base, now)
	}
	return 0, nil, "", false
}

// entityPath is a request path split at its key predicate: Set(<keys>)/rest.
type entityPath struct {
	set  string
	keys map[string]string // a single unnamed key is keys[""]
	rest string
}

func (p entityPath) plain() bool { return p.keys == nil && p.rest == "" }

// normalized is the path without its key predicate ("DataStores/Entries"), which ForbiddenPaths and
// AbsentPaths match as well, so a navigation can be denied whatever the key.
func (p entityPath) normalized() string {
	if p.rest == "" {
		return p.set
	}
	return p.set + "/" + p.rest
}

// parseEntityPath reads "Set", "Set('k')/rest" and "Set(A='x',B='y')/rest"; a doubled quote inside a literal is one quote.
func parseEntityPath(path string) (entityPath, bool) {
	open := strings.IndexByte(path, '(')
	if open < 0 {
		set, rest, _ := strings.Cut(path, "/")
		return entityPath{set: set, rest: rest}, true
	}
	ep := entityPath{set: path[:open], keys: map[string]string{}}
	i := open + 1
	for {
		name := ""
		if j := strings.IndexAny(path[i:], "='"); j >= 0 && path[i+j] == '=' {
			name, i = path[i:i+j], i+j+1
		}
		if i >= len(path) || path[i] != '\'' {
			return entityPath{}, false
		}
		var val strings.Builder
		for i++; ; i++ {
			if i >= len(path) {
				return entityPath{}, false
			}
			if path[i] == '\'' {
				if i+1 < len(path) && path[i+1] == '\'' {
					val.WriteByte('\'')
					i++
					continue
				}
				break
			}
			val.WriteByte(path[i])
		}
		ep.keys[name] = val.String()
		i++
		if i >= len(path) {
			return entityPath{}, false
		}
		switch path[i] {
		case ',':
			i++
			continue
		case ')':
			ep.rest = strings.TrimPrefix(path[i+1:], "/")
			return ep, true
		}
		return entityPath{}, false
	}
}

func jsonError(status int, code, msg string) (int, []byte, string, bool) {
	return status, odataError(code, msg), "application/json", true
}

type dataStoreEntry struct {
	id, status, messageID   string
	created, due, retention time.Time
}

type dataStore struct {
	name, flow, typ, visibility string
	entries                     []dataStoreEntry
}

func (d dataStore) overdue() int {
	n := 0
	for _, en := range d.entries {
		if en.status == "Overdue" {
			n++
		}
	}
	return n
}

// dataStores is the data stores' state in epoch e.
func (s *Server) dataStores(e int) []dataStore {
	at := s.opts.Start.Add(time.Duration(e) * s.opts.TimeScale)
	mk := func(prefix string, n, overdue int) []dataStoreEntry {
		var out []dataStoreEntry
		for i := range n {
			created := at.Add(-time.Duration(n-i) * time.Hour)
			en := dataStoreEntry{id: fmt.Sprintf("%s-%04d", prefix, i+1), status: "Waiting", messageID: fmt.Sprintf("AGdsx%s%023d", prefix[:2], i+1),
				created: created, due: at.Add(time.Duration(i+1) * time.Hour), retention: created.Add(30 * 24 * time.Hour)}
			if i < overdue {
				en.status, en.due = "Overdue", at.Add(-time.Duration(overdue-i)*s.opts.TimeScale/2)
			}
			out = append(out, en)
		}
		return out
	}
	overdue := 0
	if p := e % 8; p >= 2 && p <= 4 {
		overdue = 2
	}
	return []dataStore{
		{name: "PO_Retry_Store", flow: "Replicate_PurchaseOrder_to_Supplier", visibility: "Integration Flow", entries: mk("PO", 4+e%5, overdue)},
		{name: "SupplierMaster_Delta", visibility: "Global", entries: mk("SM", 12, 0)},
		{name: "AS2_Duplicate_Check", flow: "EDI_ORDERS_Inbound", typ: "AS2", visibility: "Integration Flow", entries: mk("AS", 6, 0)},
	}
}

func (s *Server) serveDataStores(ep entityPath, q url.Values, e int, _ time.Time) (int, []byte, string, bool) {
	for k := range q {
		if strings.HasPrefix(k, "$") {
			// SAP documents that DataStores supports none of the system query options.
			return jsonError(http.StatusBadRequest, "Bad Request", "The query option "+k+" is not supported for DataStores")
		}
	}
	stores := s.dataStores(e)
	if ep.plain() {
		var rows []map[string]any
		for _, d := range stores {
			if q.Get("overdueonly") == "true" && d.overdue() == 0 {
				continue
			}
			rows = append(rows, map[string]any{
				"DataStoreName": d.name, "IntegrationFlow": d.flow, "Type": d.typ, "Visibility": d.visibility,
				"NumberOfMessages": strconv.Itoa(len(d.entries)), "NumberOfOverdueMessages": strconv.Itoa(d.overdue()),
			})
		}
		return collection(rows)
	}
	if ep.rest != "Entries" || len(ep.keys) != 3 {
		return 0, nil, "", false
	}
	for _, d := range stores {
		if d.name != ep.keys["DataStoreName"] || d.flow != ep.keys["IntegrationFlow"] || d.typ != ep.keys["Type"] {
			continue
		}
		var rows []map[string]any
		for _, en := range d.entries {
			rows = append(rows, map[string]any{
				"Id": en.id, "DataStoreName": d.name, "IntegrationFlow": d.flow, "Type": d.typ, "Status": en.status,
				"MessageId": en.messageID, "DueAt": odataDate(en.due), "CreatedAt": odataDate(en.created), "RetainUntil": odataDate(en.retention),
			})
		}
		return collection(rows)
	}
	return jsonError(http.StatusNotFound, "Not Found", "Data store not found")
}

// numberRanges: PO_Number_Range is past 90 % and creeps a percentage point per epoch toward its
// maximum, without rotation; Invoice_Number rotates; IDoc_Control_Number has 14 digits with leading
// zeros; Unused_Range has never been drawn from (no current value).
func (s *Server) numberRanges(e int) []map[string]any {
	const poMin, poMax = 4500000000, 4599999999
	po := poMin + int64(poMax-poMin)*int64(min(91+e, 100))/100
	deployed := odataDate(s.opts.Start.Add(-90 * 24 * time.Hour))
	row := func(name, desc, minV, maxV, cur, rotate, length string) map[string]any {
		return map[string]any{"Name": name, "Description": desc, "MinValue": minV, "MaxValue": maxV, "CurrentValue": cur,
			"Rotate": rotate, "FieldLength": length, "DeployedBy": "jane.doe@acme.example", "DeployedOn": deployed}
	}
	return []map[string]any{
		row("PO_Number_Range", "Purchase order numbers for the supplier portal", strconv.Itoa(poMin), strconv.Itoa(poMax), strconv.FormatInt(po, 10), "false", "10"),
		row("Invoice_Number", "Outbound invoice numbers", "1", "99999", strconv.Itoa(1+(40000+e*7919)%99999), "true", "5"),
		row("IDoc_Control_Number", "EDI interchange control numbers", "00000000000001", "99999999999999", "00000001234567", "true", "14"),
		row("Unused_Range", "Reserved for the new logistics partner", "1", "999999", "", "false", "6"),
	}
}

// Resource-usage figures per hour, chosen so that alerts can be seen firing: the DB tables use 78–82 %
// of total-available.
const (
	dbTotalBytes        = 32 << 30
	dataStoreTotalBytes = 35_000_000_000 // the default data-store entitlement
	dbConnectionsTotal  = 100
)

func (s *Server) resourceUsage(q url.Values, now time.Time) (int, []byte, string, bool) {
	typ := q.Get("type")
	if q.Get("time") != "hourly" {
		return jsonError(http.StatusBadRequest, "Bad Request", "time must be hourly")
	}
	from, err1 := time.Parse(time.RFC3339Nano, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339Nano, q.Get("to"))
	if err1 != nil || err2 != nil || !from.Before(to) {
		return jsonError(http.StatusBadRequest, "Bad Request", "from and to must be ISO instants with from before to")
	}
	// The window's first hour gives the figures; an hour that has not begun has none.
	hour := from.UTC().Truncate(time.Hour)
	h := int(hour.Unix() / 3600)
	var usage []map[string]any
	var total any
	if !hour.Add(time.Hour+s.opts.ResourceUsageLateBy).After(now) || (s.opts.ResourceUsageLateBy == 0 && !hour.After(now)) {
		switch typ {
		case "mon-db-table-size":
			used := (0.78 + 0.01*float64(h%5)) * dbTotalBytes
			total = int64(dbTotalBytes)
			usage = []map[string]any{{"context": "MPL", "value": int64(used * 0.6)}, {"context": "MESSAGE_STORE", "value": int64(used * 0.25)}, {"context": "DATA_STORE", "value": int64(used * 0.15)}}
		case "datastore-usage":
			// Strings here, numbers above: SAP documents neither.
			total = strconv.Itoa(dataStoreTotalBytes)
			usage = []map[string]any{{"context": "datastore", "value": strconv.Itoa(2_100_000_000 + (h%24)*10_000_000)}}
		case "db-connection-usage":
			total = dbConnectionsTotal
			usage = []map[string]any{{"context": "connections", "value": 20 + h%30}}
		case "message-size-max-bytes":
			usage = []map[string]any{{"context": "Replicate_PurchaseOrder_to_Supplier", "value": 524288 + (h%7)*4096}, {"context": "EDI_ORDERS_Inbound", "value": 2097152}}
		case "mpl-status-all":
			usage = []map[string]any{{"context": "COMPLETED", "value": 3400 + h%100}, {"context": "FAILED", "value": 37 + h%5}, {"context": "RETRY", "value": 12}}
		default:
			return jsonError(http.StatusBadRequest, "Bad Request", "unknown resource type "+typ)
		}
	}
	if usage == nil {
		usage = []map[string]any{}
	}
	raw, _ := json.Marshal(map[string]any{"resource-usage": usage, "total-available": total})
	return http.StatusOK, raw, "application/json", true
}

// archivingRuns: three daily runs before Start (the middle one failed in its upload), then one every
// other epoch, visible once finished; every fourth of those fails in part.
func (s *Server) archivingRuns(now time.Time) []map[string]any {
	start, ts := s.opts.Start, s.opts.TimeScale
	type run struct {
		at     time.Time
		failed bool
		phase  string
		fails  int
	}
	day := start.Truncate(24 * time.Hour).Add(2 * time.Hour)
	runs := []run{{at: day.Add(-72 * time.Hour)}, {at: day.Add(-48 * time.Hour), failed: true, phase: "DATA_UPLOAD", fails: 1250}, {at: day.Add(-24 * time.Hour)}}
	for j := 0; ; j++ {
		at := start.Add(time.Duration(2*j+1) * ts)
		if now.Before(at.Add(ts / 2)) {
			break
		}
		r := run{at: at}
		if j%4 == 2 {
			r.failed, r.phase, r.fails = true, "DATA_COLLECTION", 40
		}
		runs = append(runs, r)
	}
	var rows []map[string]any
	for i, r := range runs {
		toArchive := 5200 + 300*i
		row := map[string]any{
			"RunStart": odataDate(r.at), "RunDurationInMinutes": 14, "DataCollectionDurationInMinutes": 4,
			"DataCompressionDurationInMinutes": 3, "DataUploadDurationInMinutes": 7,
			"MplsToBeArchived": toArchive, "MplsArchived": toArchive - r.fails, "MplsArchivingFailed": r.fails,
			"MplsArchivedUntilDate": odataDate(r.at.Add(-7 * 24 * time.Hour)), "DateOfOldestMplToBeArchivedAfterRun": odataDate(r.at.Add(-7 * 24 * time.Hour)),
			"DataUploadedInMb": 180 + 10*i, "RunStatus": "COMPLETED", "RunFailedPhase": "",
		}
		if r.failed {
			row["RunStatus"], row["RunFailedPhase"] = "FAILED", r.phase
			// What a failed run left behind is older than what a good one leaves.
			row["DateOfOldestMplToBeArchivedAfterRun"] = odataDate(r.at.Add(-9 * 24 * time.Hour))
			if r.phase == "DATA_UPLOAD" {
				row["MplsArchived"], row["DataUploadedInMb"] = 0, 0
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// externalLoggingEvents: activated five days before Start; in every cycle of ten epochs sending fails
// in epoch 1 and resumes in epoch 3. Only the last 14 days are kept.
func (s *Server) externalLoggingEvents(now time.Time) []map[string]any {
	start, ts := s.opts.Start, s.opts.TimeScale
	const dest = "CloudIntegration_MonitoringDataConsumer"
	dbl := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	row := func(at time.Time, typ string, hasErr bool, text string, load, lag, avail any) map[string]any {
		ms := strconv.FormatInt(at.UnixMilli(), 10)
		return map[string]any{"Timestamp": ms, "EventType": typ, "EventObject": dest, "HasError": hasErr, "StatusText": text,
			"StatusChangedAtMillis": ms, "AverageLoadSec": load, "AverageLagSec": lag, "AverageAvailability": avail}
	}
	rows := []map[string]any{row(start.Add(-5*24*time.Hour), "ACTIVATED", false, "External logging activated (target system OTEL, default log level INFO)", nil, nil, nil)}
	for c := 0; ; c++ {
		fail, resume := start.Add(time.Duration(10*c+1)*ts), start.Add(time.Duration(10*c+3)*ts)
		if fail.After(now) {
			break
		}
		rows = append(rows, row(fail, "SEND_ERROR", true, "Sending to destination "+dest+" failed: 503 Service Unavailable (upstream connect error)", dbl(0.2), dbl(95.5), dbl(0.71)))
		if !resume.After(now) {
			rows = append(rows, row(resume, "SENDING_RESUMED", false, "Sending to destination "+dest+" resumed", dbl(0.9), dbl(3.2), dbl(0.98)))
		}
	}
	cutoff := now.Add(-14 * 24 * time.Hour)
	kept := rows[:0]
	for _, r := range rows {
		ms, _ := strconv.ParseInt(r["Timestamp"].(string), 10, 64)
		if !time.UnixMilli(ms).Before(cutoff) {
			kept = append(kept, r)
		}
	}
	return kept
}

// queues mirror the broker's QueueStates (inventory.go): JMS_ORDERS_IN and JMS_DEADLETTER fill,
// JMS_IDOC_RETRY is at warning in odd epochs, JMS_DEADLETTER critical in every third, JMS_SHIPMENTS is stopped.
func (s *Server) queues(e int) []map[string]any {
	type q struct {
		name         string
		msgs, state  int
		fill, active int
	}
	qs := []q{
		{"JMS_ORDERS_IN", 20 + 40*e, 0, min(49, 2+3*e), 1},
		{"JMS_INVOICES_OUT", 3, 0, 1, 1},
		{"JMS_IDOC_RETRY", 150 + (e%2)*300, e % 2, 20 + (e%2)*45, 1},
		{"JMS_SHIPMENTS", 0, 0, 0, 0},
		{"JMS_DEADLETTER", 900 + 50*e, 0, 40, 1},
	}
	var rows []map[string]any
	for _, x := range qs {
		if x.name == "JMS_DEADLETTER" && e%3 == 2 {
			x.state, x.fill = 2, 92
		}
		rows = append(rows, map[string]any{"Name": x.name, "NumbOfMsgs": strconv.Itoa(x.msgs), "Size": strconv.Itoa(x.msgs * 8192),
			"Type": "0", "State": strconv.Itoa(x.state), "FillGrade": strconv.Itoa(x.fill), "Active": strconv.Itoa(x.active)})
	}
	return rows
}

// certificateUserMappings: the partner's certificate expires 10 days after Start; from epoch 6 a renewed
// one is mapped to the same user next to it, as during a real renewal.
func (s *Server) certificateUserMappings(e int) []map[string]any {
	start := s.opts.Start
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	rows := []map[string]any{
		{"Id": "5f1c0a9e2b7d4e31", "User": "B2B_PARTNER_ACME", "ValidUntil": ms(start.Add(10 * 24 * time.Hour))},
		{"Id": "9a3e77c10d2f4b88", "User": "S4H_TECH_USER", "ValidUntil": ms(start.Add(200 * 24 * time.Hour))},
	}
	if e >= 6 {
		rows = append(rows, map[string]any{"Id": "c2d94f6a81e04b17", "User": "B2B_PARTNER_ACME", "ValidUntil": ms(start.Add(375 * 24 * time.Hour))})
	}
	return rows
}

func accessPolicies(expand bool) []map[string]any {
	refs := map[string][]map[string]any{
		"1": {{"Id": "11", "Name": "HR flows", "Description": "Employee data", "Type": "INTEGRATION_FLOW", "ConditionAttribute": "Name", "ConditionValue": "Employee_*", "ConditionType": "Regex"},
			{"Id": "12", "Name": "Payroll", "Description": "", "Type": "INTEGRATION_FLOW", "ConditionAttribute": "Name", "ConditionValue": "Payroll_Results_to_Bank", "ConditionType": "Exact"}},
		"2": {{"Id": "21", "Name": "Bank payments", "Description": "", "Type": "INTEGRATION_FLOW", "ConditionAttribute": "Name", "ConditionValue": "Payment_Run_to_Bank", "ConditionType": "Exact"}},
	}
	var rows []map[string]any
	for _, p := range []struct{ id, role, desc string }{{"1", "AP_HR_Sensitive", "HR data: HR team only"}, {"2", "AP_Finance_Restricted", "Bank connectivity"}} {
		row := map[string]any{"Id": p.id, "RoleName": p.role, "Description": p.desc}
		if expand {
			row["ArtifactReferences"] = map[string]any{"results": refs[p.id]}
		} else {
			row["ArtifactReferences"] = map[string]any{"__deferred": map[string]any{"uri": "AccessPolicies(" + p.id + "L)/ArtifactReferences"}}
		}
		rows = append(rows, row)
	}
	return rows
}
