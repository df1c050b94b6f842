#!/usr/bin/env bash
# Calls benchmark: SIPp uac -> switchboard -> SIPp uas. Every INVITE is
# challenged (407, ACK, INVITE with Proxy-Authorization), then 180, 200, ACK and an
# immediate BYE; no media. Prints achieved calls/s, failed %, and the setup time
# (first INVITE to 200 OK, challenge included) p50/p99 from SIPp's -trace_rtt.
#
# usage: benches/calls.sh [RATE=1500] [SECONDS=60] [CALLERS=1000]
# Target (issue 2): 1,500 calls/s sustained for 60 s with at most 0.01 % failed.

source "$(dirname "$0")/common.sh"

RATE="${1:-1500}"
SECS="${2:-60}"
CALLERS="${3:-1000}"
CALLS=$(( RATE * SECS ))
UAS_PORT=$(( SIP_PORT + 2 ))
UAC_PORT=$(( SIP_PORT + 3 ))
BOUND=$(( SECS * 3 + 60 ))

build
raise_fd_limit
bench_dir calls
# Callers 2000-(2000+CALLERS-1), callee 1999: 4-digit numbers, routed as extensions.
FIRST=2000
LAST=$(( FIRST + CALLERS - 1 ))
provision "1999-$LAST" bench
users_csv "$WORK/callers.csv" "$FIRST" "$LAST" bench
users_csv "$WORK/callee.csv" 1999 1999 bench
start_server

cd "$WORK/sipp"
log "registering the callee 1999 at 127.0.0.1:$UAS_PORT"
"$SIPP" "${SIPP_BUF[@]}" "127.0.0.1:$SIP_PORT" -sf "$SCEN/register.xml" -inf "$WORK/callee.csv" \
    -key expires 3600 -i 127.0.0.1 -p "$UAS_PORT" -m 1 -timeout 30s -timeout_error \
    -nostdin >register.log 2>&1 || { echo "callee registration failed" >&2; exit 1; }

log "SIPp uas (callee) on $UAS_PORT"
"$SIPP" "${SIPP_BUF[@]}" -sf "$SCEN/uas_answer.xml" -i 127.0.0.1 -p "$UAS_PORT" -mp 6100 \
    -timeout "${BOUND}s" -nostdin -max_recv_loops 10000 -max_sched_loops 10000 \
    -trace_stat -stf uas-stat.csv -fd 5 >uas.log 2>&1 &
BG_PIDS+=($!)
UAS_PID=$!
wait_udp_bound "$UAS_PORT"

# Calls in flight: up to 10 s worth, and fewer than SIPp's file limit.
LIMIT=$(( RATE * 10 ))
FDS="$(ulimit -n)"
(( LIMIT < FDS - 1000 )) || LIMIT=$(( FDS - 1000 ))
log "SIPp uac: $CALLS calls at $RATE/s (bounded to ${BOUND}s)"
CPU0="$(cpu_seconds "$SERVER_PID")"
set +e
"$SIPP" "${SIPP_BUF[@]}" "127.0.0.1:$SIP_PORT" -sf "$SCEN/uac_call.xml" -inf "$WORK/callers.csv" \
    -s 1999 -d 0 -i 127.0.0.1 -p "$UAC_PORT" -mp 6200 \
    -r "$RATE" -rp 1000 -m "$CALLS" -l "$LIMIT" \
    -max_recv_loops 10000 -max_sched_loops 10000 \
    -timeout "${BOUND}s" -nostdin -trace_stat -stf stat.csv -fd 1 \
    -trace_err -error_file errors.log -trace_rtt -rtt_freq 100 >uac.log 2>&1
RC=$?
set -e
CPU1="$(cpu_seconds "$SERVER_PID")"
# The uas has no call count of its own: give the last BYE its timewait, then stop it.
sleep 1.5
kill "$UAS_PID" 2>/dev/null || true

OK="$(stat_field stat.csv 'SuccessfulCall(C)')"
FAILED="$(stat_field stat.csv 'FailedCall(C)')"
ELAPSED="$(elapsed_secs stat.csv)"
CPS="$(awk -v n="$OK" -v t="$ELAPSED" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }')"
FAILPCT="$(awk -v f="$FAILED" -v n="$OK" 'BEGIN { printf "%.4f", (f + n > 0 ? f * 100 / (f + n) : 0) }')"
cat uac_call_*_rtt.csv 2>/dev/null | awk -F';' 'NR > 1 && $2 ~ /^[0-9.]+$/ { print $2 }' > rtt.txt || true
read -r P50 P99 < <(percentiles rtt.txt)
SERVER_CPU="$(awk -v a="$CPU0" -v b="$CPU1" 'BEGIN { printf "%.2f", b - a }')"
# Every call's CDR committed (on either database), up to 30 s; then the
# write latency from the writer's histogram.
for _ in $(seq 300); do
    [[ "$(metric switchboard_cdrs_written_total)" -ge "$(metric switchboard_calls_total)" ]] && break
    sleep 0.1
done
CDRS="$(metric switchboard_cdrs_written_total)"
CDR_P50="$(histogram_quantile switchboard_cdr_write_latency_seconds 0.5)"
CDR_P99="$(histogram_quantile switchboard_cdr_write_latency_seconds 0.99)"

echo "calls: target=${RATE}/s for ${SECS}s sipp_exit=$RC"
echo "calls: successful=$OK failed=$FAILED (${FAILPCT} %) elapsed_s=$ELAPSED calls_per_s=$CPS"
echo "calls: setup time (first INVITE to 200, 407 round trip included) p50_ms=$P50 p99_ms=$P99 (SIPp clock step $(clock_step rtt.txt) ms)"
echo "calls: server_cpu_s=$SERVER_CPU during the run; calls_total=$(metric switchboard_calls_total) cdrs_written=$CDRS"
echo "calls: CDR write latency (call end to row committed) p50_ms=$CDR_P50 p99_ms=$CDR_P99"
[[ "$FAILED" == 0 ]] || { echo "calls: first errors:"; grep -m5 -i "aborting\|unexpected\|timeout" errors.log || true; }
echo "calls_per_s=$CPS failed=$FAILED failed_pct=$FAILPCT successful=$OK target_per_s=$RATE seconds=$ELAPSED setup_p50_ms=$P50 setup_p99_ms=$P99 cdr_write_p50_ms=$CDR_P50 cdr_write_p99_ms=$CDR_P99"
