package fakecpi

import (
	"cmp"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// serverPageSize is CPI's cap on entries per response.
const serverPageSize = 1000

// mplFields are the filterable properties: "s" string, "t" datetime.
var mplFields = map[string]string{
	"MessageGuid": "s", "CorrelationId": "s", "ApplicationMessageId": "s", "ApplicationMessageType": "s",
	"LogStart": "t", "LogEnd": "t", "Sender": "s", "Receiver": "s", "IntegrationFlowName": "s", "Status": "s",
	"CustomStatus": "s", "LogLevel": "s", "TransactionId": "s",
	"IntegrationArtifact/Id": "s", "IntegrationArtifact/Name": "s", "IntegrationArtifact/PackageId": "s",
}

// mplView is a message in its currently visible state, as a filter sees it.
type mplView struct {
	m *message
	s *state
}

func (v mplView) stringField(name string) (string, bool) {
	m := v.m
	switch name {
	case "MessageGuid":
		return m.guid, true
	case "CorrelationId":
		return m.correlationID, true
	case "ApplicationMessageId":
		return m.appID, true
	case "ApplicationMessageType":
		return m.appType, true
	case "Sender":
		return m.sender, true
	case "Receiver":
		return m.receiver, true
	case "IntegrationFlowName", "IntegrationArtifact/Id":
		return m.flow.id, true
	case "IntegrationArtifact/Name":
		return m.flow.name, true
	case "IntegrationArtifact/PackageId":
		return m.flow.pkgID, true
	case "Status", "CustomStatus":
		return v.s.status, true
	case "LogLevel":
		return m.logLevel, true
	case "TransactionId":
		return m.transactionID, true
	}
	return "", false
}

func (v mplView) timeField(name string) (time.Time, bool) {
	switch name {
	case "LogStart":
		return v.m.logStart, true
	case "LogEnd":
		return v.s.logEnd, true
	}
	return time.Time{}, false
}

// paging is what a collection request asks of the server's paging.
type paging struct {
	top, skip int // skip includes a $skiptoken
	hasTop    bool
	count     bool
}

func parsePaging(v url.Values) (paging, string) {
	var p paging
	for _, o := range []struct {
		key string
		dst *int
	}{{"$top", &p.top}, {"$skip", &p.skip}, {"$skiptoken", nil}} {
		raw := v.Get(o.key)
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return p, "Invalid " + o.key + " " + raw
		}
		if o.dst == nil { // $skiptoken continues a server-truncated page
			p.skip += n
			continue
		}
		*o.dst = n
		if o.key == "$top" {
			p.hasTop = true
		}
	}
	p.count = v.Get("$inlinecount") == "allpages"
	return p, ""
}

// nextLink continues the request after a page of n entries that the server cut short: the same
// path and options, a $skiptoken past what was sent, and $top reduced by what was sent.
func (s *Server) nextLink(r *http.Request, p paging, n int) string {
	next := r.URL.Query()
	next.Del("$skip")
	next.Set("$skiptoken", strconv.Itoa(p.skip+n))
	if p.hasTop {
		next.Set("$top", strconv.Itoa(p.top-n))
	}
	// The path is echoed as it came, so a keyed path keeps the client's spelling of its quotes.
	link := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/") + "?" + EncodeODataQuery(next)
	if s.opts.AbsoluteNext {
		return baseURL(r) + link
	}
	// Like some tenants, the next link is relative to the service root by default.
	return link
}

// pageMore decides whether a page of n entries gets a next link: only when the server cut it short,
// that is when more entries match and the client's $top would have allowed them.
func pageMore(p paging, n int, matchedBeyond bool) bool {
	return matchedBeyond && (!p.hasTop || p.top > n)
}

type mplQuery struct {
	paging
	filter    expr
	orderBy   string
	desc      bool
	sel       map[string]bool // nil: every property
	expandCHP bool
}

func parseMPLQuery(v url.Values, round Rounding) (*mplQuery, string) {
	q := &mplQuery{orderBy: "LogEnd"}
	if f := v.Get("$filter"); f != "" {
		e, err := parseFilter(f, mplFields)
		if err != nil {
			return nil, "Invalid filter expression: " + err.Error()
		}
		q.filter = roundLiterals(e, round)
	}
	if ob := strings.TrimSpace(v.Get("$orderby")); ob != "" {
		field, dir, _ := strings.Cut(ob, " ")
		if field != "LogEnd" && field != "LogStart" {
			return nil, "Unsupported $orderby " + ob
		}
		q.orderBy, q.desc = field, strings.TrimSpace(dir) == "desc"
	}
	var msg string
	if q.paging, msg = parsePaging(v); msg != "" {
		return nil, msg
	}
	if sel := v.Get("$select"); sel != "" {
		q.sel = map[string]bool{}
		for _, f := range strings.Split(sel, ",") {
			q.sel[strings.TrimSpace(f)] = true
		}
	}
	if exp := v.Get("$expand"); exp != "" {
		if exp != "CustomHeaderProperties" {
			return nil, "Unsupported $expand " + exp
		}
		q.expandCHP = true
	}
	return q, ""
}

