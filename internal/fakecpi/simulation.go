package fakecpi

import (
	"container/heap"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// state is one status of a simulated MPL: from visibleAt on, the tenant shows it with LogEnd = logEnd.
// A late write has visibleAt after logEnd, as when a worker node flushes its log late.
type state struct {
	status    string
	logEnd    time.Time
	visibleAt time.Time
}

// message is a simulated MPL with its whole life planned at creation.
type message struct {
	guid, correlationID, appID, appType string
	sender, receiver, transactionID     string
	logLevel                            string
	flow                                *iflow
	logStart                            time.Time
	states                              []state
	cur                                 int // index of the visible state, -1 before the first
	errorText                           string
	headers                             [][2]string
	seq                                 int   // generation number: seeds the message's runs
	runs                                []run // planned on first use (see store.runsOf)
	runsPlanned                         bool
}

func (m *message) visible() *state {
	if m.cur < 0 {
		return nil
	}
	return &m.states[m.cur]
}

type iflow struct {
	id, name, pkgID, pkgName string
}

// The landscape the generator draws from: a few packages with realistic iFlows.
var landscape = func() []*iflow {
	pkgs := []struct {
		id, name string
		flows    []string
	}{
		{"AcmeProcurement", "Acme Procurement Integrations", []string{"Replicate_PurchaseOrder_to_Supplier", "Receive_OrderConfirmation", "Send_Invoice_to_Ariba", "Sync_Supplier_Master"}},
		{"AcmeFinance", "Acme Finance Integrations", []string{"Timer_Sync_CostCenters", "Post_Journal_Entries", "Bank_Statement_Import", "Payment_Run_to_Bank"}},
		{"AcmeSales", "Acme Sales Integrations", []string{"SalesOrder_from_Webshop", "Customer_Master_to_CRM", "Pricing_Condition_Upload", "Delivery_Notification_to_Carrier"}},
		{"AcmeHR", "Acme HR Integrations", []string{"Employee_Replication_SF_to_S4", "Payroll_Results_to_Bank", "OrgUnit_Sync"}},
		{"AcmeLogistics", "Acme Logistics Integrations", []string{"Shipment_Status_from_Carrier", "Warehouse_Stock_Update", "IDoc_DESADV_Outbound", "EDI_ORDERS_Inbound"}},
	}
	var out []*iflow
	for _, p := range pkgs {
		for _, f := range p.flows {
			out = append(out, &iflow{id: f, name: strings.ReplaceAll(f, "_", " "), pkgID: p.id, pkgName: p.name})
		}
	}
	return out
}()

var (
	systems    = []string{"S4H_100", "S4H_200", "SUPPLIER_PORTAL", "ARIBA", "SFSF", "WEBSHOP", "CARRIER_DHL", "BANK_EBICS", "CRM_CLOUD"}
	errorTexts = []string{
		"com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: Connection refused (Connection refused).\nThe MPL ID for the failed message is : %s\nCaused by: java.net.ConnectException: Connection refused\n\tat java.base/sun.nio.ch.Net.connect0(Native Method)",
		"org.apache.camel.CamelExchangeException: Mapping failed: Cannot produce target element /ns0:Invoice/Header/Currency. Check the source message.\n\tat com.sap.xi.mapping.camel.XiMappingProcessor.process(XiMappingProcessor.java:112)",
		"com.sap.gateway.core.ip.component.odata.exception.OsciException: Bad Request : 400 : HTTP/1.1 : {\"error\":{\"code\":\"SY/530\",\"message\":{\"lang\":\"en\",\"value\":\"Purchase order 4500012345 is locked by user BATCH\"}}}",
		"javax.net.ssl.SSLHandshakeException: PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed\nCaused by: java.security.cert.CertificateExpiredException: NotAfter: Sun Mar 01 23:59:59 UTC 2026",
	}
)

// generator plans message lives deterministically from a seed.
type generator struct {
	rng       *rand.Rand
	seed      uint64
	seq       int
	slots     int
	scale     time.Duration // unit for retries and long runs; small in tests
	late      time.Duration
	lateShare float64
	seconds   bool // LogStart and LogEnd at whole seconds
	burstSize int
	every     int // a burst every this many slots
}

// newGenerator takes the defaulted options of New.
func newGenerator(o Options) *generator {
	return &generator{
		rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x5ca1ab1e)), seed: o.Seed,
		scale: o.TimeScale, late: o.LateBy, lateShare: o.LateShare,
		seconds:   o.SecondPrecision == RoundFloor || o.SecondPrecision == RoundCeil,
		burstSize: o.BurstSize, every: o.BurstEvery,
	}
}

