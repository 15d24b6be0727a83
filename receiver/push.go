package sapcpireceiver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.uber.org/zap"

	"github.com/sapcpi-otel/sapcpireceiver/internal/checkpoint"
	"github.com/sapcpi-otel/sapcpireceiver/internal/cpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/mapping"
	"github.com/sapcpi-otel/sapcpireceiver/internal/push"
)

// PushConfig configures the endpoint that SAP Cloud Integration's External Logging pushes its MPLs to
// (destination CloudIntegration_MonitoringDataConsumer, TargetSystem OTEL, JSON or Splunk). Pushed
// states go through the same de-duplication window as pulled ones: each state is one record, whichever
// way it came first.
type PushConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// ServerConfig is the full confighttp server: endpoint, tls, auth (any server authenticator such as
	// basicauth or bearertokenauth), max_request_body_size, …
	confighttp.ServerConfig `mapstructure:",squash"`
	// OTLPPath takes the OTEL target (OTLP/HTTP logs, JSON or protobuf).
	OTLPPath string `mapstructure:"otlp_path"`
	// JSONPath takes the JSON target (single events, arrays, delimiter-separated sequences).
	JSONPath string `mapstructure:"json_path"`
	// SplunkPath takes the Splunk target (HEC events); SAP appends it to the destination URL.
	SplunkPath string `mapstructure:"splunk_path"`
	// DateFormat is the destination property DateFormat (a Java pattern) the pushed dates are written in.
	DateFormat string `mapstructure:"date_format"`
	// UnknownFields says what becomes of the keys of a pushed MPL the receiver does not recognise.
	UnknownFields UnknownFieldsConfig `mapstructure:"unknown_fields"`
	// KeepRaw puts each event's own JSON on its record (sap.cpi.push.raw), to check what SAP sends.
	KeepRaw bool `mapstructure:"keep_raw"`
	// DedupWindow keeps the de-duplication keys of delivered states at least this long, so that a state
	// SAP pushes again (after an outage of this endpoint) or later than the pull re-reads is not
	// emitted twice. Longer than SAP's longest redelivery; it sizes the checkpoint.
	DedupWindow time.Duration `mapstructure:"dedup_window"`
}

// UnknownFieldsConfig: namespace keeps every unrecognised key under sap.cpi.push.unknown_fields, allow
// keeps only the listed ones there, drop keeps none. Each is counted in sapcpi.push.unknown_fields.
type UnknownFieldsConfig struct {
	Mode  string   `mapstructure:"mode"`
	Allow []string `mapstructure:"allow"`
}

// Formats of the push endpoint, as records and the collector's telemetry name them.
const (
	pushFormatOTLP   = "otlp"
	pushFormatJSON   = "json"
	pushFormatSplunk = "splunk_hec"
)

func defaultPushConfig() PushConfig {
	srv := confighttp.NewDefaultServerConfig()
	// 8088 is the HEC port Splunk users know; every target shares it, told apart by path.
	srv.NetAddr.Endpoint = "localhost:8088"
	return PushConfig{
		ServerConfig: srv,
		OTLPPath:     "/v1/logs",
		JSONPath:     "/sapcpi/v1/mpl",
		SplunkPath:   "/services/collector/event",
		DateFormat:   push.DefaultDateFormat,
		UnknownFields: UnknownFieldsConfig{
			Mode: "namespace",
		},
		DedupWindow: time.Hour,
	}
}

