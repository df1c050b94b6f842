#!/usr/bin/env bash
# Media benchmark: SIPp sets up CALLS concurrent long calls with SDP through
# switchboard (uac -> switchboard -> uas), then the RTP load generator
# (benches/rtp_load.rs) sends G.711-sized RTP both ways on every call's relay
# ports (taken from GET /api/calls) for SECONDS at PPS packets/s per direction.
# Prints packet loss, and the server's CPU seconds and resident memory per call
# (from /proc/PID).
#
# usage: benches/media.sh [CALLS=2000] [SECONDS=30] [PPS=50]
# Target (issue 2): 2,000 concurrent relayed calls with under 0.1 % loss.
#
# BENCH_MEDIA_MODE=transcode-record (benches/transcode.sh): the caller offers
# PCMU only and the callee answers PCMA only, so every call is transcoded by
# the media session, and every call is recorded in stereo (8 kHz WAV under
# target/bench/media/recordings). Target (issue 3): 1,000 such calls with
# under 0.1 % loss.

source "$(dirname "$0")/common.sh"

CALLS="${1:-2000}"
SECS="${2:-30}"
PPS="${3:-50}"
SETUP_RATE="${BENCH_SETUP_RATE:-200}"
MODE="${BENCH_MEDIA_MODE:-relay}"
UAC_SCEN=uac_call.xml
UAS_SCEN=uas_answer.xml
PT_ARGS=()
case "$MODE" in
    relay) ;;
    transcode-record)
        UAC_SCEN=uac_call_pcmu.xml
        UAS_SCEN=uas_answer_pcma.xml
        PT_ARGS=(--pt-a 0 --pt-b 8)
        ;;
    *) echo "BENCH_MEDIA_MODE must be relay or transcode-record" >&2; exit 2 ;;
esac
UAS_PORT=$(( SIP_PORT + 2 ))
UAC_PORT=$(( SIP_PORT + 3 ))
# The calls must outlive the RTP run; SIPp hangs them up after this pause.
HOLD_S=$(( CALLS / SETUP_RATE + SECS + 300 ))

build
if [[ "${BENCH_NO_BUILD:-0}" != 1 && -z "${RTP_LOAD_BIN:-}" ]]; then
    log "cargo bench --bench rtp_load --no-run"
    (cd "$ROOT" && cargo bench --bench rtp_load --no-run --quiet)
fi
raise_fd_limit
bench_dir media
# Calls wait without RTP until the generator starts: keep the no-RTP timeout out of
# the way.
printf '[media]\nrtp_timeout_secs = 3600\n' >> "$CONFIG"
if [[ "$MODE" == transcode-record ]]; then
    printf '[recording]\nenabled = true\nlayout = "stereo"\nrate = 8000\ndir = "%s"\n' \
        "$WORK/recordings" >> "$CONFIG"
fi
FIRST=2000
LAST=$(( FIRST + 999 ))
provision "1999-$LAST" bench
users_csv "$WORK/callers.csv" "$FIRST" "$LAST" bench
users_csv "$WORK/callee.csv" 1999 1999 bench
start_server
sleep 1
RSS_IDLE="$(rss_kib "$SERVER_PID")"

cd "$WORK/sipp"
"$SIPP" "${SIPP_BUF[@]}" "127.0.0.1:$SIP_PORT" -sf "$SCEN/register.xml" -inf "$WORK/callee.csv" \
    -key expires 3600 -i 127.0.0.1 -p "$UAS_PORT" -m 1 -timeout 30s -timeout_error \
    -nostdin >register.log 2>&1 || { echo "callee registration failed" >&2; exit 1; }
"$SIPP" "${SIPP_BUF[@]}" -sf "$SCEN/$UAS_SCEN" -i 127.0.0.1 -p "$UAS_PORT" -mp 6100 \
    -timeout "$(( HOLD_S + 60 ))s" -nostdin -max_recv_loops 10000 \
    -trace_stat -stf uas-stat.csv -fd 5 >uas.log 2>&1 &
BG_PIDS+=($!)
wait_udp_bound "$UAS_PORT"

log "SIPp uac: $CALLS calls at $SETUP_RATE/s, each held ${HOLD_S}s"
"$SIPP" "${SIPP_BUF[@]}" "127.0.0.1:$SIP_PORT" -sf "$SCEN/$UAC_SCEN" -inf "$WORK/callers.csv" \
    -s 1999 -d "$(( HOLD_S * 1000 ))" -i 127.0.0.1 -p "$UAC_PORT" -mp 6200 \
    -r "$SETUP_RATE" -m "$CALLS" -l "$CALLS" -max_recv_loops 10000 \
    -timeout "$(( HOLD_S + 60 ))s" -nostdin -trace_stat -stf stat.csv -fd 5 \
    -trace_err -error_file errors.log >uac.log 2>&1 &
BG_PIDS+=($!)

# Wait (bounded) until every call is answered.
ANSWERED=0
for _ in $(seq 1 $(( CALLS / SETUP_RATE * 30 + 600 ))); do
    ANSWERED="$( (http_get /api/calls || true) | grep -o '"state":"answered"' | wc -l || true)"
    [[ "$ANSWERED" -ge "$CALLS" ]] && break
    sleep 0.1
