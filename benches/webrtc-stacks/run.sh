#!/usr/bin/env bash
# Measures the str0m and webrtc-rs servers under the same str0m load; prints one table.
#   ./run.sh [CALLS] [SECONDS]        (default 300 calls, 30 s steady phase)
# Environment: STACKS (default "str0m webrtc-rs"; "webrtc-rs-mux" = webrtc-rs with one shared
# UDP socket), REPEAT (runs of each, interleaved; default 1), RATE (new calls/s, default 50),
# CARGO_TARGET_DIR (default ./target), NO_BUILD=1 to skip the build, QUIET=0 not to wait for
# an idle machine before each run (see wait_quiet).
# Loopback only; every process is bounded by a timeout and killed by its PID at the end.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CALLS=${1:-300}
SECS=${2:-30}
STACKS=${STACKS:-"str0m webrtc-rs"}
REPEAT=${REPEAT:-1}
RATE=${RATE:-50}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
BIN=$CARGO_TARGET_DIR/release/webrtc-stacks
LOGS=$(mktemp -d /tmp/webrtc-stacks.XXXXXX)

if [ "${NO_BUILD:-0}" != 1 ]; then
    (cd "$HERE" && nice -n 10 cargo build --release --quiet)
fi
# Enough descriptors for one UDP socket per call on each side.
ulimit -n 65536 2>/dev/null || true

SPID=
WPID=
cleanup() {
    if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null || true; fi
    if [ -n "$WPID" ]; then kill "$WPID" 2>/dev/null || true; fi
}
trap cleanup EXIT

busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }

# With QUIET=1 (default), wait (up to QUIET_MAX s, default 900) until the machine has been
# idle for 5 s (under 0.2 cores busy): other people's builds and tests on a 2-core machine
# change the result far more than the stacks differ. The table still shows what others took.
wait_quiet() {
    [ "${QUIET:-1}" = 1 ] || return 0
    local deadline=$((SECONDS + ${QUIET_MAX:-900})) hz a b
    hz=$(getconf CLK_TCK)
    while [ $SECONDS -lt $deadline ]; do
        a=$(busy_ticks); sleep 5; b=$(busy_ticks)
        if [ $(((b - a) * 100 / (5 * hz))) -lt 20 ]; then return 0; fi
    done
    echo "machine not quiet after ${QUIET_MAX:-900} s: measuring anyway" >&2
}

run_one() { # stack label
    local stack=$1 label=$2 log=$LOGS/$2.server.log extra=()
    local server_stack=$stack
    if [ "$stack" = webrtc-rs-mux ]; then
        server_stack=webrtc-rs
        extra=(--shared-socket 127.0.0.1:0)
    fi
    # Started directly (not under timeout(1)) so that $SPID is the server itself, whose /proc
    # the client samples; a watchdog bounds its life instead.
    "$BIN" server --stack "$server_stack" --listen 127.0.0.1:0 "${extra[@]}" 2>"$log" &
    SPID=$!
    (sleep $((SECS + CALLS / RATE + 120)) && kill "$SPID" 2>/dev/null) &
    WPID=$!
    local addr=
    for _ in $(seq 100); do
        addr=$(sed -n 's/^server: .* listening on \(127[0-9.]*:[0-9]*\)$/\1/p' "$log")
        [ -n "$addr" ] && break
        sleep 0.1
    done
    if [ -z "$addr" ]; then echo "server $stack did not start:" >&2; cat "$log" >&2; exit 1; fi
    sleep 1 # idle baseline
    timeout $((SECS + CALLS / RATE + 90)) "$BIN" client --stack str0m --server "$addr" \
        --calls "$CALLS" --seconds "$SECS" --rate "$RATE" --watch-pid "$SPID" \
        --label "$stack" >"$LOGS/$label.out" 2>"$LOGS/$label.client.log" ||
        { echo "client failed against $stack:" >&2; tail -5 "$LOGS/$label.client.log" >&2; }
    if ! kill -0 "$SPID" 2>/dev/null; then echo "server $stack died during the run:" >&2; tail -5 "$log" >&2; fi
    kill "$SPID" "$WPID" 2>/dev/null || true
    wait "$SPID" "$WPID" 2>/dev/null || true
    SPID= WPID=
    grep -h '^client:' "$LOGS/$label.client.log" | sed "s/^/[$label] /" >&2 || true
    # The server's last count of tasks alive on its runtime (all calls still up then).
    local tasks
    tasks=$(sed -n 's/^server: .* tasks \([0-9]*\)$/\1/p' "$log" | tail -1)
    grep -h '^RESULT' "$LOGS/$label.out" | sed "s/\$/ tasks=${tasks:-?}/" >>"$LOGS/results" || true
}

echo "load: $CALLS calls (ramp $RATE/s), steady phase $SECS s, $(nproc) cores; logs in $LOGS" >&2
for r in $(seq "$REPEAT"); do
    for s in $STACKS; do
        wait_quiet
        run_one "$s" "$s.$r"
        sleep 2
    done
done

[ -s "$LOGS/results" ] || { echo "no results" >&2; exit 1; }
awk '
function v(k,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "?" }
BEGIN {
    print "| stack | calls | ok | loss % steady (whole run) | late >100 ms (steady) | RTT p50 / p99 ms (steady) | setup p50 / p99 ms | server CPU, cores | CPU per call, ms/s | RSS (HWM), MiB | RSS per call, KiB | server threads (tokio tasks) | client CPU, cores | other processes CPU, cores |"
    print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
}
/^RESULT/ {
    printf "| %s | %s | %s | %s (%s) | %s | %s / %s | %s / %s | %s | %s | %s (%s) | %s | %s (%s) | %s | %s |\n",
        v("label"), v("calls"), v("ok"), v("steady_loss_pct"), v("loss_pct"), v("steady_late"),
        v("rtt_p50_ms"), v("rtt_p99_ms"), v("setup_p50_ms"), v("setup_p99_ms"),
        v("server_cores"), v("cpu_ms_per_call"), v("rss_mib"), v("hwm_mib"),
        v("rss_per_call_kib"), v("threads"), v("tasks"), v("client_cores"), v("other_cores")
}' "$LOGS/results"
