#!/usr/bin/env bash
# Instructions per request in user space, for the whole load server (hyper, axum, tokio
# and what each mode adds), counted by callgrind over loopback: a figure that does not
# move with the machine's load, to set beside the req/s of scripts/load.sh.
#
#   bash scripts/server_instructions.sh                        # 1,079 B, five modes
#   SIZE=256 MODES="bare hookguard" bash scripts/server_instructions.sh
#
# Each mode's server (examples/load_server.rs) runs under callgrind; wrk warms it for
# 3 s, the counters are zeroed, wrk runs DURATION s (10) with 4 connections, and the
# count is divided by the requests wrk saw answered. Under valgrind SHA-256 runs in
# software (no SHA extensions), so the modes that verify carry about 60 k instructions
# of HMAC that the native server does in a fraction of that: compare the modes above
# `verify` with one another. Needs valgrind and wrk; loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${SIZE:-1079}
MODES=${MODES:-"bare verify scan typed hookguard"}
DURATION=${DURATION:-10}
SECRET=load-secret

for tool in valgrind callgrind_control callgrind_annotate wrk python3; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install -y valgrind wrk)" >&2; exit 1; }
done

cargo build --release --quiet --example load_server
server="${CARGO_TARGET_DIR:-target}/release/examples/load_server"

scratch=$(mktemp -d)
vpid=
cleanup() {
  if [ -n "$vpid" ]; then
    kill "$vpid" 2>/dev/null || true
    wait "$vpid" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

sig=$(python3 scripts/body.py "$SIZE" "$scratch/body.json" "$SECRET")
post() {
  LOAD_BODY="$scratch/body.json" LOAD_SIG="$sig" \
    wrk -t1 -c4 -d"$1s" -s scripts/post.lua "http://127.0.0.1:$2/webhook"
}

echo "# $(date -u +%FT%TZ) $SIZE B, wrk -t1 -c4 -d${DURATION}s under callgrind"
printf '%-10s %9s %14s\n' mode requests instr/request
port=4600
for mode in $MODES; do
  port=$((port + 1))
  LOAD_SECRET=$SECRET valgrind --tool=callgrind --callgrind-out-file="$scratch/$mode.%p" \
    "$server" --mode "$mode" --addr "127.0.0.1:$port" 2>"$scratch/$mode.log" &
  vpid=$!
  # Up once the port answers and the process on it is ours (not a server left over).
  up=
  for _ in $(seq 150); do
    kill -0 "$vpid" 2>/dev/null || break
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
    sleep 0.2
  done
  if [ -z "$up" ] || ! kill -0 "$vpid" 2>/dev/null; then
    echo "the $mode server did not start on port $port:" >&2
    cat "$scratch/$mode.log" >&2
    exit 1
  fi
  post 3 "$port" >/dev/null
  callgrind_control -z "$vpid" >/dev/null
  result=$(post "$DURATION" "$port" | grep '^RESULT' || true)
  if [ -z "$result" ]; then
    echo "$mode: wrk printed no result" >&2
    exit 1
  fi
  callgrind_control -d "$vpid" >/dev/null
  kill "$vpid"
  wait "$vpid" 2>/dev/null || true
  vpid=
  errors=$(sed 's/.*errors=\([0-9]*\).*/\1/' <<<"$result")
  if [ "$errors" != 0 ]; then
    echo "$mode: $errors errors or non-2xx answers: $result" >&2
    exit 1
  fi
  requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$result")
  # The dump taken after the counters were zeroed (".1"), not the one at exit.
  dump=$(ls "$scratch/$mode".*.1)
  total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
  if ! [[ "$requests" =~ ^[1-9][0-9]*$ && "$total" =~ ^[0-9]+$ ]]; then
    echo "$mode: no count (requests '$requests', instructions '$total')" >&2
    exit 1
  fi
  printf '%-10s %9d %14d\n' "$mode" "$requests" $((total / requests))
done
