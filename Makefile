# sapcpireceiver: `make run` builds the distribution and runs it against the simulated tenant;
# `make test` runs every test (unit, then end-to-end with the real binary).
GO        ?= go
OCB_VER   := v0.165.0
BIN       := $(CURDIR)/bin
OCB       := $(BIN)/builder
DIST      := $(CURDIR)/dist/otelcol-sapcpi
OTELCOL   := $(DIST)/otelcol-sapcpi
FAKECPI   := $(BIN)/fakecpi
RUNDIR    ?= $(CURDIR)/.tmp/run
PUSH_ADDR ?= 127.0.0.1:18088
SOURCES   := $(shell find receiver internal cmd -name '*.go' -not -name '*_test.go') go.mod go.sum

.PHONY: all build run test unit lint e2e prometheus-test screenshots contrib bench generate fmt vet clean

all: build

## build: the otelcol-sapcpi distribution, built by ocb from builder-config.yaml (cached by make)
build: $(OTELCOL)

$(OCB):
	GOBIN=$(BIN) $(GO) install go.opentelemetry.io/collector/cmd/builder@$(OCB_VER)

$(OTELCOL): $(OCB) builder-config.yaml $(SOURCES)
	@mkdir -p $(DIST)
	$(OCB) --config builder-config.yaml
	@touch $@

$(FAKECPI): $(SOURCES)
	$(GO) build -o $@ ./cmd/fakecpi

## run: the distribution against the simulated tenant, printing records with the debug exporter
run: $(OTELCOL) $(FAKECPI)
	@# The simulated tenant starts afresh each time, so the checkpoints of an earlier run do not apply.
	@rm -rf $(RUNDIR)/storage && mkdir -p $(RUNDIR)/storage
	@echo "Starting the simulated tenant on a free loopback port (service key: $(RUNDIR)/service-key.json)"
	@rm -f $(RUNDIR)/service-key.json
	@# It also pushes 80 % of its MPL states to the receiver's push endpoint, as External Logging would.
	@$(FAKECPI) -addr 127.0.0.1:0 -rate 2 -backlog 40 -backlog-span 20m -fault-rate 0.05 \
		-push-target OTEL -push-url http://$(PUSH_ADDR)/v1/logs -push-drop-share 0.2 -push-every 5s \
		-service-key-out $(RUNDIR)/service-key.json -calm-service-key-out $(RUNDIR)/calm-service-key.json \
		-audit-service-key-out $(RUNDIR)/audit-service-key.json & echo $$! > $(RUNDIR)/fakecpi.pid; \
	trap 'kill $$(cat $(RUNDIR)/fakecpi.pid) 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 50); do [ -s $(RUNDIR)/service-key.json ] && break; sleep 0.1; done; \
	RUNDIR=$(RUNDIR) PUSH_ENDPOINT=$(PUSH_ADDR) $(OTELCOL) --config $(CURDIR)/examples/run-local.yaml

## test: every test — unit tests with the race detector, the end-to-end run of the real binary, the alert
## rules and dashboards against a real Prometheus, and the build of an otelcol-contrib-style manifest
test: lint unit e2e prometheus-test contrib

## lint: go vet and staticcheck (a tool of go.mod) on every package of both modules
lint:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/
	$(GO) tool staticcheck ./...
	cd deploy && $(GO) vet ./...

## contrib: builds builder-config-contrib.yaml (contrib components plus this receiver) to prove it compiles
contrib: $(OCB)
	@mkdir -p dist/otelcol-contrib-sapcpi
	$(OCB) --config builder-config-contrib.yaml
	./dist/otelcol-contrib-sapcpi/otelcol-contrib-sapcpi components | grep -q 'name: sapcpi'
	@echo "otelcol-contrib-sapcpi builds and lists the sapcpi receiver"

unit:
	$(GO) test -race -count=1 ./...
	cd deploy && $(GO) test -count=1 ./...