// slot generates what starts at one point of the schedule (a backlog position or a live tick): one
// message, or every BurstEvery-th slot a burst of BurstSize messages that share LogStart and LogEnd.
func (g *generator) slot(start time.Time) []*message {
	g.slots++
	if g.burstSize <= 0 || g.slots%g.every != 0 {
		return []*message{g.finish(g.newMessage(start), false)}
	}
	out := make([]*message, g.burstSize)
	var end time.Time
	for i := range out {
		m := g.newMessage(start)
		if i == 0 {
			end = m.states[0].logEnd
		}
		// A burst is written in one go, so every member has one final state at the same instant.
		final := m.states[len(m.states)-1].status
		m.states = []state{{status: final, logEnd: end, visibleAt: end}}
		if !failing(final) {
			m.errorText = ""
		}
		out[i] = g.finish(m, true)
	}
	return out
}

// failing tells whether a state ends a run in an error (and so with a failing step).
func failing(status string) bool {
	return status == "FAILED" || status == "RETRY" || status == "ESCALATED"
}

// finish applies late writes and second precision to a planned message.
func (g *generator) finish(m *message, burst bool) *message {
	if g.late > 0 && !burst && g.rng.Float64() < g.lateShare {
		last := &m.states[len(m.states)-1]
		last.visibleAt = last.logEnd.Add(g.late)
	}
	if g.seconds {
		// The tenant stores whole seconds but still writes at the real instant, so a state shows up to
		// a second after the LogEnd it is served with.
		m.logStart = m.logStart.Truncate(time.Second)
		for i := range m.states {
			m.states[i].logEnd = m.states[i].logEnd.Truncate(time.Second)
		}
	}
	return m
}

const guidAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func (g *generator) id(prefix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for b.Len() < 28 {
		b.WriteByte(guidAlphabet[g.rng.IntN(len(guidAlphabet))])
	}
	return b.String()
}

// newMessage plans a message that starts at start. The mix: most complete quickly; a few fail, retry
// and later complete, escalate, run long, are discarded, abandoned or cancelled (finish makes a few
// write late).
func (g *generator) newMessage(start time.Time) *message {
	g.seq++
	r := g.rng
	f := landscape[r.IntN(len(landscape))]
	m := &message{
		seq:           g.seq,
		guid:          g.id("AG" + fmt.Sprintf("%06d", g.seq%1000000)),
		flow:          f,
		logStart:      start,
		logLevel:      "INFO",
		cur:           -1,
		transactionID: fmt.Sprintf("%032x", r.Uint64())[:16] + fmt.Sprintf("%016x", r.Uint64()),
	}
	m.correlationID = g.id("AG")
	if r.IntN(3) > 0 {
		m.sender = systems[r.IntN(len(systems))]
		m.receiver = systems[r.IntN(len(systems))]
	}
	if r.IntN(2) == 0 {
		m.appID = fmt.Sprintf("PO-45%08d", r.IntN(100000000))
		m.appType = "PurchaseOrder"
		m.headers = [][2]string{{"po_number", m.appID[3:]}, {"company_code", "1000"}}
		if r.IntN(4) == 0 {
			m.headers = append(m.headers, [2]string{"po_number", fmt.Sprintf("45%08d", r.IntN(100000000))})
		}
		if g.seq%3 == 0 {
			// The sender's W3C trace context, as 2026 HTTP adapters propagate it (derived from the id, so
			// the random stream of a seed stays as it was).
			m.headers = append(m.headers, [2]string{"traceparent", traceparentFor(m.guid)})
		}
	}
	quick := time.Duration(20+r.IntN(3000)) * time.Millisecond
	at := func(d time.Duration, status string) state {
		t := start.Add(d).Truncate(time.Millisecond)
		return state{status: status, logEnd: t, visibleAt: t}
	}
	switch p := r.IntN(100); {
	case p < 84:
		m.states = []state{at(quick, "COMPLETED")}
	case p < 88:
		m.states = []state{at(quick, "FAILED")}
	case p < 92:
		m.states = []state{at(quick, "RETRY"), at(quick+g.scale, "RETRY"), at(quick+2*g.scale, "COMPLETED")}
	case p < 94:
		m.states = []state{at(quick, "ESCALATED")}
	case p < 96:
		m.states = []state{at(500*time.Millisecond, "PROCESSING"), at(2*g.scale, "COMPLETED")}
	case p < 97:
		m.states = []state{at(quick, "DISCARDED")}
	case p < 98:
		m.states = []state{at(quick, "ABANDONED"), at(quick+g.scale, "FAILED")}
	case p < 99:
		m.states = []state{at(quick, "CANCELLED")}
	default:
		m.logLevel = "DEBUG"
		m.states = []state{at(quick, "COMPLETED")}
	}
	for _, s := range m.states {
		if failing(s.status) {
			m.errorText = errorTexts[r.IntN(len(errorTexts))]
			if strings.Contains(m.errorText, "%s") { // only some texts name the MPL
				m.errorText = fmt.Sprintf(m.errorText, m.guid)
			}
			if r.IntN(10) == 0 {
				// Now and then a stack trace far longer than the default cap.
				m.errorText += strings.Repeat("\n\tat org.apache.camel.processor.Pipeline.process(Pipeline.java:130)", 200)
			}
			break
		}
	}
	return m
}

