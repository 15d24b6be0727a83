# sapcpireceiver: `make run` builds the distribution and runs it against the simulated tenant;
# `make test` runs every test (unit, then end-to-end with the real binary).
GO        ?= go
OCB_VER   := v0.165.0
BIN       := $(CURDIR)/bin
OCB       := $(BIN)/builder
DIST      := $(CURDIR)/dist/otelcol-sapcpi
OTELCOL   := $(DIST)/otelcol-sapcpi
FAKECPI   := $(BIN)/fakecpi
RUNDIR    := $(CURDIR)/.tmp/run
SOURCES   := $(shell find receiver internal cmd -name '*.go' -not -name '*_test.go') go.mod go.sum

.PHONY: all build run test unit e2e contrib bench generate fmt vet clean

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
	@echo "Starting the simulated tenant on 127.0.0.1:8765 (service key: $(RUNDIR)/service-key.json)"
	@$(FAKECPI) -addr 127.0.0.1:8765 -rate 2 -backlog 40 -backlog-span 20m -fault-rate 0.05 \
		-service-key-out $(RUNDIR)/service-key.json -calm-service-key-out $(RUNDIR)/calm-service-key.json \
		-audit-service-key-out $(RUNDIR)/audit-service-key.json & echo $$! > $(RUNDIR)/fakecpi.pid; \
	trap 'kill $$(cat $(RUNDIR)/fakecpi.pid) 2>/dev/null' EXIT INT TERM; \
	sleep 1; \
	RUNDIR=$(RUNDIR) $(OTELCOL) --config $(CURDIR)/examples/run-local.yaml

## test: every test — unit tests with the race detector, the end-to-end run of the real binary, and the
## build of an otelcol-contrib-style manifest with this receiver
test: unit e2e contrib

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
	$(GO) test -tags e2e -count=1 -timeout 20m ./e2e/ -otelcol $(OTELCOL)

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