// run returns the requested page, the total number of matches when asked for, and whether more
// entries remain beyond a server-truncated page.
func (s *Server) run(q *mplQuery) (page []mplView, total int, more bool) {
	s.ensureStarted(s.now())
	s.store.advance(s.now())
	vis := s.store.visible
	start := 0
	if q.filter != nil && q.orderBy == "LogEnd" && !q.desc {
		if lb, ok := lowerBound(q.filter, "LogEnd"); ok {
			start = sort.Search(len(vis), func(i int) bool { return !vis[i].visible().logEnd.Before(lb) })
		}
	}
	limit := s.opts.PageCap
	if q.hasTop && q.top < limit {
		limit = q.top
	}
	var matches []mplView
	s.lists++
	// The store's order is LogEnd, then MessageGuid; with unstable ties the page is sorted afresh below.
	inOrder := q.orderBy == "LogEnd" && !q.desc && !s.opts.UnstableTies
	skipped := 0
	for _, m := range vis[start:] {
		v := mplView{m: m, s: m.visible()}
		if q.filter != nil && !q.filter.eval(v) {
			continue
		}
		total++
		if inOrder {
			if skipped < q.skip {
				skipped++
				continue
			}
			if len(matches) < limit {
				matches = append(matches, v)
				continue
			}
			more = true
			if !q.count {
				break
			}
			continue
		}
		matches = append(matches, v)
	}
	if !inOrder {
		slices.SortStableFunc(matches, func(a, b mplView) int {
			ta, _ := a.timeField(q.orderBy)
			tb, _ := b.timeField(q.orderBy)
			c := ta.Compare(tb)
			if q.desc {
				c = -c
			}
			if c == 0 && s.opts.UnstableTies {
				c = cmp.Compare(tieRank(a.m.guid, s.lists), tieRank(b.m.guid, s.lists))
			}
			return c
		})
		matches = matches[min(q.skip, len(matches)):]
		if len(matches) > limit {
			matches, more = matches[:limit], true
		}
	}
	// A page as long as the client's $top gets no next link, as on a real tenant; one the server cut
	// below $top does.
	return matches, total, pageMore(q.paging, len(matches), more)
}

func (s *Server) listMPLs(r *http.Request) (int, []byte) {
	q, msg := parseMPLQuery(r.URL.Query(), s.opts.SecondPrecision)
	if msg != "" {
		return http.StatusBadRequest, odataError("Bad Request", msg)
	}
	s.mu.Lock()
	page, total, more := s.run(q)
	base := baseURL(r)
	buf := make([]byte, 0, 1024+len(page)*1400)
	buf = append(buf, `{"d":{"results":[`...)
	for i, v := range page {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendMPL(buf, base, v, q)
	}
	s.mu.Unlock()
	buf = append(buf, ']')
	if q.count {
		buf = append(buf, `,"__count":"`...)
		buf = strconv.AppendInt(buf, int64(total), 10)
		buf = append(buf, '"')
	}
	if more {
		buf = append(buf, `,"__next":`...)
		buf = appendString(buf, s.nextLink(r, q.paging, len(page)))
	}
	buf = append(buf, "}}"...)
	return http.StatusOK, buf
}

func (s *Server) countMPLs(r *http.Request) (int, []byte) {
	q, msg := parseMPLQuery(r.URL.Query(), s.opts.SecondPrecision)
	if msg != "" {
		return http.StatusBadRequest, odataError("Bad Request", msg)
	}
	q.count, q.hasTop, q.top, q.skip = true, true, 0, 0
	s.mu.Lock()
	_, total, _ := s.run(q)
	s.mu.Unlock()
	return http.StatusOK, []byte(strconv.Itoa(total))
}

