#!/usr/bin/env bash
# Backfills N message processing logs into the real otelcol-sapcpi binary and reports the wall time, the
# throughput, the collector's CPU per record (from /proc), its peak resident memory (VmHWM) and the
# list requests per 1,000 MPLs.
#
# Usage: make build && N=1000000 SPAN=24h scripts/measure-backfill.sh
#   SERVER=sim      the simulated tenant (cmd/fakecpi), default
#   SERVER=static   the static page server (cmd/benchcpi): the simulated tenant's bytes, pre-rendered, so
#                   the server is never the bottleneck; it also measures the yardstick, a bare
#                   encoding/json.Unmarshal of the same pages, and the script prints the ratio
#   EXPORTER=debug  debug exporter (basic verbosity), default; EXPORTER=file writes OTLP JSON to a file
#   PROFILE=1       adds the pprof extension: the CPU profile of the whole run and the allocation
#                   profile at the end are kept in $OUT (default ./.tmp/profile)
set -euo pipefail
N=${N:-1000000}
SPAN=${SPAN:-24h}
LOOKBACK=${LOOKBACK:-30h}
ADDR=${ADDR:-127.0.0.1:18766}
METRICS_PORT=${METRICS_PORT:-18888}
PPROF_PORT=${PPROF_PORT:-18777}
SERVER=${SERVER:-sim}
EXPORTER=${EXPORTER:-debug}
PROFILE=${PROFILE:-0}
RATE=${RATE:-100}
ERROR_DETAILS=${ERROR_DETAILS:-true}   # error texts are rate-limited per message: false measures the page path
root=$(cd "$(dirname "$0")/.." && pwd)
otelcol=${OTELCOL:-$root/dist/otelcol-sapcpi/otelcol-sapcpi}
OUT=${OUT:-$root/.tmp/profile}
work=$(mktemp -d)
# KEEP=path keeps the collector's log (e.g. with GODEBUG=gctrace=1 in the environment).
trap 'kill $(jobs -p) 2>/dev/null || true; [ -z "${KEEP:-}" ] || cp "$work/otelcol.log" "$KEEP"; rm -rf "$work"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

case $SERVER in
sim)
  go build -o "$work/server" "$root/cmd/fakecpi"
  "$work/server" -addr "$ADDR" -rate 0 -backlog "$N" -backlog-span "$SPAN" -time-scale 1m \
    -service-key-out "$work/key.json" >"$work/server.log" 2>&1 &
  ;;
static)
  go build -o "$work/server" "$root/cmd/benchcpi"
  # -bare-decode: the yardstick, measured on the same pages in this run, before the server serves.
  "$work/server" -addr "$ADDR" -backlog "$N" -backlog-span "$SPAN" -bare-decode \
    -service-key-out "$work/key.json" >"$work/server.log" 2>&1 &
  ;;
*) echo "SERVER must be sim or static"; exit 2 ;;
esac
server=$!
until [ -s "$work/key.json" ]; do
  kill -0 "$server" 2>/dev/null || { echo "server exited"; cat "$work/server.log"; exit 1; }
  sleep 0.2
done
bare=$(awk '/^bare_decode_cpu_ns_per_record/ {print $2}' "$work/server.log")

case $EXPORTER in
debug) exporter='debug: { verbosity: basic }' ;;
file) exporter="file: { path: $work/out.json }" ;;
*) echo "EXPORTER must be debug or file"; exit 2 ;;
esac
extensions=file_storage
pprof=
if [ "$PROFILE" = 1 ]; then
  mkdir -p "$OUT"
  extensions="file_storage, pprof"
  pprof="pprof: { endpoint: 127.0.0.1:$PPROF_PORT, save_to_file: $OUT/cpu.pprof }"
fi

cat >"$work/config.yaml" <<YAML
extensions:
  file_storage: { directory: $work/storage, create_directory: true }
  $pprof
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
      message_processing_logs: { requests_per_second: $RATE, burst: 10 }
exporters:
  $exporter
service:
  extensions: [$extensions]
  telemetry:
    metrics:
      level: normal
      readers:
        - pull: { exporter: { prometheus: { host: 127.0.0.1, port: $METRICS_PORT } } }
  pipelines:
    logs: { receivers: [sapcpi/backfill], exporters: [$(echo "$exporter" | cut -d: -f1)] }
YAML

# CPU time of a process in clock ticks (user + system, every thread, exited ones included).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
accepted() {
  # The collector's own count of records the receiver handed on (the debug exporter's log is sampled).
  { curl -fs "http://127.0.0.1:$METRICS_PORT/metrics" || true; } |
    awk '/^otelcol_receiver_accepted_log_records/ {s+=$NF} END {print s+0}'
}

start=$(date +%s.%N)
"$otelcol" --config "$work/config.yaml" >"$work/otelcol.log" 2>&1 &
pid=$!
# The backfill's CPU is counted from the moment the collector serves its metrics (start-up done).
until curl -fs -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics"; do
  kill -0 "$pid" || { echo "collector exited"; tail -20 "$work/otelcol.log"; exit 1; }
  sleep 0.05
done
ready_ticks=$(ticks "$pid")
ready_got=$(accepted)
while :; do
  got=$(accepted)
  [ "$got" -ge "$N" ] && break
  kill -0 "$pid" || { echo "collector exited"; tail -20 "$work/otelcol.log"; exit 1; }
  sleep 0.2
done
end=$(date +%s.%N)
end_ticks=$(ticks "$pid")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
# What the resident memory is made of at the end: the binary's mapped pages, and the heap and the rest.
split=$(awk '/RssAnon/ {a=$2} /RssFile/ {f=$2} END {printf "anonymous %.1f MiB + file-backed %.1f MiB at the end", a/1024, f/1024}' "/proc/$pid/status")
if [ "$PROFILE" = 1 ]; then
  curl -fs -o "$OUT/allocs.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/allocs"
fi
kill -TERM "$pid"; wait "$pid" || true
requests=
if [ "$SERVER" = static ]; then
  kill -TERM "$server"; wait "$server" || true
  requests=$(awk '/answered/ {print $3}' "$work/server.log")
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v ed="$ERROR_DETAILS" -v n="$N" -v s="$start" -v e="$end" -v h="$hwm" -v span="$SPAN" -v srv="$SERVER" \
  -v xp="$EXPORTER" -v t0="$ready_ticks" -v t1="$end_ticks" -v g0="$ready_got" -v tck="$(getconf CLK_TCK)" \
  -v req="$requests" -v bare="${bare:-}" -v mem="$split" 'BEGIN {
  cpu = (t1 - t0) / tck; per = cpu / (n - g0) * 1e6
  printf "server=%s exporter=%s error_details=%s: backfilled %d MPLs (spread over %s) in %.1f s = %.0f records/s; collector peak RSS (VmHWM) %.1f MiB (%s)\n", srv, xp, ed, n, span, e-s, n/(e-s), h/1024, mem
  printf "collector CPU %.2f s for %d records = %.2f us/record", cpu, n - g0, per
  if (req != "") printf "; %d list requests = %.2f per 1,000 MPLs", req, req / n * 1000
  printf "\n"
  if (bare != "") printf "bare encoding/json decode of the same pages: %.2f us/record; ratio collector/bare = %.2fx\n", bare / 1000, per / (bare / 1000)
}'
