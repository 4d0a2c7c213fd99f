#!/usr/bin/env bash
# Requests/s over loopback for a bare axum handler, hookguard's layer and a naive
# verify-then-parse middleware (examples/load_server.rs), side by side, for claimr
# user_activity deliveries of 256 B to 256 KiB: the realistic 1,079-byte delivery
# (free-form text in `action.meta`, an unknown field) at its own size and padded above it,
# a minimal one padded below (scripts/body.py; LOAD_BODY_BASE=padded for the earlier
# bodies). Prints the medians and ratios and writes
# benchmarks/load.tsv (every run), benchmarks/load.md (the table) and benchmarks/load.svg
# (the chart).
#
#   bash scripts/load.sh                 # the full sweep: 6 sizes x 3 runs x 3 servers x 5 s
#   SIZES=1079 RUNS=5 bash scripts/load.sh
#   SIZES=1079 MODES="bare verify scan hookguard" bash scripts/load.sh   # where the cost goes
#
# Settings (environment): SIZES, RUNS (3), DURATION seconds per run (5), CONNECTIONS (32),
# THREADS of wrk (1), OUT folder (benchmarks), MODES (bare hookguard naive; also verify,
# scan and typed, the floors described in examples/load_server.rs). Loopback only; each
# run is bounded by DURATION, so the full sweep takes about RUNS x 3 x 6 x DURATION s plus
# the build.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"256 1079 4096 16384 65536 262144"}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
OUT=${OUT:-benchmarks}
SECRET=load-secret
MODES=${MODES:-"bare hookguard naive"}
started=$SECONDS

if ! command -v wrk >/dev/null 2>&1; then
  echo "== installing wrk (Debian package)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "wrk is missing and installing it needs root: apt-get install -y wrk" >&2
    exit 1
  fi
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

echo "== building the load server (release)"
cargo build --release --quiet --example load_server
target_dir=${CARGO_TARGET_DIR:-target}
server="$target_dir/release/examples/load_server"

scratch=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

declare -A port=([bare]=4001 [hookguard]=4002 [naive]=4003 [verify]=4004 [scan]=4005 [typed]=4006)
for mode in $MODES; do
  LOAD_SECRET=$SECRET "$server" --mode "$mode" --addr "127.0.0.1:${port[$mode]}" 2>"$scratch/$mode.log" &
  pids+=($!)
done
for mode in $MODES; do
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/${port[$mode]}") 2>/dev/null; then continue 2; fi
    sleep 0.1
  done
  echo "the $mode server did not start:" >&2
  cat "$scratch/$mode.log" >&2
  exit 1
done

mkdir -p "$OUT"
tsv="$OUT/load.tsv"
{
  echo "# $(date -u +%FT%TZ) nproc=$(nproc) cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $RUNS runs"
  printf 'size\tmode\trun\trps\tp50_us\tp99_us\n'
} >"$tsv"

for size in $SIZES; do
  sig=$(python3 scripts/body.py "$size" "$scratch/body.json" "$SECRET")
  for run in $(seq "$RUNS"); do
    # The three servers take turns within a run, so that a burst of noise from the
    # rest of the machine falls on all of them.
    for mode in $MODES; do
      line=$(LOAD_BODY="$scratch/body.json" LOAD_SIG="$sig" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s scripts/post.lua \
        "http://127.0.0.1:${port[$mode]}/webhook" | grep '^RESULT')
      errors=$(sed 's/.*errors=\([0-9]*\).*/\1/' <<<"$line")
      if [ "$errors" != 0 ]; then
        echo "$mode at $size B: $errors errors or non-2xx answers: $line" >&2
        exit 1
      fi
      rps=$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line")
      p50=$(sed 's/.*p50_us=\([0-9]*\).*/\1/' <<<"$line")
      p99=$(sed 's/.*p99_us=\([0-9]*\).*/\1/' <<<"$line")
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$mode" "$run" "$rps" "$p50" "$p99" >>"$tsv"
      printf '%7s B  run %s  %-9s %10s req/s\n' "$size" "$run" "$mode" "$rps"
    done
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $((SECONDS - started)) s in all" >>"$tsv"

python3 scripts/chart.py "$tsv" "$OUT/load.svg" | tee "$OUT/load.md"
echo "load sweep: $((SECONDS - started)) s; wrote $tsv, $OUT/load.md, $OUT/load.svg"
