#!/usr/bin/env bash
# Backfills N message processing logs from the simulated tenant into the real otelcol-sapcpi binary and
# reports the wall time, the throughput and the collector's peak resident memory (VmHWM).
# Usage: make build && N=1000000 SPAN=24h scripts/measure-backfill.sh
set -euo pipefail
N=${N:-1000000}
SPAN=${SPAN:-24h}
LOOKBACK=${LOOKBACK:-30h}
ADDR=${ADDR:-127.0.0.1:18766}
METRICS_PORT=${METRICS_PORT:-18888}
ERROR_DETAILS=${ERROR_DETAILS:-true}   # error texts are rate-limited per message: false measures the page path
root=$(cd "$(dirname "$0")/.." && pwd)
otelcol=$root/dist/otelcol-sapcpi/otelcol-sapcpi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/fakecpi" "$root/cmd/fakecpi"
"$work/fakecpi" -addr "$ADDR" -rate 0 -backlog "$N" -backlog-span "$SPAN" -time-scale 1m \
  -service-key-out "$work/key.json" >"$work/fakecpi.log" 2>&1 &
until [ -s "$work/key.json" ]; do sleep 0.2; done

cat >"$work/config.yaml" <<YAML
extensions:
  file_storage: { directory: $work/storage, create_directory: true }
receivers:
  sapcpi/backfill:
    service_key_file: $work/key.json
    storage: file_storage
    timeout: 2m
    messages:
      poll_interval: 5s
      settle_delay: 10s
      initial_lookback: $LOOKBACK
      error_details: { enabled: $ERROR_DETAILS }
    rate_limits:
      message_processing_logs: { requests_per_second: 100, burst: 10 }
exporters:
  debug: { verbosity: basic }
service:
  extensions: [file_storage]
  telemetry:
    metrics:
      level: normal
      readers:
        - pull: { exporter: { prometheus: { host: 127.0.0.1, port: $METRICS_PORT } } }
  pipelines:
    logs: { receivers: [sapcpi/backfill], exporters: [debug] }
YAML

start=$(date +%s.%N)
"$otelcol" --config "$work/config.yaml" >"$work/otelcol.log" 2>&1 &
pid=$!
while :; do
  # The collector's own count of records the receiver handed on (the debug exporter's log is sampled).
  got=$( { curl -fs "http://127.0.0.1:$METRICS_PORT/metrics" || true; } |
    awk '/^otelcol_receiver_accepted_log_records/ {s+=$NF} END {print s+0}')
  [ "$got" -ge "$N" ] && break
  kill -0 "$pid" || { echo "collector exited"; tail -20 "$work/otelcol.log"; exit 1; }
  sleep 0.5
done
end=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
kill -TERM "$pid"; wait "$pid" || true
awk -v ed="$ERROR_DETAILS" -v n="$N" -v s="$start" -v e="$end" -v h="$hwm" -v span="$SPAN" 'BEGIN {
  printf "error_details=%s: backfilled %d MPLs (spread over %s) in %.1f s = %.0f records/s; collector peak RSS (VmHWM) %.1f MiB\n", ed, n, span, e-s, n/(e-s), h/1024 }'
