#!/usr/bin/env bash
# Gateway registration benchmark: GATEWAYS UNI gateways (each its own carrier
# account) register at once, when the server starts, to a SIPp registrar
# (tests/scenarios/bench_registrar.xml: 401 challenge, then 200 granting
# EXPIRES seconds whatever we asked for) and stay registered for SECONDS,
# refreshing 15 s before expiry (half-way for 30 s or less). /metrics is polled
# every POLL seconds for the gateways REGED (the registration state) and up
# (a binding held: 1 through a refresh in flight too), keeping the minimum.
# Prints the gateways REGED at the end and the minima, REGISTERs sent (challenges
# included), the carrier's successes (200s) and failures (403s, SIPp errors),
# server CPU and RSS (peak VmHWM).
#
# usage: benches/gateways.sh [GATEWAYS=200] [SECONDS=600] [EXPIRES=60]
# Target (issue 14): 200 gateways registering at once and staying REGED for
# 10 minutes, re-register traffic counted; CPU and memory reported.

source "$(dirname "$0")/common.sh"

GATEWAYS="${1:-200}"
SECS="${2:-600}"
EXPIRES="${3:-60}"
POLL="${BENCH_POLL_SECS:-2}"
CARRIER_PORT=$(( SIP_PORT + 4 ))
# Time for every gateway to reach REGED after the start.
SETTLE=60
BOUND=$(( SECS + SETTLE + 60 ))

[[ "$GATEWAYS" =~ ^[1-9][0-9]*$ && "$SECS" =~ ^[1-9][0-9]*$ && "$EXPIRES" =~ ^[1-9][0-9]*$ ]] \
    || { echo "usage: benches/gateways.sh [GATEWAYS] [SECONDS] [EXPIRES] (positive integers)" >&2; exit 2; }

build
raise_fd_limit
bench_dir gateways

# Added before the server starts, so that all of them register at once. Each
# asks for an hour; the carrier grants EXPIRES (the server's Expires wins).
log "provisioning $GATEWAYS UNI gateways to the carrier at 127.0.0.1:$CARRIER_PORT"
for (( i = 1; i <= GATEWAYS; i++ )); do
    user="$(printf '0215%06d' "$i")"
    sb gateway add "gw$i" --mode uni --proxy "127.0.0.1:$CARRIER_PORT" --username "$user" \
        --password "pw-$user" --realm carrier.test --expire-secs 3600 >/dev/null
done

cd "$WORK/sipp"
log "SIPp registrar on $CARRIER_PORT (grants ${EXPIRES} s)"
# A gateway that lets its binding run out (no REGISTER for EXPIRES + 5 s)
# times its SIPp call out: a failure in the carrier's counts. That also lets
# SIPp's -timeout end it, since its calls otherwise loop for ever.
"$SIPP" "${SIPP_BUF[@]}" -sf "$SCEN/bench_registrar.xml" -i 127.0.0.1 -p "$CARRIER_PORT" \
    -key expires "$EXPIRES" -recv_timeout "$(( (EXPIRES + 5) * 1000 ))" \
    -timeout "${BOUND}s" -nostdin \
    -trace_counts -fd 1 -trace_err -error_file errors.log >carrier.log 2>&1 &
BG_PIDS+=($!)
CARRIER_PID=$!
wait_udp_bound "$CARRIER_PORT"

T0="$(date +%s.%N)"
start_server

# sum_of METRICS_TEXT NAME: the sum of NAME's samples in a /metrics snapshot.
sum_of() {
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%.0f\n", s }' <<< "$1"
}

# The first registrations: every gateway REGED, up to SETTLE seconds.
REGED=0
for (( i = 0; i < SETTLE * 10; i++ )); do
    REGED="$(sum_of "$(http_get /metrics)" switchboard_gateway_registered)"
    (( REGED >= GATEWAYS )) && break
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; exit 1; }
    sleep 0.1
done
ALL_REGED_S="$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"
if (( REGED < GATEWAYS )); then
    log "only $REGED of $GATEWAYS gateways REGED after ${SETTLE}s"
    ALL_REGED_S="n/a"
else
    log "all $GATEWAYS gateways REGED ${ALL_REGED_S}s after the start; holding for ${SECS}s"
fi

# The hold: poll, keep the minima.
CPU0="$(cpu_seconds "$SERVER_PID")"
RSS0="$(rss_kib "$SERVER_PID")"
MIN_REGED="$REGED"
MIN_UP="$GATEWAYS"
POLLS=0
END=$(( $(date +%s) + SECS ))
while (( $(date +%s) < END )); do
    sleep "$POLL"
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "switchboard died" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
    snap="$(http_get /metrics)" || continue
    r="$(sum_of "$snap" switchboard_gateway_registered)"
    u="$(sum_of "$snap" switchboard_gateway_up)"
    (( r < MIN_REGED )) && MIN_REGED="$r"
    (( u < MIN_UP )) && MIN_UP="$u"
    POLLS=$(( POLLS + 1 ))
