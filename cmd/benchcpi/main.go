// Command benchcpi is a static MessageProcessingLogs server for measuring the receiver: it renders a
// backlog of the simulated tenant (internal/fakecpi) once, keeps every entry's bytes, and answers the
// receiver's list requests ($filter on LogEnd, $top, $skip, $skiptoken and __next for a page cap) by
// slicing them, so that in a measurement the server is never the bottleneck. It also measures the
// yardstick the receiver is compared with: encoding/json.Unmarshal of the same pages (-bare-decode).
//
//	benchcpi -addr 127.0.0.1:18766 -backlog 200000 -backlog-span 24h -bare-decode -service-key-out key.json
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
	"syscall"
	"time"

	"github.com/sapcpi-otel/sapcpireceiver/internal/fakecpi"
	"github.com/sapcpi-otel/sapcpireceiver/internal/simauth"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18766", "listen address (loopback)")
	backlog := flag.Int("backlog", 200000, "final MPLs to serve")
	span := flag.Duration("backlog-span", 24*time.Hour, "time span of the backlog, ending now")
	seed := flag.Uint64("seed", 1, "random seed of the simulated tenant")
	pageCap := flag.Int("page-cap", 1000, "most entries per response; a shorter page than $top gets a __next link")
	keyOut := flag.String("service-key-out", "", "write a service key JSON for this server to this path")
	bare := flag.Bool("bare-decode", false, "before serving, print the CPU time per record of encoding/json.Unmarshal of the pages")
	rounds := flag.Int("bare-rounds", 1, "with -bare-decode, how many times the whole backlog is decoded")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("benchcpi: %v", err)
	}
	base := "http://" + ln.Addr().String()
	started := time.Now()
	st, err := render(fakecpi.Options{Seed: *seed, Backlog: *backlog, BacklogSpan: *span}, base+"/api/v1/")
	if err != nil {
		log.Fatalf("benchcpi: rendering the backlog: %v", err)
	}
	if *bare {
		// Measured here, before anything is served, so that it runs alone; the rendered backlog stays in
		// memory, so the collector runs seldom: if anything, the yardstick comes out cheap.
		per, n, err := bareDecode(st, *rounds)
		if err != nil {
			log.Fatalf("benchcpi: %v", err)
		}
		fmt.Printf("bare_decode_cpu_ns_per_record %d records %d page_bytes_per_record %d\n", per.Nanoseconds(), n, len(st.data)/max(st.len(), 1))
	}
	const id, secret = "sapcpi-bench", "bench-secret"
	srv := &server{st: st, auth: simauth.New(id, secret, time.Hour, time.Now), pageCap: *pageCap}
	if *keyOut != "" {
		key := map[string]any{"oauth": map[string]string{
			"clientid": id, "clientsecret": secret, "url": base, "tokenurl": base + "/oauth/token",
		}}
		raw, _ := json.MarshalIndent(key, "", "  ")
		if err := os.WriteFile(*keyOut, raw, 0o600); err != nil {
			log.Fatalf("benchcpi: writing service key: %v", err)
		}
	}
	fmt.Printf("benchcpi: %d MPLs (%d bytes) rendered in %.1fs, served at %s/api/v1\n",
		st.len(), len(st.data), time.Since(started).Seconds(), base)
	hs := &http.Server{Handler: srv.routes(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(c)
	}()
	if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatalf("benchcpi: %v", err)
	}
	fmt.Printf("benchcpi: answered %d list requests\n", srv.requests.Load())
}

// cpuTime is the user and system CPU time this process has used, every thread included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
