// Command fakecpi serves a simulated SAP Cloud Integration tenant (and, under /calm, a simulated SAP
// Cloud ALM; with -tenants, many tenants under /t/<name>/) on loopback, for `make run`, the end-to-end
// test and benchmarks. It can write a service key for it, so the collector is configured the
// way a user configures a real tenant.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakeaudit"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecalm"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/fakepush"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8765", "listen address (loopback)")
	rate := flag.Float64("rate", 5, "live messages per second")
	backlog := flag.Int("backlog", 200, "messages generated before start")
	backlogSpan := flag.Duration("backlog-span", time.Hour, "time span of the backlog")
	scale := flag.Duration("time-scale", 10*time.Second, "unit of retry and long-run durations")
	late := flag.Duration("late-by", 5*time.Second, "delay of late-written entries")
	faultRate := flag.Float64("fault-rate", 0, "share of API requests that get a random transient fault")
	faults := flag.String("faults", "", "comma list of fault kinds for -fault-rate (default all transient)")
	tokenTTL := flag.Duration("token-ttl", time.Hour, "lifetime of issued tokens")
	seed := flag.Uint64("seed", 1, "random seed")
	logRequests := flag.Bool("log-requests", false, "print every MessageProcessingLogs request")
	keyOut := flag.String("service-key-out", "", "write a service key JSON for this tenant to this path")
	auditKeyOut := flag.String("audit-service-key-out", "", "write an auditlog-management service key for the simulated BTP Audit Log retrieval API (served under /btp) to this path")
	calmKeyOut := flag.String("calm-service-key-out", "", "write an SAP Cloud ALM API service key for the simulated Cloud ALM (served under /calm) to this path")
	// Tenant variants, each off by default (see fakecpi.Options).
	secondPrecision := flag.String("second-precision", "", "store LogStart/LogEnd at whole seconds and round $filter datetimes: floor or ceil")
	pageCap := flag.Int("page-cap", 0, "most entries per response, also below $top (0: CPI's 1000)")
	absoluteNext := flag.Bool("absolute-next", false, "write next links as absolute URLs instead of relative ones")
	burstSize := flag.Int("burst-size", 0, "every -burst-every-th message is a burst of this many MPLs with the same LogStart and LogEnd")
	burstEvery := flag.Int("burst-every", 0, "distance between bursts in generated messages (0: 1000)")
	lateShare := flag.Float64("late-share", 0, "share of final states written -late-by late (0: 0.03)")
	advance := flag.Duration("advance-per-request", 0, "move the tenant's clock by this much after every MessageProcessingLogs list request")
	literalQuotes := flag.Bool("literal-quotes-only", false, "find keyed paths only with literal quotes; %27 answers 404")
	unstableTies := flag.Bool("unstable-ties", false, "order MPLs of one LogEnd differently on every list request")
	resourceUsageLate := flag.Duration("resource-usage-late-by", 0, "answer an hour's resource usage only this long after the hour ended (0: at once)")
	runsNotFound := flag.Bool("runs-not-found", false, "answer 404 for MPL Runs and RunSteps")
	tenants := flag.Int("tenants", 0, "also serve this many tenants, each with its own stream and credentials, under /t/<name>/ (names t01, t02, …)")
	keyDir := flag.String("service-key-dir", "", "with -tenants: write one service key per tenant, <name>.json, into this directory")
	outages := flag.String("tenant-outages", "", "with -tenants: comma list of <name>=401|404|429 (a deleted service key, a deleted tenant, a throttling storm)")
	traceFormats := flag.String("trace-formats", "classic", "comma list of line formats the trace log files take in turn: classic (#2.0#…), hashed (2026-12-01 20:31:01.726#+00#LEVEL#…), mixed (both, and stray lines)")
	pushTarget := flag.String("push-target", "", "also push MPL states like External Logging: OTEL, JSON or Splunk")
	pushURL := flag.String("push-url", "", "push target URL (OTEL: the full …/v1/logs URL; Splunk: the HEC base)")
	pushDropShare := flag.Float64("push-drop-share", 0, "share of push windows never pushed (left to pull)")
	pushAuth := flag.String("push-auth-header", "", "Authorization header of pushes (e.g. \"Splunk <token>\")")
	pushEvery := flag.Duration("push-every", time.Second, "push window length")
	flag.Parse()

	rounding := fakecpi.Rounding(*secondPrecision)
	switch rounding {
	case "", fakecpi.RoundFloor, fakecpi.RoundCeil:
	default:
		log.Fatalf("fakecpi: -second-precision must be floor or ceil, not %q", *secondPrecision)
	}
	opts := fakecpi.Options{
		Seed: *seed, Rate: *rate, Backlog: *backlog, BacklogSpan: *backlogSpan, TimeScale: *scale,
		LateBy: *late, FaultRate: *faultRate, TokenTTL: *tokenTTL,
		SecondPrecision: rounding, PageCap: *pageCap, AbsoluteNext: *absoluteNext, BurstSize: *burstSize, BurstEvery: *burstEvery,
		LateShare: *lateShare, AdvancePerRequest: *advance, LiteralQuotesOnly: *literalQuotes, UnstableTies: *unstableTies, ResourceUsageLateBy: *resourceUsageLate, RunsNotFound: *runsNotFound,
	}
	if *logRequests {
		opts.RequestLog = func(line string) { log.Print(line) }
	}
	var err error
	if opts.TraceFormats, err = fakecpi.ParseTraceFormats(*traceFormats); err != nil {
		log.Fatalf("fakecpi: -trace-formats: %v", err)
	}
	for _, f := range strings.Split(*faults, ",") {
		if f = strings.TrimSpace(f); f != "" {
			opts.FaultKinds = append(opts.FaultKinds, fakecpi.Fault(f))
		}
	}
	sim := fakecpi.New(opts)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("fakecpi: %v", err)
	}
	base := "http://" + ln.Addr().String()
	if *keyOut != "" {
		id, secret := sim.Credentials()
		key := map[string]any{"oauth": map[string]string{
			"clientid": id, "clientsecret": secret, "url": base, "tokenurl": base + "/oauth/token",
			"createdate": time.Now().UTC().Format(time.RFC3339),
		}}
		raw, _ := json.MarshalIndent(key, "", "  ")
		if err := os.WriteFile(*keyOut, raw, 0o600); err != nil {
			log.Fatalf("fakecpi: writing service key: %v", err)
		}
	}
	alm := fakecalm.New(fakecalm.Options{Seed: *seed})
	if *calmKeyOut != "" {
		id, secret := alm.Credentials()
		key := map[string]any{
			"endpoints": map[string]string{"Api": base + "/calm/api"},
			"uaa":       map[string]string{"clientid": id, "clientsecret": secret, "url": base + "/calm"},
		}
		raw, _ := json.MarshalIndent(key, "", "  ")
		if err := os.WriteFile(*calmKeyOut, raw, 0o600); err != nil {
			log.Fatalf("fakecpi: writing Cloud ALM service key: %v", err)
		}
	}
	audit := fakeaudit.New(fakeaudit.Options{})
	if *auditKeyOut != "" {
		id, secret := audit.Credentials()
		raw, _ := json.MarshalIndent(map[string]any{"url": base + "/btp", "uaa": map[string]string{"clientid": id, "clientsecret": secret, "url": base + "/btp"}}, "", "  ")
		if err := os.WriteFile(*auditKeyOut, raw, 0o600); err != nil {
			log.Fatalf("fakecpi: writing audit log service key: %v", err)
		}
	}
	mux := http.NewServeMux()
	if *tenants > 0 {
		hosted := fakecpi.NewTenants(fakecpi.TenantNames(*tenants), func(string) fakecpi.Options { return opts })
		if err := setOutages(hosted, *outages); err != nil {
			log.Fatalf("fakecpi: -tenant-outages: %v", err)
		}
		if *keyDir != "" {
			if err := os.MkdirAll(*keyDir, 0o700); err != nil {
				log.Fatalf("fakecpi: %v", err)
			}
			for _, name := range hosted.Names() {
				raw, err := hosted.ServiceKey(base, name)
				if err == nil {
					err = os.WriteFile(filepath.Join(*keyDir, name+".json"), raw, 0o600)
				}
				if err != nil {
					log.Fatalf("fakecpi: writing the service key of %s: %v", name, err)
				}
			}
		}
		mux.Handle("/t/", hosted.Handler())
		fmt.Printf("fakecpi: %d simulated tenants at %s/t/<name>/api/v1 (%s … %s)\n", *tenants, base, hosted.Names()[0], hosted.Names()[*tenants-1])
	}
	mux.Handle("/calm/", http.StripPrefix("/calm", alm.Handler()))
	mux.Handle("/btp/", http.StripPrefix("/btp", audit.Handler()))
	mux.Handle("/", sim.Handler())
	fmt.Printf("fakecpi: simulated tenant at %s/api/v1 (token endpoint %s/oauth/token), simulated Cloud ALM at %s/calm/api, simulated BTP audit log at %s/btp\n", base, base, base, base)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	pushDone := make(chan struct{})
	if *pushTarget == "" {
		close(pushDone)
	} else {
		popts := fakepush.Defaults(fakepush.Target(*pushTarget), *pushURL)
		popts.DropShare, popts.Seed, popts.AuthHeader, popts.TenantURL, popts.Since = *pushDropShare, *seed, *pushAuth, base, time.Now()
		pusher, err := fakepush.New(sim, popts)
		if err != nil {
			log.Fatalf("fakecpi: %v", err)
		}
		fmt.Printf("fakecpi: pushing MPL states to %s (%s) every %s\n", *pushURL, *pushTarget, *pushEvery)
		go func() {
			defer close(pushDone)
			if err := pusher.Run(ctx, *pushEvery); err != nil {
				log.Printf("fakecpi: push stopped: %v", err)
			}
			log.Printf("fakecpi: push %+v", pusher.Stats())
		}()
	}
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatalf("fakecpi: %v", err)
	}
	<-pushDone
}

// setOutages applies a -tenant-outages list such as "t04=401,t06=429".
func setOutages(t *fakecpi.Tenants, list string) error {
	for _, item := range strings.Split(list, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, code, ok := strings.Cut(item, "=")
		o := fakecpi.Outage(code)
		switch {
		case !ok || t.Tenant(name) == nil:
			return fmt.Errorf("%q: want <tenant>=<401|404|429> with a tenant of -tenants", item)
		case o != fakecpi.OutageUnauthorized && o != fakecpi.OutageNotFound && o != fakecpi.OutageThrottled:
			return fmt.Errorf("%q: the outage is 401, 404 or 429", item)
		}
		t.SetOutage(name, o)
	}
	return nil
}