done
CPU1="$(cpu_seconds "$SERVER_PID")"

snap="$(http_get /metrics)"
END_REGED="$(sum_of "$snap" switchboard_gateway_registered)"
END_UP="$(sum_of "$snap" switchboard_gateway_up)"
SENT="$(sum_of "$snap" switchboard_gateway_registers_sent_total)"
CHANGES="$(sum_of "$snap" switchboard_gateway_state_changes_total)"
RSS1="$(rss_kib "$SERVER_PID")"
HWM="$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")"
CPU_TOTAL="$(cpu_seconds "$SERVER_PID")"
HOLD_CPU="$(awk -v a="$CPU0" -v b="$CPU1" 'BEGIN { printf "%.2f", b - a }')"

# The carrier's view, from its last -trace_counts row (written every second):
# per scenario message, the times it was received or sent. A refresh that
# lands after the snapshot above and before that row shows in these only.
sleep 1.5
COUNTS="$(ls bench_registrar_*_counts.csv 2>/dev/null | head -1)"
# counts SUFFIX: the sum of the columns named INDEX_SUFFIX (e.g. REGISTER_Recv).
counts() {
    [[ -n "$COUNTS" ]] || { echo 0; return; }
    awk -F';' -v suffix="$1" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ ("^[0-9]+_" suffix "$")) cols[i] = 1; next }
        NF > 1 { v = 0; for (i in cols) v += $i }
        END { print v + 0 }' "$COUNTS"
}
CARRIER_REGISTERS="$(counts REGISTER_Recv)"
CARRIER_RETRANS="$(counts REGISTER_Retrans)"
CARRIER_OK="$(counts 200_Sent)"
CARRIER_403="$(counts 403_Sent)"
CARRIER_UNEXPECTED="$(counts REGISTER_Unexp)"
CARRIER_TIMEOUTS="$(counts REGISTER_Timeout)"
# SIPp's error log: events run together on one line, each after its
# timestamp; the watchdog's are SIPp itself falling behind (a loaded machine).
sipp_events() { { grep -o "$1" errors.log 2>/dev/null || true; } | wc -l; }
CARRIER_EVENTS="$(sipp_events '[0-9]\{10\}\.[0-9]\{6\}: ')"
CARRIER_WATCHDOG="$(sipp_events 'watchdog timer')"
CARRIER_FAILED=$(( CARRIER_403 + CARRIER_UNEXPECTED + CARRIER_TIMEOUTS ))
FAILED_LOG="$(grep -c 'FAILED' "$WORK/server.log" || true)"
kill "$CARRIER_PID" 2>/dev/null || true

echo "gateways: $GATEWAYS UNI gateways, ${SECS}s hold, carrier grants ${EXPIRES}s (refresh every $(( EXPIRES > 30 ? EXPIRES - 15 : (EXPIRES > 1 ? EXPIRES / 2 : 1) ))s)"
echo "gateways: all REGED ${ALL_REGED_S}s after the server was started; at the end reged=$END_REGED up=$END_UP; minimum over $POLLS polls every ${POLL}s: reged=$MIN_REGED up=$MIN_UP"
echo "gateways: REGISTERs sent=$SENT (challenges included); carrier received=$CARRIER_REGISTERS retransmissions=$CARRIER_RETRANS granted=$CARRIER_OK refused=$CARRIER_403 unexpected=$CARRIER_UNEXPECTED timed_out=$CARRIER_TIMEOUTS sipp_error_events=$CARRIER_EVENTS (of which watchdog, SIPp behind: $CARRIER_WATCHDOG)"
echo "gateways: state changes=$CHANGES; 'FAILED' in the server log: $FAILED_LOG"
echo "gateways: server_cpu_s=$HOLD_CPU over the hold (total $CPU_TOTAL); RSS KiB: ${RSS0} at the start of the hold, $RSS1 at the end, peak (VmHWM) $HWM"
echo "gateways=$GATEWAYS reged_end=$END_REGED reged_min=$MIN_REGED up_min=$MIN_UP all_reged_s=$ALL_REGED_S registers_sent=$SENT carrier_ok=$CARRIER_OK carrier_failed=$CARRIER_FAILED server_cpu_s=$HOLD_CPU rss_peak_kib=$HWM seconds=$SECS expires=$EXPIRES"
