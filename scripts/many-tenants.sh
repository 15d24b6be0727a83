#!/usr/bin/env bash
# Runs one otelcol-sapcpi with N sapcpi/<name> receivers against one simulated process that serves N
# tenants, and measures the collector: resident memory, goroutines and CPU while it catches up on every
# tenant's backlog and at rest afterwards. Prints one line of figures (docs/benchmarks.md, "Many tenants
# in one collector").
#
# Usage: make build && N=50 scripts/many-tenants.sh      (N=1 gives the baseline for "per tenant")
#
# The config is the documented pattern: one receiver per tenant, each with its service key, its own
# tenant_name and the shared file_storage; everything else at its default. Goroutines are counted from
# the Go runtime's own dump (SIGQUIT with GOTRACEBACK=all), which ends the collector, so the catch-up
# figure comes from a second run stopped half-way.
set -euo pipefail
N=${N:-50}
BACKLOG=${BACKLOG:-5000}       # final MPLs per tenant before start, spread over one hour
RATE=${RATE:-0}                # live MPLs per second per tenant (0: at rest means nothing new)
REST=${REST:-60}               # seconds of rest to measure (the default poll interval is 1m)
ADDR=${ADDR:-127.0.0.1:18767}
METRICS_PORT=${METRICS_PORT:-18890}
root=$(cd "$(dirname "$0")/.." && pwd)
otelcol=$root/dist/otelcol-sapcpi/otelcol-sapcpi
[ -x "$otelcol" ] || { echo "build the distribution first: make build"; exit 1; }
work=$(mktemp -d)
cleanup() {
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
clk=$(getconf CLK_TCK)

go build -o "$work/fakecpi" "$root/cmd/fakecpi"

# config writes the collector configuration with one receiver per tenant.
config() {
  {
    echo "extensions:"
    echo "  file_storage: { directory: $work/storage, create_directory: true }"
    echo "receivers:"
    for key in "$work"/keys/*.json; do
      name=$(basename "$key" .json)
      echo "  sapcpi/$name:"
      echo "    service_key_file: $key"
      echo "    tenant_name: $name"
      echo "    storage: file_storage"
      echo "    messages: { initial_lookback: 2h }"
    done
    echo "exporters:"
    echo "  debug: { verbosity: basic }"
    echo "service:"
    echo "  extensions: [file_storage]"
    echo "  telemetry:"
    echo "    logs: { level: warn }"
    echo "    metrics:"
    echo "      level: normal"
    echo "      readers:"
    echo "        - pull: { exporter: { prometheus: { host: 127.0.0.1, port: $METRICS_PORT } } }"
    echo "  pipelines:"
    receivers=$(for key in "$work"/keys/*.json; do printf 'sapcpi/%s,' "$(basename "$key" .json)"; done)
    echo "    logs: { receivers: [${receivers%,}], exporters: [debug] }"
    echo "    metrics: { receivers: [${receivers%,}], exporters: [debug] }"
  } >"$work/config.yaml"
}

# accepted is the number of log records the receivers handed on (the collector's own count): MPL
# records and the records of the other default sources (inventory, audit log, log files).
accepted() {
  { curl -fs "http://127.0.0.1:$METRICS_PORT/metrics" || true; } |
    awk '/^otelcol_receiver_accepted_log_records/ {s+=$NF} END {printf "%d", s+0}'
}
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
status_kib() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }
# quit ends the collector with the runtime's dump of every goroutine, and counts them in $goroutines.
quit() {
  kill -QUIT "$1"; wait "$1" 2>/dev/null || true
  goroutines=$(grep -c '^goroutine [0-9]' "$work/otelcol.log" || true)
  [ "$goroutines" -gt 0 ] || { echo "no goroutine dump:"; tail -5 "$work/otelcol.log"; }
}

# run starts the simulated tenants and the collector afresh; it leaves the collector's pid in $pid.
run() {
  if [ -n "${sim:-}" ]; then kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true; fi
  rm -rf "$work/keys" "$work/storage" "$work/otelcol.log"
  "$work/fakecpi" -addr "$ADDR" -tenants "$N" -service-key-dir "$work/keys" -rate "$RATE" \
    -backlog "$BACKLOG" -backlog-span 1h -time-scale 30s -fault-rate 0 >"$work/fakecpi.log" 2>&1 &
  sim=$!
  until [ "$(ls "$work/keys" 2>/dev/null | wc -l)" -ge "$N" ]; do sleep 0.2; done
  config
  started=$(date +%s.%N)
  GOTRACEBACK=all "$otelcol" --config "$work/config.yaml" >"$work/otelcol.log" 2>&1 &
  pid=$!
  until curl -fs "http://127.0.0.1:$METRICS_PORT/metrics" >/dev/null 2>&1; do
    kill -0 "$pid" || { echo "collector exited"; tail -20 "$work/otelcol.log"; exit 1; }
    sleep 0.2
  done
}

want=$((N * BACKLOG))

# 1. Catch up: every tenant's backlog (at least N × BACKLOG records) is read when the count has not
# moved for 5 s. Then rest.
run
start=$started
last=-1; still=0
while :; do
  kill -0 "$pid" || { echo "collector exited"; tail -20 "$work/otelcol.log"; exit 1; }
  now=$(accepted)
  if [ "$now" -ne "$last" ]; then
    last=$now; still=0; end=$(date +%s.%N); t1=$(cpu_ticks "$pid"); catchup_hwm=$(status_kib "$pid" VmHWM)
  elif [ "$now" -ge "$want" ]; then
    still=$((still + 1)); [ "$still" -ge 10 ] && break
  fi
  sleep 0.5
done
total=$last
r0=$(cpu_ticks "$pid"); sleep "$REST"; r1=$(cpu_ticks "$pid")
rest_rss=$(status_kib "$pid" VmRSS)
quit "$pid"; rest_g=$goroutines

# 2. The same catch-up, stopped half-way for the goroutine count.
run
while [ "$(accepted)" -lt $((want / 2)) ]; do sleep 0.2; done
busy_rss=$(status_kib "$pid" VmRSS)
quit "$pid"; busy_g=$goroutines

awk -v n="$N" -v b="$BACKLOG" -v r="$RATE" -v s="$start" -v e="$end" -v tot="$total" -v c1="$t1" -v hz="$clk" \
  -v hwm="$catchup_hwm" -v brss="$busy_rss" -v bg="$busy_g" -v r0="$r0" -v r1="$r1" -v rest="$REST" \
  -v rrss="$rest_rss" -v rg="$rest_g" 'BEGIN {
  printf "tenants=%d backlog=%d MPLs/tenant rate=%g MPL/s/tenant | catching up: %d records in %.1f s (%.0f/s), CPU %.0f %% of a core, VmHWM %.1f MiB, RSS half-way %.1f MiB, %d goroutines | at rest (%d s): CPU %.2f %% of a core, RSS %.1f MiB, %d goroutines\n",
    n, b, r, tot, e-s, tot/(e-s), 100*c1/hz/(e-s), hwm/1024, brss/1024, bg, rest, 100*(r1-r0)/hz/rest, rrss/1024, rg }'
