package fakecpi

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// auditFields are the filterable AuditLog properties.
var auditFields = map[string]string{"Timestamp": "t", "Action": "s", "UserName": "s", "ObjType": "s", "ChangeId": "s"}

type auditEntry struct {
	id, action, user, objName, objType, source, nodeType, userType string
	at                                                             time.Time
}

func (a auditEntry) stringField(name string) (string, bool) {
	switch name {
	case "Action":
		return a.action, true
	case "UserName":
		return a.user, true
	case "ObjType":
		return a.objType, true
	case "ChangeId":
		return a.id, true
	}
	return "", false
}

func (a auditEntry) timeField(name string) (time.Time, bool) { return a.at, name == "Timestamp" }

// auditStep is the simulated tenant's audit rhythm: an entry every 45 s of tenant time, from two hours
// before Start.
const auditStep = 45 * time.Second

var auditActions = []struct{ action, objType string }{
	{"Deploy", "IntegrationFlow"}, {"Change", "IntegrationFlow"}, {"Create", "Credential"}, {"Delete", "Message Queue"},
	{"Undeploy", "IntegrationFlow"}, {"Change", "X.509 Certificate"}, {"Login", "User"}, {"Create", "Package"},
}

// auditEntries lists the entries written by now.
func (s *Server) auditEntries(now time.Time) []auditEntry {
	first := s.opts.Start.Add(-2 * time.Hour)
	var out []auditEntry
	for i := 0; ; i++ {
		at := first.Add(time.Duration(i) * auditStep)
		if at.After(now) {
			return out
		}
		a := auditActions[i%len(auditActions)]
		f := landscape[i%len(landscape)]
		name := f.id
		switch a.objType {
		case "Credential":
			name = "ariba_basic"
		case "Message Queue":
			name = "JMS_IDOC_RETRY"
		case "X.509 Certificate":
			name = "supplier_portal"
		case "User":
			name = "jane.doe@acme.example"
		case "Package":
			name = f.pkgID
		}
		user, userType := "jane.doe@acme.example", "Tenant User"
		if i%5 == 4 {
			user, userType = "SAP", "SAP"
		}
		out = append(out, auditEntry{
			id: fmt.Sprintf("%032x", uint64(i)*0x9E3779B97F4A7C15), action: a.action, user: user,
			objName: name, objType: a.objType, source: fmt.Sprintf("10.20.%d.%d", i%7, i%250+1),
			nodeType: "IFLMAP", userType: userType, at: at,
		})
	}
}

func (s *Server) listAuditLogs(r *http.Request, base string, now time.Time) (int, []byte) {
	v := r.URL.Query()
	var filter expr
	if f := v.Get("$filter"); f != "" {
		e, err := parseFilter(f, auditFields)
		if err != nil {
			return http.StatusBadRequest, odataError("Bad Request", "Invalid filter expression: "+err.Error())
		}
		filter = roundLiterals(e, s.opts.SecondPrecision)
	}
	var match []auditEntry
	for _, a := range s.auditEntries(now) {
		if filter == nil || filter.eval(a) {
			match = append(match, a)
		}
	}
	sort.SliceStable(match, func(i, j int) bool { return match[i].at.Before(match[j].at) })
	skip, _ := strconv.Atoi(v.Get("$skip"))
	top, err := strconv.Atoi(v.Get("$top"))
	if err != nil || top > serverPageSize {
		top = serverPageSize
	}
	match = match[min(skip, len(match)):]
	match = match[:min(top, len(match))]
	rows := make([]map[string]any, 0, len(match))
	for _, a := range match {
		rows = append(rows, map[string]any{
			"__metadata": meta(base, "AuditLogs", a.id, "AuditLog"),
			"ChangeId":   a.id, "Action": a.action, "Timestamp": odataDate(a.at), "UserName": a.user,
			"ObjName": a.objName, "ObjType": a.objType, "Source": a.source, "NodeType": a.nodeType,
			"UserType": a.userType, "CustomerVisible": "true",
		})
	}
	status, body, _, _ := collection(rows)
	return status, body
}