// Validate checks the section; the collector prefixes the errors with "push".
func (c *PushConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if c.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: required, e.g. 0.0.0.0:8088 behind the ingress SAP's destination points at"))
	}
	paths := []struct{ name, path string }{{"otlp_path", c.OTLPPath}, {"json_path", c.JSONPath}, {"splunk_path", c.SplunkPath}}
	seen := map[string]string{}
	for _, p := range paths {
		if !strings.HasPrefix(p.path, "/") {
			errs = append(errs, fmt.Errorf("%s: must start with /, got %q", p.name, p.path))
		} else if other, dup := seen[p.path]; dup {
			errs = append(errs, fmt.Errorf("%s and %s: must differ, both are %q", other, p.name, p.path))
		}
		seen[p.path] = p.name
	}
	if _, err := push.ParseDateFormat(c.DateFormat); err != nil {
		errs = append(errs, fmt.Errorf("date_format: %w", err))
	}
	switch c.UnknownFields.Mode {
	case "namespace", "drop":
	case "allow":
		if len(c.UnknownFields.Allow) == 0 {
			errs = append(errs, errors.New("unknown_fields.allow: list the keys to keep with mode allow"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown_fields.mode: must be namespace, allow or drop, got %q", c.UnknownFields.Mode))
	}
	if c.DedupWindow < time.Minute {
		errs = append(errs, fmt.Errorf("dedup_window: must be at least 1m, got %s", c.DedupWindow))
	}
	return sectionErrors(errs)
}

// server is something a source serves while the receiver runs; the tenant starts and stops it.
type server interface {
	start(ctx context.Context, host component.Host) error
	shutdown(ctx context.Context) error
}

// pushServer answers SAP's External Logging. It replies 2xx only after the logs pipeline accepted (or
// every state was a repeat), 503 when the pipeline refuses or the checkpoint is not read yet (SAP
// retries), and 4xx only for bodies no retry can fix.
type pushServer struct {
	cfg     PushConfig
	src     *messageSource
	decoder *push.Decoder
	set     component.TelemetrySettings
	tel     *telemetry
	logger  *zap.Logger

	srv  *http.Server
	addr string // where it listens, once started
	wg   sync.WaitGroup
}

func newPushServer(cfg PushConfig, src *messageSource, e *sourceEnv) (*pushServer, error) {
	dec, err := push.NewDecoder(push.Options{DateFormat: cfg.DateFormat})
	if err != nil {
		return nil, err
	}
	return &pushServer{cfg: cfg, src: src, decoder: dec, set: e.set.TelemetrySettings, tel: e.tel, logger: e.logger("push")}, nil
}

func (p *pushServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(p.cfg.OTLPPath, p.endpoint(pushFormatOTLP, func(b []byte, r *http.Request) ([]push.Event, error) {
		return p.decoder.DecodeOTLP(b, r.Header.Get("Content-Type"))
	}))
	mux.Handle(p.cfg.JSONPath, p.endpoint(pushFormatJSON, func(b []byte, _ *http.Request) ([]push.Event, error) { return p.decoder.DecodeJSON(b) }))
	mux.Handle(p.cfg.SplunkPath, p.endpoint(pushFormatSplunk, func(b []byte, _ *http.Request) ([]push.Event, error) {
		events, err := p.decoder.DecodeHEC(b)
		if errors.Is(err, push.ErrMalformed) && push.IsHECProbe(b) {
			// SAP's activation posts a test event that is no MPL: it must succeed.
			return nil, nil
		}
		return events, err
	}))
	return mux
}

func (p *pushServer) start(ctx context.Context, host component.Host) error {
	ln, err := p.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("push: listening on %s: %w", p.cfg.NetAddr.Endpoint, err)
	}
	p.addr = ln.Addr().String()
	p.srv, err = p.cfg.ToServer(ctx, host.GetExtensions(), p.set, p.handler())
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("push: %w", err)
	}
	p.logger.Info("Receiving SAP Cloud Integration's External Logging push", zap.String("endpoint", ln.Addr().String()),
		zap.String("otlp_path", p.cfg.OTLPPath), zap.String("json_path", p.cfg.JSONPath), zap.String("splunk_path", p.cfg.SplunkPath))
	p.wg.Go(func() {
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			p.logger.Error("Push endpoint stopped", zap.Error(err))
		}
	})
	return nil
}

func (p *pushServer) shutdown(ctx context.Context) error {
	if p.srv == nil {
		return nil
	}
	err := p.srv.Shutdown(ctx)
	p.wg.Wait()
	return err
}