e2e: $(OTELCOL)
	$(GO) test -tags e2e -count=1 -timeout 20m -skip '$(LIVE_PROM_TEST)' ./e2e/ -otelcol $(OTELCOL)

## prometheus-test: promtool checks and unit-tests the alert rules of both files; then the distribution
## runs against the simulated tenant (operational sources on, push simulated, traces read) with a real
## Prometheus scraping it, and every dashboard panel query, every rule's selectors, that every served
## series is shown, and the alerts that must fire are checked on the live data (needs prometheus and
## promtool: apt-get install -y prometheus)
PROMETHEUS      ?= prometheus
PROMTOOL        ?= promtool
LIVE_PROM_TEST  := TestDashboardsAndAlertsOnARealPrometheus
prometheus-test: $(OTELCOL)
	@command -v $(PROMTOOL) >/dev/null || { echo "promtool not found: install Prometheus (apt-get install -y prometheus) or set PROMTOOL=<path>"; exit 1; }
	$(PROMTOOL) check rules examples/alerting/prometheus-rules.yaml examples/alerting/operations-rules.yaml
	$(PROMTOOL) test rules examples/alerting/tests/*.yaml
	$(GO) test -tags e2e -count=1 -timeout 10m -v -run '^$(LIVE_PROM_TEST)$$' ./e2e/ -otelcol $(OTELCOL) -prometheus $(PROMETHEUS)

## screenshots: the live Prometheus run again, rendering the dashboards and Prometheus' alerts from its data
## as HTML, photographed with headless Chromium into docs/images/ (apt-get install -y chromium). Not part of
## make test.
CHROMIUM        ?= chromium
SHOTS           := $(CURDIR)/.tmp/screenshots
screenshots: $(OTELCOL)
	@command -v $(CHROMIUM) >/dev/null || { echo "chromium not found: apt-get install -y chromium, or set CHROMIUM=<path>"; exit 1; }
	rm -rf $(SHOTS) && mkdir -p $(SHOTS)/html docs/images
	$(GO) test -tags e2e -count=1 -timeout 10m -run '^$(LIVE_PROM_TEST)$$' ./e2e/ -otelcol $(OTELCOL) -prometheus $(PROMETHEUS) -render $(SHOTS)/html
	while read -r name width height; do \
		rm -rf $(SHOTS)/profile && mkdir -p $(SHOTS)/profile; \
		$(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
			--disable-background-networking --disable-component-update --disable-sync \
			--user-data-dir=$(SHOTS)/profile --hide-scrollbars --screenshot=$(CURDIR)/docs/images/$$name.png \
			--window-size=$$width,$$height file://$(SHOTS)/html/$$name.html || exit 1; \
	done < $(SHOTS)/html/pages.txt
	@ls -l docs/images/*.png

## bench: the page benchmarks (decode, map), then a short backfill of the real binary from the static page
## server (cmd/benchcpi) that prints the collector's CPU per record against a bare encoding/json decode of
## the same pages (docs/benchmarks.md). The full run: ERROR_DETAILS=false N=1000000 SERVER=static scripts/measure-backfill.sh
BENCH_N ?= 200000
bench: $(OTELCOL)
	$(GO) test -run '^$$' -bench 'BenchmarkPage' -benchmem -count 5 ./receiver/
	ERROR_DETAILS=false N=$(BENCH_N) SPAN=24h SERVER=static scripts/measure-backfill.sh

## generate: mdatagen from metadata.yaml. mdatagen names the package after the folder, so it runs in a
## folder called sapcpireceiver (a link to this one) and its component tests move to ./receiver.
generate:
	@mkdir -p .tmp && ln -sfn .. .tmp/sapcpireceiver
	cd .tmp/sapcpireceiver && $(GO) tool mdatagen metadata.yaml; status=$$?; rm -f $(CURDIR)/.tmp/sapcpireceiver; exit $$status
	mv generated_component_test.go generated_package_test.go receiver/

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

clean:
	rm -rf bin dist .tmp
