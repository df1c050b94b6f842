#!/usr/bin/env bash
# Outbound calls benchmark: SIPp uac extensions -> switchboard -> one NNI
# gateway -> a SIPp carrier. The extension's INVITE is challenged by us (407,
# ACK, INVITE with Proxy-Authorization); an outbound rule (9 then the number,
# the 9 stripped) sends it to the gateway, whose carrier challenges our INVITE
# in turn (401, ACK, INVITE with Authorization checked by SIPp's verifyauth,
# tests/scenarios/bench_carrier.xml), then 180, 200, ACK and an immediate BYE
# from the caller; no media. Prints achieved calls/s, failed %, the setup
# time (the caller's first INVITE to its 200 OK, both challenges included)
# p50/p99 from SIPp's -trace_rtt, the carrier's and the gateway's counts, and
# server CPU.
#
# usage: benches/outbound.sh [RATE=1000] [SECONDS=30] [CALLERS=1000]
# Target (issue 14): at least 1,000 calls/s with at most 0.01 % failed.

source "$(dirname "$0")/common.sh"

RATE="${1:-1000}"
SECS="${2:-30}"
CALLERS="${3:-1000}"
[[ "$RATE" =~ ^[1-9][0-9]*$ && "$SECS" =~ ^[1-9][0-9]*$ && "$CALLERS" =~ ^[1-9][0-9]*$ ]] \
    || { echo "usage: benches/outbound.sh [RATE] [SECONDS] [CALLERS] (positive integers)" >&2; exit 2; }
CALLS=$(( RATE * SECS ))
UAC_PORT=$(( SIP_PORT + 3 ))
CARRIER_PORT=$(( SIP_PORT + 4 ))
BOUND=$(( SECS * 3 + 60 ))
NUMBER=913800138000

build
raise_fd_limit
bench_dir outbound
# The toll-fraud guard is for real callers: here every caller dials out once a
# second or so, which trips the per-extension limit (4 calls at once) in
# bursts and the alarm (30 calls in 10 minutes); nothing is denied by number.
cat >> "$CONFIG" <<'EOF'

[trunk]
max_outbound_per_extension = 0
max_outbound_calls = 0
deny_dial = []
alarm_calls_per_10min = 0
EOF
# Callers 2000-(2000+CALLERS-1): extensions allowed to dial out (the default).
FIRST=2000
LAST=$(( FIRST + CALLERS - 1 ))
provision "$FIRST-$LAST" bench
users_csv "$WORK/callers.csv" "$FIRST" "$LAST" bench
sb gateway add carrier --mode nni --proxy "127.0.0.1:$CARRIER_PORT" --username trunkuser \
    --password trunk-pw --realm carrier.test >/dev/null
sb route add out --type outbound --pattern '^9(\d+)$' --gateway carrier --strip 1 >/dev/null

cd "$WORK/sipp"
log "SIPp carrier (uas) on $CARRIER_PORT"
"$SIPP" "${SIPP_BUF[@]}" -sf "$SCEN/bench_carrier.xml" -i 127.0.0.1 -p "$CARRIER_PORT" -mp 6100 \
    -key user trunkuser -key password trunk-pw \
    -timeout "${BOUND}s" -nostdin -max_recv_loops 10000 -max_sched_loops 10000 \
    -trace_stat -stf carrier-stat.csv -fd 1 -trace_err -error_file carrier-errors.log \
    >carrier.log 2>&1 &
BG_PIDS+=($!)
CARRIER_PID=$!
wait_udp_bound "$CARRIER_PORT"

start_server
# An NNI gateway without pings is usable at once; wait for the server to say so.
for _ in $(seq 1 100); do
    [[ "$(metric switchboard_gateway_up)" -ge 1 ]] && break
    sleep 0.1
done
[[ "$(metric switchboard_gateway_up)" -ge 1 ]] || { echo "gateway carrier not up" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }

# Calls in flight: up to 10 s worth, and fewer than SIPp's file limit.
LIMIT=$(( RATE * 10 ))
FDS="$(ulimit -n)"
(( LIMIT < FDS - 1000 )) || LIMIT=$(( FDS - 1000 ))
# Round-trip samples are written every RTT_FREQ calls (the rest never are):
# every 100, or at the end of a smoke run's few calls.
RTT_FREQ=$(( CALLS < 100 ? CALLS : 100 ))
log "SIPp uac: $CALLS calls to $NUMBER at $RATE/s (bounded to ${BOUND}s)"
CPU0="$(cpu_seconds "$SERVER_PID")"
set +e
"$SIPP" "${SIPP_BUF[@]}" "127.0.0.1:$SIP_PORT" -sf "$SCEN/uac_call.xml" -inf "$WORK/callers.csv" \
    -s "$NUMBER" -d 0 -i 127.0.0.1 -p "$UAC_PORT" -mp 6200 \
    -r "$RATE" -rp 1000 -m "$CALLS" -l "$LIMIT" \
    -max_recv_loops 10000 -max_sched_loops 10000 \
    -timeout "${BOUND}s" -nostdin -trace_stat -stf stat.csv -fd 1 \
    -trace_err -error_file errors.log -trace_rtt -rtt_freq "$RTT_FREQ" >uac.log 2>&1
