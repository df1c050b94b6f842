#!/usr/bin/env bash
# Shared helpers of the load benchmarks (sourced by register.sh, calls.sh, media.sh,
# queue.sh, attack.sh).
# They print figures; they never pass or fail on timing. Everything runs on
# loopback with SIPp on the same machine, like the targets in benches/README.md.
#
# Environment knobs (all optional):
#   BENCH_NO_BUILD=1        skip `cargo build --release`
#   BENCH_BIN=PATH          run this switchboard binary instead of target/release's
#                           (no build; the test command's smoke run passes its debug build)
#   BENCH_SIP_PORT=7060     internal profile port (also BENCH_TRUNK_PORT, BENCH_HTTP_PORT)
#   BENCH_RTP_PORTS=33000-42999
#   BENCH_LOG=warn          server log level (RUST_LOG); SIP message logging stays off
#   BENCH_MEDIA_THREADS=0   server relay threads (0: one per core)
#   BENCH_DATABASE_URL=URL  an empty database to run on instead of the embedded
#                           SQLite file, e.g. a PostgreSQL database of a cluster
#                           started with tests/postgres-cluster.sh
#   SIPP=sipp               the SIPp binary

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BENCH_BIN:-$ROOT/target/release/switchboard}"
# The scripts change directory (into their SIPp work dir): keep the path absolute.
[[ "$BIN" == /* ]] || BIN="$PWD/$BIN"
SCEN="$ROOT/tests/scenarios"
SIPP="${SIPP:-sipp}"
SIP_PORT="${BENCH_SIP_PORT:-7060}"
TRUNK_PORT="${BENCH_TRUNK_PORT:-7080}"
HTTP_PORT="${BENCH_HTTP_PORT:-7088}"
# Below Linux's ephemeral range would be nicer, but the e2e tests use 10000-31999.
RTP_PORTS="${BENCH_RTP_PORTS:-33000-42999}"

# SIPp's own socket buffers default to 64 KiB: at 15,000 registrations/s its
# receive queue overflows in bursts (seen: 33,889 drops counted on SIPp's port in
# /proc/net/udp, none on the server's), and each lost response costs a 500 ms
# retransmission that then counts against the server. 8 MiB, like the server's.
SIPP_BUF=(-buff_size 8388608)

SERVER_PID=""
BG_PIDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Kills what this script started (by pid), the server last with SIGTERM first so
# it can write its CDRs.
cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    for pid in "${BG_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need() {
    command -v "$1" >/dev/null || { echo "missing $1 ($2)" >&2; exit 2; }
}

# Builds the release binary (the benchmark measures the optimised server).
build() {
    need "$SIPP" "Debian package sip-tester"
    if [[ -n "${BENCH_BIN:-}" ]]; then
        [[ -x "$BIN" ]] || { echo "BENCH_BIN=$BIN is not an executable" >&2; exit 2; }
    elif [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
        log "cargo build --release"
        (cd "$ROOT" && cargo build --release --quiet)
    fi
}

# File descriptors: thousands of calls mean thousands of sockets (server, SIPp,
# the RTP generator).
raise_fd_limit() {
    local hard
    hard="$(ulimit -Hn)"
    [[ "$hard" == unlimited ]] && hard=1048576
    ulimit -n "$(( hard < 200000 ? hard : 200000 ))" 2>/dev/null || true
    log "ulimit -n $(ulimit -n)"
}

# bench_dir NAME: a fresh work dir under target/bench/NAME (data dir, SIPp traces).
bench_dir() {
    WORK="$ROOT/target/bench/$1"
    rm -rf "$WORK"
    mkdir -p "$WORK/data" "$WORK/sipp"
    CONFIG="$WORK/switchboard.toml"
    # No SIP message logging, no seed: the runs provision their own extensions.
    printf '[server]\nlog_sip = false\n' > "$CONFIG"
    # The database (default: the embedded SQLite file in the work dir).
    if [[ -n "${BENCH_DATABASE_URL:-}" ]]; then
        printf 'database_url = "%s"\n' "$BENCH_DATABASE_URL" >> "$CONFIG"
    fi
    # Relay threads (0: one per core, the server's default).
    printf 'media_threads = %s\n' "${BENCH_MEDIA_THREADS:-0}" >> "$CONFIG"
}

sb() {
    "$BIN" --config "$CONFIG" --data-dir "$WORK/data" "$@"
}

# provision SPEC PASSWORD: e.g. provision 1000-10999 bench (ranges of at most 10,000).
provision() {
    local spec="$1" pw="$2" lo hi start end
    lo="${spec%-*}"; hi="${spec#*-}"
    for (( start = lo; start <= hi; start += 10000 )); do
        end=$(( start + 9999 < hi ? start + 9999 : hi ))
        sb extension add "$start-$end" --password "$pw" >/dev/null
    done
}

# The API wants a web user's token (start_server creates one for the default
# admin with the CLI); /metrics does not.
API_TOKEN=""

# http_request METHOD PATH: the whole response (bash /dev/tcp: no curl needed),
# bounded in time so that a server that stops answering cannot hang a bench.
http_request() {
    local auth="" resp
    [[ -z "$API_TOKEN" ]] || auth="Authorization: Bearer $API_TOKEN"$'\r\n'
    exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT" || return 1
    printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%sContent-Length: 0\r\n\r\n' "$1" "$2" "$auth" >&3
    resp="$(timeout 30 cat <&3)" || { exec 3<&-; return 1; }
    exec 3<&-
    printf '%s' "$resp"
}

# HTTP GET on the server, body only.
http_get() {
    local resp
    resp="$(http_request GET "$1")" || return 1
    printf '%s\n' "${resp#*$'\r\n\r\n'}"
}

# HTTP POST without a body on the server; prints the status code.
http_post() {
    local resp
    resp="$(http_request POST "$1")" || return 1
    resp="${resp#HTTP/* }"
    printf '%s\n' "${resp%% *}"
}

# metric NAME: sum of the samples of NAME in /metrics.
metric() {
    http_get /metrics | awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%.0f\n", s }'
}

# histogram_quantile NAME Q: the Q quantile (0..1) of the histogram NAME in
# /metrics, in milliseconds, interpolated linearly inside its bucket as
# Prometheus does ("n/a" when it is empty; the last finite bound when the
# quantile falls in +Inf).
histogram_quantile() {
    http_get /metrics | awk -v n="$1_bucket" -v q="$2" '
        index($1, n "{le=\"") == 1 {
            le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
            bound[k] = le; count[k] = $NF; k++
        }
        END {
            if (k == 0 || count[k - 1] == 0) { print "n/a"; exit }
            rank = q * count[k - 1]; prev_b = 0; prev_c = 0
            for (i = 0; i < k; i++) {
                if (count[i] >= rank) {
                    if (bound[i] == "+Inf") { printf "%.1f\n", prev_b * 1000; exit }
                    width = count[i] - prev_c
                    frac = width > 0 ? (rank - prev_c) / width : 1
                    printf "%.1f\n", (prev_b + (bound[i] - prev_b) * frac) * 1000; exit
                }
                if (bound[i] != "+Inf") prev_b = bound[i]
                prev_c = count[i]
            }
        }'
}

start_server() {
    local extra=("$@")
    API_TOKEN="$(sb token create --user admin --name bench)" \
        || { echo "switchboard token create failed" >&2; exit 1; }
    log "starting switchboard (SIP $SIP_PORT, trunk $TRUNK_PORT, HTTP $HTTP_PORT, RTP $RTP_PORTS)"
    RUST_LOG="${BENCH_LOG:-warn}" "$BIN" --config "$CONFIG" --data-dir "$WORK/data" \
        --bind 127.0.0.1 --sip-port "$SIP_PORT" --trunk-port "$TRUNK_PORT" \
        --http-port "$HTTP_PORT" --rtp-ports "$RTP_PORTS" "${extra[@]}" \
        >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        if http_get /metrics >/dev/null 2>&1; then
            log "switchboard ready (pid $SERVER_PID)"
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "switchboard not ready after 60 s" >&2
    tail -20 "$WORK/server.log" >&2
    exit 1
}

# users_csv FILE FIRST LAST PASSWORD: SIPp injection file, one extension per line.
users_csv() {
    local f="$1" first="$2" last="$3" pw="$4"
    {
        echo SEQUENTIAL
        seq "$first" "$last" | sed "s/\$/;$pw;/"
    } > "$f"
}

# CPU seconds (user+system) of a process, from /proc/PID/stat (USER_HZ = 100).
cpu_seconds() {
    awk '{ printf "%.2f\n", ($14 + $15) / 100 }' "/proc/$1/stat"
}

# Resident memory of a process in KiB.
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# udp_drops PORT: datagrams the kernel dropped (receive queue full) on the UDP
# sockets bound to PORT, IPv4 and IPv6, from /proc/net/udp*.
udp_drops() {
    awk -v port="$(printf '%04X' "$1")" 'FNR > 1 { split($2, a, ":"); if (a[2] == port) d += $NF }
        END { print d + 0 }' /proc/net/udp /proc/net/udp6 2>/dev/null
}

# stat_field CSV COLUMN: a column of the last row of a SIPp -trace_stat file.
stat_field() {
    awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        NF > 1 { v = $c } END { print v }' "$1"
}

# elapsed_secs STAT_CSV: seconds from StartTime to CurrentTime of the last row of a
# SIPp -trace_stat file (each holds "date<TAB>time<TAB>epoch").
elapsed_secs() {
    awk -F';' 'NF > 3 { split($1, s, "\t"); split($3, c, "\t"); v = c[3] - s[3] }
        END { printf "%.3f\n", v }' "$1"
}

# percentiles FILE: p50 and p99 of the numbers in FILE (one per line).
percentiles() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a n/a"; exit }
        i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
        i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
        printf "%.2f %.2f\n", v[i50], v[i99] }'
}

# clock_step FILE: the smallest non-zero value in FILE: SIPp measures response times
# with its own clock tick (a few ms), so a p50 of 0 means "below one tick".
clock_step() {
    awk '$1 > 0 && (m == "" || $1 < m) { m = $1 } END { print (m == "" ? "n/a" : m) }' "$1"
}

# Waits until pid $1 exits or $2 seconds pass; kills it then.
wait_bounded() {
    local pid="$1" secs="$2"
    for _ in $(seq 1 $(( secs * 10 ))); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    log "pid $pid still running after ${secs}s: killed"
    kill "$pid" 2>/dev/null || true
}

# Waits until something has bound UDP port $1 on 127.0.0.1 (a SIPp uas).
wait_udp_bound() {
    for _ in $(seq 1 200); do
        if ss -Huan "sport = :$1" 2>/dev/null | grep -q .; then
            return 0
        fi
        sleep 0.05
    done
    log "nothing bound UDP port $1"
    return 1
}
