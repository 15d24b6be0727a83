#!/usr/bin/env bash
# Splits a CPU profile of the collector (scripts/measure-backfill.sh PROFILE=1) into the steps of the MPL
# path. Each sample goes to the first rule, in the order below, that matches a function on its stack, so
# the steps add up to the total. GC is the collector's own work (mark workers, assists, sweeping);
# allocating stays with the step that allocates. The body read happens inside the decode call, so it is
# matched before the decode.
# Usage: scripts/profile-breakdown.sh dist/otelcol-sapcpi/otelcol-sapcpi .tmp/profile/cpu.pprof [records]
set -euo pipefail
bin=$1 prof=$2 records=${3:-0}
go tool pprof -traces "$bin" "$prof" 2>/dev/null | awk -v records="$records" '
BEGIN {
  n = 0
  rule[++n] = "GC";                      re[n] = "\nruntime\\.(gcBgMarkWorker|gcAssistAlloc|bgsweep|bgscavenge|gcStart|gcMarkDone|gcMarkTermination)"
  rule[++n] = "transport and body read"; re[n] = "httpapi\\.\\(\\*cappedReader\\)|\nnet/http\\.\\(\\*(body|persistConn|Transport|Client)\\)|internal/cpi\\.readBody"
  rule[++n] = "checkpoint commit";       re[n] = "checkpoint\\.\\(\\*Store\\)\\.SaveWindow|go\\.etcd\\.io/bbolt"
  rule[++n] = "consume (exporter)";      re[n] = "receiver\\.\\(\\*output\\)\\.consumeLogs"
  rule[++n] = "mapping";                 re[n] = "mapping\\.\\(\\*Mapper\\)\\.Messages"
  rule[++n] = "telemetry (per record)";  re[n] = "receiver\\.\\(\\*telemetry\\)\\.recordMessages"
  rule[++n] = "de-duplication";          re[n] = "receiver\\.\\(\\*incremental\\[.*\\]\\)\\.(fresh|commit)|checkpoint\\.\\(\\*Window\\)|checkpoint\\.StateKey|receiver\\.messageKey"
  rule[++n] = "decode";                  re[n] = "internal/cpi\\.(decode|DecodeMessagePage|\\(\\*mplDecoder\\))"
  rule[++n] = "transport and body read"; re[n] = "internal/httpapi\\.|\nnet/http\\.|\nnet\\.|\ninternal/poll\\."
  order[1] = "transport and body read"; order[2] = "decode"; order[3] = "de-duplication"; order[4] = "mapping"
  order[5] = "telemetry (per record)"; order[6] = "consume (exporter)"; order[7] = "checkpoint commit"; order[8] = "GC"
  order[9] = "other (scheduler, metrics, start-up)"
}
function flush() {
  if (val == 0) return
  cat = "other (scheduler, metrics, start-up)"
  for (i = 1; i <= n; i++) if (stack ~ re[i]) { cat = rule[i]; break }
  sum[cat] += val; total += val; val = 0; stack = ""
}
/^-+\+-+$/ { flush(); next }
/^ +[0-9.]+(ms|s|us) / {
  v = $1; unit = v; sub(/[0-9.]+/, "", unit); sub(/(ms|s|us)$/, "", v)
  val = (unit == "s") ? v : (unit == "ms" ? v / 1000 : v / 1e6)
  stack = "\n" $2 "\n"; next
}
val > 0 { stack = stack $1 "\n" }
END {
  flush()
  printf "| step | CPU s | share | us/record |\n|---|---:|---:|---:|\n"
  for (k = 1; k <= 9; k++) { c = order[k]; printf "| %s | %.2f | %.1f %% | %s |\n", c, sum[c], 100 * sum[c] / total, (records > 0 ? sprintf("%.2f", sum[c] / records * 1e6) : "") }
  printf "| total | %.2f | 100 %% | %s |\n", total, (records > 0 ? sprintf("%.2f", total / records * 1e6) : "")
}'