// transition is a pending state change, ordered by when it becomes visible.
type transition struct {
	msg *message
	idx int
}

type transitions []transition

func (h transitions) Len() int { return len(h) }
func (h transitions) Less(i, j int) bool {
	return h[i].msg.states[h[i].idx].visibleAt.Before(h[j].msg.states[h[j].idx].visibleAt)
}
func (h transitions) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *transitions) Push(x any)   { *h = append(*h, x.(transition)) }
func (h *transitions) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// store holds the simulated MPLs, visible ones sorted by their current LogEnd.
type store struct {
	gen      *generator
	pending  transitions
	visible  []*message
	byGUID   map[string]*message
	all      []*message
	dirty    bool
	nextAt   time.Time // start time of the next live message
	interval time.Duration
	stopAt   time.Time
	runs     map[string]runRef // run id → its message, for the runs planned so far
}

func (s *store) add(m *message) {
	s.all = append(s.all, m)
	s.byGUID[m.guid] = m
	for i := range m.states {
		heap.Push(&s.pending, transition{msg: m, idx: i})
	}
}

// advance generates the live messages that started by now and applies the state changes due by now.
func (s *store) advance(now time.Time) {
	if s.interval > 0 {
		for !s.nextAt.After(now) && (s.stopAt.IsZero() || s.nextAt.Before(s.stopAt)) {
			for _, m := range s.gen.slot(s.nextAt) {
				s.add(m)
			}
			s.nextAt = s.nextAt.Add(s.interval)
		}
	}
	for len(s.pending) > 0 {
		t := s.pending[0]
		if t.msg.states[t.idx].visibleAt.After(now) {
			break
		}
		heap.Pop(&s.pending)
		if t.idx <= t.msg.cur {
			continue
		}
		if t.msg.cur < 0 {
			s.visible = append(s.visible, t.msg)
		}
		t.msg.cur = t.idx
		s.dirty = true
	}
	if s.dirty {
		slices.SortStableFunc(s.visible, func(a, b *message) int {
			if c := a.visible().logEnd.Compare(b.visible().logEnd); c != 0 {
				return c
			}
			return strings.Compare(a.guid, b.guid)
		})
		s.dirty = false
	}
}

// traceparentFor is a valid W3C traceparent derived from a message id.
func traceparentFor(guid string) string {
	sum := sha256.Sum256([]byte("caller/" + guid))
	return fmt.Sprintf("00-%x-%x-01", sum[:16], sum[16:24])
}