func appendMPL(buf []byte, base string, v mplView, q *mplQuery) []byte {
	m, st := v.m, v.s
	uri := base + "MessageProcessingLogs('" + m.guid + "')"
	buf = append(buf, `{"__metadata":{"id":`...)
	buf = appendString(buf, uri)
	buf = append(buf, `,"uri":`...)
	buf = appendString(buf, uri)
	buf = append(buf, `,"type":"com.sap.hci.api.MessageProcessingLog"}`...)
	want := func(f string) bool { return q.sel == nil || q.sel[f] }
	str := func(name, val string) {
		if !want(name) {
			return
		}
		buf = append(buf, ',', '"')
		buf = append(buf, name...)
		buf = append(buf, '"', ':')
		if val == "" {
			buf = append(buf, "null"...)
		} else {
			buf = appendString(buf, val)
		}
	}
	date := func(name string, t time.Time) {
		if !want(name) {
			return
		}
		buf = append(buf, ',', '"')
		buf = append(buf, name...)
		buf = append(buf, `":"/Date(`...)
		buf = strconv.AppendInt(buf, t.UnixMilli(), 10)
		buf = append(buf, `)/"`...)
	}
	boolean := func(name string) {
		if want(name) {
			buf = append(buf, `,"`+name+`":false`...)
		}
	}
	str("MessageGuid", m.guid)
	str("CorrelationId", m.correlationID)
	str("ApplicationMessageId", m.appID)
	str("ApplicationMessageType", m.appType)
	date("LogStart", m.logStart)
	date("LogEnd", st.logEnd)
	str("Sender", m.sender)
	str("Receiver", m.receiver)
	str("IntegrationFlowName", m.flow.id)
	str("Status", st.status)
	str("AlternateWebLink", strings.TrimSuffix(base, "api/v1/")+"itspaces/shell/monitoring/MessageDetails/%7B%22messageGuid%22%3A%22"+m.guid+"%22%7D")
	if want("IntegrationArtifact") {
		buf = append(buf, `,"IntegrationArtifact":{"__metadata":{"type":"com.sap.hci.api.IntegrationArtifact"},"Id":`...)
		buf = appendString(buf, m.flow.id)
		buf = append(buf, `,"Name":`...)
		buf = appendString(buf, m.flow.name)
		buf = append(buf, `,"Type":"INTEGRATION_FLOW","PackageId":`...)
		buf = appendString(buf, m.flow.pkgID)
		buf = append(buf, `,"PackageName":`...)
		buf = appendString(buf, m.flow.pkgName)
		buf = append(buf, '}')
	}
	str("LogLevel", m.logLevel)
	str("CustomStatus", st.status)
	str("ArchivingStatus", "NOT_RELEVANT")
	boolean("ArchivingSenderChannelMessages")
	boolean("ArchivingReceiverChannelMessages")
	boolean("ArchivingLogAttachments")
	boolean("ArchivingPersistedMessages")
	str("TransactionId", m.transactionID)
	str("PreviousComponentName", "CPI_sim")
	str("LocalComponentName", "CPI_sim")
	str("OriginComponentName", "CPI_sim")
	if q.expandCHP {
		buf = append(buf, `,"CustomHeaderProperties":{"results":[`...)
		for i, h := range m.headers {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"__metadata":{"type":"com.sap.hci.api.MessageProcessingLogCustomHeaderProperty"},"Id":"`...)
			buf = strconv.AppendInt(buf, int64(1000+i), 10)
			buf = append(buf, `","Name":`...)
			buf = appendString(buf, h[0])
			buf = append(buf, `,"Value":`...)
			buf = appendString(buf, h[1])
			buf = append(buf, '}')
		}
		buf = append(buf, "]}"...)
	} else if q.sel == nil {
		for _, nav := range []string{"CustomHeaderProperties", "MessageStoreEntries", "ErrorInformation", "AdapterAttributes", "Attachments", "Runs"} {
			buf = append(buf, `,"`+nav+`":{"__deferred":{"uri":`...)
			buf = appendString(buf, uri+"/"+nav)
			buf = append(buf, "}}"...)
		}
	}
	return append(buf, '}')
}

// appendString writes a JSON string; the simulated data is ASCII, so escaping quotes, backslashes and
// control characters is enough.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '\t':
			buf = append(buf, '\\', 't')
		case c < 0x20:
			buf = append(buf, `\u00`...)
			buf = append(buf, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"')
}

// EncodeODataQuery writes query options the way OData servers do: `$` literal, %20 for spaces, keys in
// order. The bench tooling's static server writes its next links with it too.
func EncodeODataQuery(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, val := range v[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(strings.ReplaceAll(url.QueryEscape(val), "+", "%20"))
		}
	}
	return b.String()
}

// tieRank is an entry's place among the entries of its LogEnd in the list request n (UnstableTies).
func tieRank(guid string, n uint64) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(guid))
	return h.Sum64() ^ (n * 0x9e3779b97f4a7c15)
}