func (p *pushServer) endpoint(format string, decode func([]byte, *http.Request) ([]push.Event, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodOptions && format == pushFormatSplunk:
			// SAP's activation probes the HEC endpoint with OPTIONS first.
			w.WriteHeader(http.StatusOK)
			return
		case r.Method != http.MethodPost:
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := push.Decompress(r.Body, r.Header.Get("Content-Encoding"), p.maxBody())
		if err == nil {
			var events []push.Event
			if events, err = decode(body, r); err == nil {
				err = p.deliver(r.Context(), format, events)
			}
		}
		p.reply(w, r, format, err)
	})
}

func (p *pushServer) maxBody() int64 {
	if n := p.cfg.MaxRequestBodySize; n > 0 {
		return n
	}
	return 20 << 20
}

// reply answers in the target's own dialect. Errors never quote the body: it can hold personal data.
func (p *pushServer) reply(w http.ResponseWriter, r *http.Request, format string, err error) {
	status := http.StatusOK
	switch {
	case err == nil:
	case errors.Is(err, push.ErrTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, push.ErrUnsupported):
		status = http.StatusUnsupportedMediaType
	case errors.Is(err, push.ErrMalformed):
		status = http.StatusBadRequest
	default:
		// Back-pressure or not ready: a status SAP retries.
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	if err != nil {
		p.tel.recordPush(format, "refused", 1)
		p.logger.Debug("Push refused", zap.String("format", format), zap.Int("status", status), zap.Error(err))
		if status == http.StatusServiceUnavailable {
			p.logger.Warn("Push held back; SAP will send it again", zap.String("format", format), zap.Error(err))
		}
	}
	switch format {
	case pushFormatOTLP:
		resp := plogotlp.NewExportResponse()
		if err != nil {
			http.Error(w, err.Error(), status)
			return
		}
		if strings.Contains(r.Header.Get("Content-Type"), "protobuf") {
			raw, _ := resp.MarshalProto()
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.WriteHeader(status)
			_, _ = w.Write(raw)
			return
		}
		// SAP's connection test posts {} and looks for partialSuccess in the answer.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"partialSuccess":{}}`))
	case pushFormatSplunk:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if err != nil {
			_, _ = fmt.Fprintf(w, `{"text":%q,"code":%d}`, http.StatusText(status), hecCode(status))
			return
		}
		_, _ = w.Write([]byte(`{"text":"Success","code":0}`))
	default:
		if err != nil {
			http.Error(w, err.Error(), status)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// hecCode is the HEC error code of a status (9: server busy, 6: invalid data format).
func hecCode(status int) int {
	switch status {
	case http.StatusServiceUnavailable:
		return 9
	case http.StatusRequestEntityTooLarge:
		return 27
	}
	return 6
}

var errPushNotReady = errors.New("the receiver has not read its checkpoint yet")

// deliver turns a batch into MPL states (with the custom headers and adapter attributes sent as extra
// events attached to their Run), drops the states delivered before by push or pull, and hands the rest
// to the logs pipeline through the message source's window.
func (p *pushServer) deliver(ctx context.Context, format string, events []push.Event) error {
	msgs, apart := p.assemble(format, events)
	if len(msgs) == 0 && len(apart) == 0 {
		return nil
	}
	if err := p.src.lockForPush(ctx); err != nil {
		return err
	}
	err := p.src.loadLocked(ctx)
	p.src.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %w", errPushNotReady, err)
	}
	if len(msgs) > 0 {
		if err := p.src.deliverPushed(ctx, format, msgs); err != nil {
			return err
		}
	}
	if len(apart) > 0 {
		return p.src.deliverSubValues(ctx, format, apart)
	}
	return nil
}

// assemble pairs each Run event with the sub-value events of its message in the same batch. A sub-value
// event whose Run came in another request (SAP sends them after it, and with JSON single batches one
// event per request) cannot be added to a record already sent: it is returned apart, to become a record
// of its own.
func (p *pushServer) assemble(format string, events []push.Event) ([]mapping.PushedMessage, []mapping.PushedSubValues) {
	byGUID := map[string]int{}
	var msgs []mapping.PushedMessage
	for _, ev := range events {
		if ev.Kind != push.KindRun {
			continue
		}
		pm := mapping.PushedMessage{MPL: ev.MPL, Format: format, AdapterAttributes: ev.AdapterAttributes, Unknown: p.unknown(format, ev.Unknown)}
		if p.cfg.KeepRaw {
			pm.Raw = ev.Raw
		}
		byGUID[ev.MessageGuid] = len(msgs)
		msgs = append(msgs, pm)
	}
	var apart []mapping.PushedSubValues
	for _, ev := range events {
		if ev.Kind == push.KindRun {
			continue
		}
		i, ok := byGUID[ev.MessageGuid]
		if !ok {
			apart = append(apart, mapping.PushedSubValues{MessageGuid: ev.MessageGuid, Format: format,
				CustomHeaders: ev.CustomHeaders, AdapterAttributes: ev.AdapterAttributes, Time: ev.Time})
			continue
		}
		m := &msgs[i]
		m.MPL.CustomHeaderProperties = append(m.MPL.CustomHeaderProperties, ev.CustomHeaders...)
		m.AdapterAttributes = append(m.AdapterAttributes, ev.AdapterAttributes...)
	}
	return msgs, apart
}

// subValuesKey identifies a sub-value event by its message and content, so that SAP sending it again
// gives no second record.
func subValuesKey(sv *mapping.PushedSubValues) checkpoint.Key {
	parts := make([]string, 0, 2+3*len(sv.CustomHeaders)+4*len(sv.AdapterAttributes))
	parts = append(parts, "subvalues", sv.MessageGuid)
	for _, h := range sv.CustomHeaders {
		parts = append(parts, "h", h.Name, h.Value)
	}
	for _, a := range sv.AdapterAttributes {
		parts = append(parts, a.AdapterId, a.AdapterMessageId, a.Name, a.Value)
	}
	return checkpoint.KeyOf(parts...)
}

// deliverSubValues delivers sub-value events that came apart from their Run as records of their own,
// once each: their keys go into the window with the pushed states' and stay for the push dedup window.
func (s *messageSource) deliverSubValues(ctx context.Context, format string, subs []mapping.PushedSubValues) error {
	if err := s.lockForPush(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	fresh := make([]mapping.PushedSubValues, 0, len(subs))
	keys := make([]checkpoint.Key, 0, len(subs))
	inBatch := map[checkpoint.Key]struct{}{}
	for i := range subs {
		k := subValuesKey(&subs[i])
		if _, dup := inBatch[k]; dup || s.window.Has(k, sinkRecords) {
			continue
		}
		inBatch[k] = struct{}{}
		fresh, keys = append(fresh, subs[i]), append(keys, k)
	}
	if len(fresh) > 0 {
		now := s.now()
		if err := s.out.consumeLogs(ctx, "push_"+format, s.mapper.PushedSubValues(fresh, now), "pushed sub-values"); err != nil {
			return err
		}
		for _, k := range keys {
			s.window.Add(k, now, sinkRecords)
		}
		if err := s.commitKeys(ctx); err != nil {
			return err
		}
	}
	s.tel.recordPush(format, "accepted", len(fresh))
	s.tel.recordPush(format, "duplicate", len(subs)-len(fresh))
	return nil
}

// unknown counts the unrecognised keys and keeps those the configuration asks for.
func (p *pushServer) unknown(format string, keys map[string]any) map[string]any {
	if len(keys) == 0 {
		return nil
	}
	var kept map[string]any
	for k, v := range keys {
		p.tel.recordUnknownField(k)
		switch p.cfg.UnknownFields.Mode {
		case "namespace":
		case "allow":
			if !slices.Contains(p.cfg.UnknownFields.Allow, k) {
				continue
			}
		default:
			continue
		}
		if kept == nil {
			kept = map[string]any{}
		}
		kept[k] = v
	}
	_ = format
	return kept
}

// pushedKey: a pushed state is keyed exactly as a pulled one.
func pushedKey(m *mapping.PushedMessage) checkpoint.Key { return messageKey(&m.MPL) }

// deliverPushed delivers pushed states through the source's window: those delivered before (pushed or
// pulled) are dropped, the others fetched their error text as a pulled state would, mapped, handed on,
// counted in the metrics, and their keys committed — all before the push is answered.
func (s *messageSource) deliverPushed(ctx context.Context, format string, msgs []mapping.PushedMessage) error {
	candidates, err := s.freshPushed(ctx, msgs)
	if err != nil {
		return err
	}
	if len(candidates) == 0 {
		s.tel.recordPush(format, "duplicate", len(msgs))
		return nil
	}
	// The error texts are read before the window is locked: the pull keeps polling meanwhile.
	mpls := make([]cpi.MessageProcessingLog, len(candidates))
	for i := range candidates {
		mpls[i] = candidates[i].MPL
	}
	if s.out.logs != nil {
		details, err := s.errorDetails(ctx, nil, mpls)
		if err != nil {
			return err
		}
		for i := range candidates {
			if i < len(details) {
				candidates[i].Detail = details[i]
			}
		}
	}
	if err := s.lockForPush(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	fresh := s.freshPushedLocked(candidates)
	if len(fresh) > 0 {
		if err := s.out.consumeLogs(ctx, "push_"+format, s.mapper.Pushed(fresh, s.now()), "pushed message records"); err != nil {
			return err
		}
		delivered := make([]cpi.MessageProcessingLog, len(fresh))
		now := s.now()
		for i := range fresh {
			delivered[i] = fresh[i].MPL
			// A state pushed without LogEnd (nor a transport time for it) is kept from its arrival:
			// a key stamped in year 1 would be pruned at once and SAP's redelivery emitted again.
			at := fresh[i].MPL.LogEnd.Time
			if at.IsZero() {
				at = now
			}
			s.window.Add(pushedKey(&fresh[i]), at, sinkRecords)
		}
		s.tel.recordMessages(delivered)
		if err := s.commitKeys(ctx); err != nil {
			return err
		}
	}
	s.tel.recordPush(format, "accepted", len(fresh))
	s.tel.recordPush(format, "duplicate", len(msgs)-len(fresh))
	return nil
}

func (s *messageSource) freshPushed(ctx context.Context, msgs []mapping.PushedMessage) ([]mapping.PushedMessage, error) {
	if err := s.lockForPush(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return s.freshPushedLocked(msgs), nil
}

// errPushBusy: the pull held the window longer than a push waits for it.
var errPushBusy = errors.New("the receiver is busy delivering a page of the pull; send again")

// pushLockWait is how long a push waits for the window. A page of the pull holds it while it is
// delivered, which under the rate limit can take long (error texts, runs, payloads of many failed
// messages): SAP then gets a 503 it retries rather than a request that times out.
var pushLockWait = 5 * time.Second

// lockForPush takes mu for a push, waiting at most pushLockWait or until the request ends.
func (s *messageSource) lockForPush(ctx context.Context) error {
	if s.mu.TryLock() {
		return nil
	}
	deadline := time.NewTimer(pushLockWait)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !s.mu.TryLock() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", errPushBusy, ctx.Err())
		case <-deadline.C:
			return errPushBusy
		case <-tick.C:
		}
	}
	return nil
}

func (s *messageSource) freshPushedLocked(msgs []mapping.PushedMessage) []mapping.PushedMessage {
	out := make([]mapping.PushedMessage, 0, len(msgs))
	inBatch := map[checkpoint.Key]struct{}{}
	for i := range msgs {
		k := pushedKey(&msgs[i])
		if _, dup := inBatch[k]; dup || s.window.Has(k, sinkRecords) {
			continue
		}
		inBatch[k] = struct{}{}
		out = append(out, msgs[i])
	}
	return out
}

// commitKeys prunes and writes the window without moving the pull's watermark; callers hold mu.
func (s *messageSource) commitKeys(ctx context.Context) error {
	return s.commit(ctx, s.window.Horizon)
}
