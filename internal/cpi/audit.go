package cpi

import (
	"context"
	"strconv"
	"time"
)

// AuditLog is an entry of the AuditLogs entity set (Neo tenants; com.sap.hci.api.AuditLog).
type AuditLog struct {
	ChangeId        string
	Action          string
	Timestamp       Time
	UserName        string
	ObjName         string
	ObjType         string
	Source          string
	NodeType        string
	UserType        string
	CustomerVisible string
}

// AuditLogs reads one page of audit entries with from ≤ Timestamp < until, oldest first, and whether
// the tenant announced more (a next link).
func (c *Client) AuditLogs(ctx context.Context, from, until time.Time, top, skip int) ([]AuditLog, bool, error) {
	q := Query{}.
		Add("$filter", "Timestamp ge "+FilterTime(from)+" and Timestamp lt "+FilterTime(until)).
		Add("$orderby", "Timestamp").
		Add("$top", strconv.Itoa(top))
	if skip > 0 {
		q = q.Add("$skip", strconv.Itoa(skip))
	}
	page, err := GetPage[AuditLog](ctx, c, GroupAudit, "fetching AuditLogs", "AuditLogs", q)
	return page.Results, page.Next != "", err
}
