#!/usr/bin/env bash
# WebRTC load benchmark (issue 15): CALLS concurrent calls, each from a plain UDP
# SIP phone sending PCMU to a WebRTC extension whose "browser" (a str0m peer with
# full ICE, registered over SIP on WebSocket to /ws) answers with Opus only, so
# that the server terminates DTLS-SRTP and transcodes Opus <-> PCMU on every
# call. Both ends are `cargo bench --bench webrtc_load` (benches/webrtc_load.rs):
# 50 packets/s each way, counted over SECONDS once every call is up.
#
# usage: benches/webrtc.sh [CALLS=300] [SECONDS=30]
# Target (issue 15): at least 300 such calls with under 0.1 % loss on the 2-core
# machine; CPU and memory per call.
#
# Knobs (besides common.sh's): BENCH_SETUP_RATE (calls set up per second,
# default 50), BENCH_OPUS_COMPLEXITY (the server's [media] opus_complexity,
# default the server's own), WEBRTC_LOAD_BIN (a prebuilt webrtc_load binary instead of
# `cargo bench`), WEBRTC_LOAD_THREADS (the generator's tokio threads, default 2).

source "$(dirname "$0")/common.sh"

CALLS="${1:-300}"
SECS="${2:-30}"
SETUP_RATE="${BENCH_SETUP_RATE:-50}"
FIRST=2000
CALLERS=5000
GEN_BIN="${WEBRTC_LOAD_BIN:-}"
[[ -z "$GEN_BIN" || "$GEN_BIN" == /* ]] || GEN_BIN="$PWD/$GEN_BIN"

build
if [[ "${BENCH_NO_BUILD:-0}" != 1 && -z "${WEBRTC_LOAD_BIN:-}" ]]; then
    log "cargo bench --bench webrtc_load --no-run"
    (cd "$ROOT" && cargo bench --bench webrtc_load --no-run --quiet)
fi
raise_fd_limit
bench_dir webrtc
# Every call is one WebSocket from 127.0.0.1 on the HTTP port: lift the per
# address caps (SIP over TCP/WS and HTTP) above CALLS. Calls wait without RTP
# until the generator's DTLS is up: keep the no-RTP timeout out of the way.
CONNS=$(( CALLS + 200 ))
printf '[media]\nrtp_timeout_secs = 3600\n' >> "$CONFIG"
[[ -z "${BENCH_OPUS_COMPLEXITY:-}" ]] || printf 'opus_complexity = %d\n' "$BENCH_OPUS_COMPLEXITY" >> "$CONFIG"
printf '[sip.tcp]\nmax_connections = %d\nmax_connections_per_ip = %d\n' "$CONNS" "$CONNS" >> "$CONFIG"
printf '[web]\nmax_connections = %d\nmax_connections_per_ip = %d\nidle_timeout_secs = 3600\n' \
    "$CONNS" "$CONNS" >> "$CONFIG"
# Plain callers (UDP, PCMU); the browsers' extensions are made over the API
# below, with WebRTC on.
provision "$CALLERS-$(( CALLERS + CALLS - 1 ))" bench
start_server
sleep 1
RSS_IDLE="$(rss_kib "$SERVER_PID")"

# POST a JSON body to the API; prints the status code.
http_post_json() {
    local resp
    exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT" || return 1
    printf 'POST %s HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
        "$1" "$API_TOKEN" "${#2}" "$2" >&3
    resp="$(timeout 60 cat <&3)" || { exec 3<&-; return 1; }
    exec 3<&-
    resp="${resp#HTTP/* }"
    printf '%s\n' "${resp%% *}"
}
STATUS="$(http_post_json /api/extensions \
    "{\"numbers\":\"$FIRST-$(( FIRST + CALLS - 1 ))\",\"password\":\"bench\",\"webrtc\":true}")"
[[ "$STATUS" == 200 ]] || { echo "creating the WebRTC extensions: HTTP $STATUS" >&2; exit 1; }
# The registrar's directory is re-read within a second.
sleep 1.5

FAIL0="$(metric switchboard_webrtc_failures_total)"
CONCEALED0="$(metric switchboard_media_frames_concealed_total)"
cd "$WORK"
log "webrtc_load: $CALLS calls at $SETUP_RATE/s, ${SECS}s counted"
GEN_ARGS=(--calls "$CALLS" --seconds "$SECS" --sip "127.0.0.1:$SIP_PORT"
    --http "127.0.0.1:$HTTP_PORT" --first "$FIRST" --callers "$CALLERS" --password bench
    --server-pid "$SERVER_PID" --setup-rate "$SETUP_RATE" --threads "${WEBRTC_LOAD_THREADS:-2}")
set +e
if [[ -n "$GEN_BIN" ]]; then
    timeout "$(( SECS * 2 + CALLS / SETUP_RATE + 300 ))" "$GEN_BIN" "${GEN_ARGS[@]}" \
        >webrtc_load.out 2>webrtc_load.err
else
    (cd "$ROOT" && timeout "$(( SECS * 2 + CALLS / SETUP_RATE + 300 ))" cargo bench --quiet \
        --bench webrtc_load -- "${GEN_ARGS[@]}") >webrtc_load.out 2>webrtc_load.err
fi
RC=$?
set -e
FAIL1="$(metric switchboard_webrtc_failures_total)"
CONCEALED1="$(metric switchboard_media_frames_concealed_total)"
LOAD="$(tail -1 webrtc_load.out)"
kv() { tr ' ' '\n' <<< "$LOAD" | sed -n "s/^$1=//p"; }

echo "webrtc: generator exit $RC; $(grep -m1 'calls (browsers' webrtc_load.err || tail -3 webrtc_load.err)"
grep -v '^calls=' webrtc_load.out || true
echo "webrtc: server: RSS idle (before the WebRTC extensions) $RSS_IDLE KiB; WebRTC failures $(( FAIL1 - FAIL0 )); frames concealed (decoder PLC, both legs) $(( CONCEALED1 - CONCEALED0 ))"
# The log has ANSI colours: strip them before counting.
PLAIN_LOG="$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log")"
echo "webrtc: server log: $(grep -c ' WARN ' <<< "$PLAIN_LOG" || true) WARN, $(grep -c ' ERROR ' <<< "$PLAIN_LOG" || true) ERROR; first WARN: $(grep -m1 ' WARN ' <<< "$PLAIN_LOG" | cut -c1-200 || true)"
CONNECTED="$(kv connected)"
if [[ "$RC" != 0 || -z "$CONNECTED" || "$CONNECTED" == 0 || "$(kv b2c_recv)" == 0 || "$(kv c2b_recv)" == 0 ]]; then
    echo "webrtc: no call up or no packets (generator exit $RC); the end of webrtc_load.err:" >&2
    tail -20 webrtc_load.err >&2
    exit 1
fi
echo "webrtc_$LOAD webrtc_failures=$(( FAIL1 - FAIL0 )) concealed=$(( CONCEALED1 - CONCEALED0 ))"