done
log "$ANSWERED of $CALLS calls answered"

# One line per answered call: the relay's A-side and B-side RTP ports.
http_get /api/calls | tr '}' '\n' | { grep '"state":"answered"' || true; } | sed -n \
    -e 's/.*"a_rtp_port":\([0-9]*\).*"b_rtp_port":\([0-9]*\).*/127.0.0.1:\1 127.0.0.1:\2/p' \
    -e 's/.*"b_rtp_port":\([0-9]*\).*"a_rtp_port":\([0-9]*\).*/127.0.0.1:\2 127.0.0.1:\1/p' \
    > "$WORK/pairs.txt"
PAIRS="$(wc -l < "$WORK/pairs.txt")"
[[ "$PAIRS" -gt 0 ]] || { echo "no answered call to load" >&2; exit 1; }

RSS_CALLS="$(rss_kib "$SERVER_PID")"
RELAYED0="$(( $(metric switchboard_rtp_packets_relayed_total) + $(metric switchboard_media_rtp_out_total) ))"
DROPPED0="$(metric switchboard_rtp_packets_dropped_total)"
CPU0="$(cpu_seconds "$SERVER_PID")"
log "rtp_load: $PAIRS calls, ${SECS}s at ${PPS} pps each way"
set +e
if [[ -n "${RTP_LOAD_BIN:-}" ]]; then
    # A prebuilt generator (e.g. target/release/deps/rtp_load-HASH).
    timeout "$(( SECS * 3 + 120 ))" "$RTP_LOAD_BIN" \
        --pairs "$WORK/pairs.txt" --seconds "$SECS" --pps "$PPS" "${PT_ARGS[@]}" >rtp_load.out 2>rtp_load.err
else
    (cd "$ROOT" && timeout "$(( SECS * 3 + 120 ))" cargo bench --quiet --bench rtp_load -- \
        --pairs "$WORK/pairs.txt" --seconds "$SECS" --pps "$PPS" "${PT_ARGS[@]}") >rtp_load.out 2>rtp_load.err
fi
RC=$?
set -e
CPU1="$(cpu_seconds "$SERVER_PID")"
RSS_LOAD="$(rss_kib "$SERVER_PID")"
RELAYED1="$(( $(metric switchboard_rtp_packets_relayed_total) + $(metric switchboard_media_rtp_out_total) ))"
DROPPED1="$(metric switchboard_rtp_packets_dropped_total)"
LOAD="$(tail -1 rtp_load.out)"
kv() { tr ' ' '\n' <<< "$LOAD" | sed -n "s/^$1=//p"; }

SERVER_CPU="$(awk -v a="$CPU0" -v b="$CPU1" 'BEGIN { printf "%.2f", b - a }')"
awk -v cpu="$SERVER_CPU" -v t="$(kv seconds)" -v n="$PAIRS" -v idle="$RSS_IDLE" \
    -v calls="$RSS_CALLS" -v load="$RSS_LOAD" 'BEGIN {
    if (t == "") t = 0
    printf "media: server CPU %.2f s over %.1f s = %.1f %% of one core; %.3f ms CPU per call per second\n",
        cpu, t, (t > 0 ? cpu * 100 / t : 0), (t > 0 && n > 0 ? cpu * 1000 / t / n : 0)
    printf "media: server RSS idle %d KiB, with calls %d KiB, under load %d KiB: %.1f KiB per call\n",
        idle, calls, load, (n > 0 ? (load - idle) / n : 0)
}' > summary.txt
echo "media: mode=$MODE calls=$PAIRS answered_of=$CALLS rtp_load_exit=$RC"
if [[ "$MODE" == transcode-record ]]; then
    echo "media: recordings: $(find "$WORK/recordings" -name '*.wav' | wc -l) files, $(du -sh "$WORK/recordings" | cut -f1); frames decoded $(metric switchboard_media_frames_decoded_total), concealed $(metric switchboard_media_frames_concealed_total)"
fi
echo "media: rtp_load: $(grep -m1 'rtp_load: .* calls for' rtp_load.err || tail -2 rtp_load.err)"
echo "media: packets/s sent by the generator: $(kv achieved_pps) of $(( PAIRS * 2 * PPS )) targeted (below target = generator or machine saturated)"
echo "media: generator: CPU $(kv gen_cpu_s) s ($(kv gen_us_per_pkt) us per packet), $(kv late_ticks) ticks late, $(kv behind_pkts) packets never sent (behind schedule)"
echo "media: loss_pct=$(kv loss_pct) sent=$(kv sent) received=$(kv received) lost=$(kv lost) latency_p50_us=$(kv latency_p50_us) latency_p99_us=$(kv latency_p99_us)"
cat summary.txt
echo "media: server counters during the run: relayed=$(( RELAYED1 - RELAYED0 )) dropped=$(( DROPPED1 - DROPPED0 ))"
echo "media_mode=$MODE media_calls=$PAIRS loss_pct=$(kv loss_pct) achieved_pps=$(kv achieved_pps) target_pps=$(( PAIRS * 2 * PPS )) server_cpu_s=$SERVER_CPU rss_idle_kib=$RSS_IDLE rss_load_kib=$RSS_LOAD"
