#!/usr/bin/env bash
# Runs the load benchmarks (register, calls, media, transcode, queue, attack,
# gateways, outbound, desk) one after the other with their default targets and
# prints a summary (the last line of each). Figures only: nothing here passes or
# fails on timing. Takes about 20 minutes plus the release build (gateways.sh
# holds its 200 registrations for 10 minutes).
#
# usage: benches/run-all.sh

set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$DIR/.." && pwd)"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"

echo "[run-all] cargo build --release; cargo bench --bench rtp_load --bench desk_push --no-run"
(cd "$ROOT" && cargo build --release --quiet \
    && cargo bench --bench rtp_load --bench desk_push --no-run --quiet)
export BENCH_NO_BUILD=1

status=0
for b in register calls media transcode queue attack gateways outbound desk; do
    echo "[run-all] ===== $b ====="
    # Each script cleans up its own processes; one failing does not stop the others.
    if ! "$DIR/$b.sh" 2>&1 | tee "$OUT/$b.out"; then
        echo "[run-all] $b.sh exited with an error"
        status=1
    fi
done

echo "[run-all] ===== summary ($(nproc) CPUs, $(uname -r)) ====="
for b in register calls media transcode queue attack gateways outbound desk; do
    echo "$b: $(tail -1 "$OUT/$b.out" 2>/dev/null)"
done
exit "$status"