RC=$?
set -e
CPU1="$(cpu_seconds "$SERVER_PID")"
# The carrier has no call count of its own: give the last BYE its timewait
# and a stat row, then stop it.
sleep 2
kill "$CARRIER_PID" 2>/dev/null || true

OK="$(stat_field stat.csv 'SuccessfulCall(C)')"
FAILED="$(stat_field stat.csv 'FailedCall(C)')"
ELAPSED="$(elapsed_secs stat.csv)"
CPS="$(awk -v n="$OK" -v t="$ELAPSED" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }')"
FAILPCT="$(awk -v f="$FAILED" -v n="$OK" 'BEGIN { printf "%.4f", (f + n > 0 ? f * 100 / (f + n) : 0) }')"
CARRIER_OK="$(stat_field carrier-stat.csv 'SuccessfulCall(C)')"
CARRIER_FAILED="$(stat_field carrier-stat.csv 'FailedCall(C)')"
cat uac_call_*_rtt.csv 2>/dev/null | awk -F';' 'NR > 1 && $2 ~ /^[0-9.]+$/ { print $2 }' > rtt.txt || true
read -r P50 P99 < <(percentiles rtt.txt)
SERVER_CPU="$(awk -v a="$CPU0" -v b="$CPU1" 'BEGIN { printf "%.2f", b - a }')"
US_PER_CALL="$(awk -v c="$SERVER_CPU" -v n="$OK" 'BEGIN { printf "%.0f", (n > 0 ? c * 1e6 / n : 0) }')"
# Every call's CDR committed, up to 30 s.
for _ in $(seq 300); do
    [[ "$(metric switchboard_cdrs_written_total)" -ge "$(metric switchboard_calls_total)" ]] && break
    sleep 0.1
done
snap="$(http_get /metrics)"
sum_of() {
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%.0f\n", s }' <<< "$snap"
}
GW_CALLS="$(sum_of switchboard_gateway_calls_total)"
GW_FAILED="$(sum_of switchboard_gateway_calls_failed_total)"
GW_IN_PROGRESS="$(sum_of switchboard_gateway_calls)"
OUT_IN_PROGRESS="$(sum_of switchboard_outbound_calls)"
REFUSED="$(sum_of switchboard_toll_fraud_refused_total)"
CDRS="$(sum_of switchboard_cdrs_written_total)"

echo "outbound: target=${RATE}/s for ${SECS}s through gateway carrier (NNI) sipp_exit=$RC"
echo "outbound: successful=$OK failed=$FAILED (${FAILPCT} %) elapsed_s=$ELAPSED calls_per_s=$CPS"
echo "outbound: setup time (first INVITE to 200, our 407 and the carrier's 401 round trips included) p50_ms=$P50 p99_ms=$P99 (SIPp clock step $(clock_step rtt.txt) ms)"
echo "outbound: carrier successful=$CARRIER_OK failed=$CARRIER_FAILED; gateway calls_total=$GW_CALLS failed_total=$GW_FAILED in_progress=$GW_IN_PROGRESS; outbound_calls=$OUT_IN_PROGRESS toll_fraud_refused=$REFUSED cdrs_written=$CDRS"
echo "outbound: server_cpu_s=$SERVER_CPU during the run (${US_PER_CALL} us per call)"
[[ "$FAILED" == 0 ]] || { echo "outbound: first errors:"; grep -m5 -i "aborting\|unexpected\|timeout" errors.log || true; }
[[ "${CARRIER_FAILED:-0}" == 0 ]] || { echo "outbound: the carrier's first errors:"; grep -m5 -i "aborting\|unexpected\|timeout" carrier-errors.log || true; }
echo "calls_per_s=$CPS failed=$FAILED failed_pct=$FAILPCT successful=$OK target_per_s=$RATE seconds=$ELAPSED setup_p50_ms=$P50 setup_p99_ms=$P99 carrier_ok=$CARRIER_OK carrier_failed=$CARRIER_FAILED server_cpu_s=$SERVER_CPU"
