#!/usr/bin/env bash
# Desk push latency (issue 15): "agent state change to the browser, p99 under
# 50 ms with 500 desks connected".
#
# The server gets DESKS extensions (1000.., SIP password "bench"), each a
# call-center agent of the same id (config [[callcenter.agents]], all in queue
# "support"), and room for DESKS web connections from 127.0.0.1 ([web]
# max_connections and max_connections_per_ip). The desk_push bench
# (benches/desk_push.rs) then makes one web user per desk over the JSON API
# (agent flag, bound to the extension; the token from `switchboard token
# create`), signs each in like a browser (POST /login, the forced password
# change, POST /desk/login with the extension and its password), opens every
# desk's WebSocket (/desk/ws, same-origin Origin) and checks each snapshot, then
# sends CHANGES status changes (Ready / Not ready, POST /desk/status with the
# desk's cookie and CSRF token) evenly over SECONDS, round robin over the desks,
# and times each from the request written to the agent's new status read on
# that agent's socket. Then 20 changes of the floor's counters (BENCH_DESK_FLOOR):
# a toolbar logs out, then in again, each timed to the new agents-online count
# read on every desk (the hub pushes the counters on a 250 ms tick).
#
# Prints: push latency p50/p90/p99/p99.9/max and mean, the HTTP response time,
# the floor counters' latency to every desk,
# messages read, missing messages, the server's switchboard_desk_* counters
# (dropped_slow_total: desks dropped for not reading), server CPU over the
# drive and RSS with the desks open (/proc/PID), and a last key=value line.
# Exits non-zero when a desk cannot sign in or connect, or a change's message
# never arrives (within 5 s, BENCH_DESK_TIMEOUT_MS): the smoke run in tests/run fails then; figures
# are never judged.
#
# usage: benches/desk.sh [DESKS=500] [CHANGES=5000] [SECONDS=50]
# Target (issue 15, 2-core machine): p99 under 50 ms with 500 desks connected.
#
# Knobs (besides common.sh's; SIPp is not used): DESK_PUSH_BIN, a prebuilt
# desk_push binary (e.g. target/release/deps/desk_push-HASH; tests/run passes
# its debug build), else `cargo bench --bench desk_push` runs it.
# BENCH_DESK_CONCURRENCY (4): desks signing in at once (each sign-in costs the
# server three Argon2 hashes of 19 MiB). BENCH_DESK_TIMEOUT_MS (5000): how long a
# change waits for its message before it counts as missing. BENCH_DESK_FLOOR (20):
# changes of the floor's counters after the drive (0: none).

source "$(dirname "$0")/common.sh"

DESKS="${1:-500}"
CHANGES="${2:-5000}"
SECS="${3:-50}"
FIRST=1000
LAST=$(( FIRST + DESKS - 1 ))
(( DESKS >= 1 && DESKS <= 5000 )) || { echo "DESKS must be 1..5000" >&2; exit 2; }
(( CHANGES >= 1 && SECS >= 1 )) || { echo "CHANGES and SECONDS must be positive" >&2; exit 2; }

# The server binary (release unless BENCH_BIN), and the bench's.
if [[ -n "${BENCH_BIN:-}" ]]; then
    [[ -x "$BIN" ]] || { echo "BENCH_BIN=$BIN is not an executable" >&2; exit 2; }
elif [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet)
fi
if [[ -n "${DESK_PUSH_BIN:-}" ]]; then
    [[ "$DESK_PUSH_BIN" == /* ]] || DESK_PUSH_BIN="$PWD/$DESK_PUSH_BIN"
    [[ -x "$DESK_PUSH_BIN" ]] || { echo "DESK_PUSH_BIN=$DESK_PUSH_BIN is not an executable" >&2; exit 2; }
elif [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    log "cargo bench --bench desk_push --no-run"
    (cd "$ROOT" && cargo bench --bench desk_push --no-run --quiet)
fi
raise_fd_limit
bench_dir desk
{
    # Every desk holds a web connection, all from 127.0.0.1; the sign-ins and
    # status changes open more, one request each.
    printf '\n[web]\nmax_connections = %d\nmax_connections_per_ip = %d\n' \
        $(( DESKS * 2 + 256 )) $(( DESKS * 2 + 256 ))
    printf '\n[[callcenter.queues]]\nname = "support"\nstrategy = "longest-idle-agent"\n'
    for (( a = FIRST; a <= LAST; a++ )); do
        printf '\n[[callcenter.agents]]\nid = "%s"\ncontact = "%s"\n' "$a" "$a"
    done
    for (( a = FIRST; a <= LAST; a++ )); do
        printf '\n[[callcenter.tiers]]\nqueue = "support"\nagent = "%s"\n' "$a"
    done
} >> "$CONFIG"
provision "$FIRST-$LAST" bench
start_server
sleep 0.5
RSS_IDLE="$(rss_kib "$SERVER_PID")"

ARGS=(--http "127.0.0.1:$HTTP_PORT" --token "$API_TOKEN" --desks "$DESKS" --first-ext "$FIRST"
      --sip-password bench --changes "$CHANGES" --seconds "$SECS" --server-pid "$SERVER_PID"
      --concurrency "${BENCH_DESK_CONCURRENCY:-4}" --timeout-ms "${BENCH_DESK_TIMEOUT_MS:-5000}"
      --floor-changes "${BENCH_DESK_FLOOR:-20}")
# Sign-in (four Argon2 hashes per desk), the drive, and margin.
BOUND=$(( DESKS + SECS * 2 + 300 ))
cd "$WORK"
log "desk_push: $DESKS desks, $CHANGES changes over ${SECS}s (bounded to ${BOUND}s)"
RC=0
if [[ -n "${DESK_PUSH_BIN:-}" ]]; then
    timeout "$BOUND" "$DESK_PUSH_BIN" "${ARGS[@]}" >desk_push.out 2>desk_push.err || RC=$?
else
    (cd "$ROOT" && timeout "$BOUND" cargo bench --quiet --bench desk_push -- "${ARGS[@]}") \
        >desk_push.out 2>desk_push.err || RC=$?
fi
sed 's/^/[desk_push] /' desk_push.err >&2 || true
grep '^desk: ' desk_push.out || true
LAST_LINE="$(tail -1 desk_push.out)"
WARNS="$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" | grep -c ' WARN \| ERROR ' || true)"
echo "desk: server RSS idle (before any sign-in) $RSS_IDLE KiB; server log: $WARNS WARN/ERROR lines"
if [[ "$WARNS" != 0 ]]; then
    sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" | grep ' WARN \| ERROR ' | sed 's/^[^ ]* //' \
        | sort | uniq -c | sort -rn | head -5 | sed 's/^/desk:   /'
fi
if [[ "$RC" != 0 ]] || ! grep -q '^desks=' <<< "$LAST_LINE"; then
    echo "desk: desk_push failed (exit $RC); see $WORK/desk_push.err" >&2
    tail -5 desk_push.err >&2 || true
    exit 1
fi
echo "$LAST_LINE rss_idle_kib=$RSS_IDLE server_warns=$WARNS"
