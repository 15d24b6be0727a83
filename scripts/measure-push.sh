#!/usr/bin/env bash
# Runs the real otelcol-sapcpi binary with its push endpoint against the simulated tenant, which pushes
# its live MPL states like External Logging's OTEL target (gzip, 100 events a request) while the
# receiver also pulls (the gap repair); reports the records delivered, the collector's CPU and its peak
# resident memory (VmHWM).
# Usage: make build && RATE=1000 DURATION=60 scripts/measure-push.sh
set -euo pipefail
RATE=${RATE:-1000}            # live messages per second
DURATION=${DURATION:-60}      # seconds of live traffic measured
TARGET=${TARGET:-OTEL}        # OTEL, JSON or Splunk
PULL=${PULL:-true}            # the pull runs beside the push, as by default
ADDR=${ADDR:-127.0.0.1:18767}
PUSH_ADDR=${PUSH_ADDR:-127.0.0.1:18088}
METRICS_PORT=${METRICS_PORT:-18889}
root=$(cd "$(dirname "$0")/.." && pwd)
otelcol=${OTELCOL:-$root/dist/otelcol-sapcpi/otelcol-sapcpi}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

case $TARGET in
  OTEL) url=http://$PUSH_ADDR/v1/logs ;;
  JSON) url=http://$PUSH_ADDR/sapcpi/v1/mpl ;;
  Splunk) url=http://$PUSH_ADDR ;;
  *) echo "TARGET must be OTEL, JSON or Splunk"; exit 2 ;;
esac

cat >"$work/config.yaml" <<YAML
extensions:
  file_storage: { directory: $work/storage, create_directory: true }
receivers:
  sapcpi/push:
    service_key_file: $work/key.json
    storage: file_storage
    messages:
      enabled: $PULL
      poll_interval: 10s
      settle_delay: 10s
      error_details: { enabled: false }
    inventory: { enabled: false }
    audit_logs: { enabled: false }
    log_files: { enabled: false }
    operations: { enabled: false }
    push: { enabled: true, endpoint: "$PUSH_ADDR" }
exporters:
  debug: { verbosity: basic, sampling_initial: 1, sampling_thereafter: 1000 }
service:
  extensions: [file_storage]
  telemetry:
    metrics:
      level: normal
      readers:
        - pull: { exporter: { prometheus: { host: 127.0.0.1, port: $METRICS_PORT } } }
  pipelines:
    logs: { receivers: [sapcpi/push], exporters: [debug] }
YAML

go build -o "$work/fakecpi" "$root/cmd/fakecpi"
# The collector first, so that the key file exists before it starts: the simulator writes it at once.
"$work/fakecpi" -addr "$ADDR" -rate "$RATE" -backlog 0 -time-scale 1s -late-by 2s \
  -push-target "$TARGET" -push-url "$url" -push-every 1s \
  -service-key-out "$work/key.json" >"$work/fakecpi.log" 2>&1 &
sim=$!
until [ -s "$work/key.json" ]; do sleep 0.2; done
"$otelcol" --config "$work/config.yaml" >"$work/otelcol.log" 2>&1 &
pid=$!

accepted() {
  { curl -fs "http://127.0.0.1:$METRICS_PORT/metrics" || true; } |
    awk '/^otelcol_receiver_accepted_log_records/ {s+=$NF} END {print s+0}'
}
cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }
sleep 10 # warm-up: the first windows, the first poll
a0=$(accepted); c0=$(cpu); t0=$(date +%s.%N)
sleep "$DURATION"
a1=$(accepted); c1=$(cpu); t1=$(date +%s.%N)
kill -0 "$pid" || { echo "collector exited"; tail -20 "$work/otelcol.log"; exit 1; }
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
hz=$(getconf CLK_TCK)
kill -TERM "$pid"; wait "$pid" || true
kill -INT "$sim"; wait "$sim" || true
grep -o 'push {.*}' "$work/fakecpi.log" | tail -1 || true
awk -v r="$RATE" -v tg="$TARGET" -v pull="$PULL" -v a0="$a0" -v a1="$a1" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$hz" -v h="$hwm" -v rss="$rss" 'BEGIN {
  d = t1 - t0
  printf "%s push at %d MPL/s (pull %s): %.0f records/s delivered over %.0f s; collector CPU %.1f %% of a core; RSS %.1f MiB, peak (VmHWM) %.1f MiB\n",
    tg, r, pull, (a1-a0)/d, d, 100*(c1-c0)/hz/d, rss/1024, h/1024 }'
