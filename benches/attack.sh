#!/usr/bin/env bash
# Legitimate load under attack (issue 10): SIPp registers extensions with digest
# auth at REG_RATE/s and places calls (uac -> switchboard -> uas, 407 challenge,
# 180, 200, ACK, BYE) at CALL_RATE/s from 127.0.0.1, while an attacker
# (benches/attacker.py) floods the same port with INVITEs that carry no
# credentials at FLOOD_RATE/s from 127.0.0.2 (never answering anything), and
# with malformed datagrams at JUNK_RATE/s from 127.0.0.3. The attack starts 2 s
# before the legitimate load and ends 2 s after it.
#
# Prints the legitimate figures (achieved rates, failures, p50/p99 of the
# registration and call setup times), what the attacker got back (407s per
# INVITE sent: 1 when the challenge is sent once and statelessly; the byte
# amplification), the server's counters (parse errors, banned drops, auth
# failures) and its CPU and RSS.
#
# usage: benches/attack.sh [SECONDS=30] [REG_RATE=1000] [CALL_RATE=200]
#                          [FLOOD_RATE=5000] [JUNK_RATE=2000]
# Target (issue 10): under the attack, 1,000 registrations/s and 200 calls/s
# with 0 failed.

source "$(dirname "$0")/common.sh"

SECS="${1:-30}"
REG_RATE="${2:-1000}"
CALL_RATE="${3:-200}"
FLOOD_RATE="${4:-5000}"
JUNK_RATE="${5:-2000}"
REGS=$(( REG_RATE * SECS ))
CALLS=$(( CALL_RATE * SECS ))
REG_PORT=$(( SIP_PORT + 1 ))
UAS_PORT=$(( SIP_PORT + 2 ))
UAC_PORT=$(( SIP_PORT + 3 ))
BOUND=$(( SECS * 3 + 60 ))
ATTACK_SECS=$(( SECS + 4 ))
ATTACK_TAIL=5

build
need python3 "Debian package python3"
raise_fd_limit
bench_dir attack
# Registering extensions 10000-10999, callers 2000-2999, callee 1999. The
# attacker claims to be 2000 (an extension that exists) and dials 1999.
provision 10000-10999 bench
provision 1999-2999 bench
users_csv "$WORK/users.csv" 10000 10999 bench
users_csv "$WORK/callers.csv" 2000 2999 bench
users_csv "$WORK/callee.csv" 1999 1999 bench
start_server
sleep 1
RSS_IDLE="$(rss_kib "$SERVER_PID")"

cd "$WORK/sipp"
log "registering the callee 1999 at 127.0.0.1:$UAS_PORT"
"$SIPP" "${SIPP_BUF[@]}" "127.0.0.1:$SIP_PORT" -sf "$SCEN/register.xml" -inf "$WORK/callee.csv" \
    -key expires 3600 -i 127.0.0.1 -p "$UAS_PORT" -m 1 -timeout 30s -timeout_error \
    -nostdin >register-callee.log 2>&1 || { echo "callee registration failed" >&2; exit 1; }

"$SIPP" "${SIPP_BUF[@]}" -sf "$SCEN/uas_answer.xml" -i 127.0.0.1 -p "$UAS_PORT" -mp 6100 \
    -timeout "$(( BOUND + 30 ))s" -nostdin -max_recv_loops 10000 -max_sched_loops 10000 \
    -trace_stat -stf uas-stat.csv -fd 5 >uas.log 2>&1 &
UAS_PID=$!
BG_PIDS+=("$UAS_PID")
wait_udp_bound "$UAS_PORT"

# The server's counters before the attack, one line of key=value.
counters() {
    http_get /metrics | awk '
        $1 == "switchboard_sip_parse_errors_total" { p += $NF }
        index($1, "switchboard_auth_banned_drops_total") == 1 { b += $NF }
        index($1, "switchboard_auth_failures_total") == 1 { f += $NF }
        index($1, "switchboard_sip_messages_received_total") == 1 { r += $NF }
        index($1, "switchboard_sip_messages_sent_total") == 1 { s += $NF }
        END { printf "parse_errors=%d banned_drops=%d auth_failures=%d received=%d sent=%d\n", p, b, f, r, s }'
}
ckv() { tr ' ' '\n' <<< "$1" | sed -n "s/^$2=//p"; }
C0="$(counters)"
DROPS0="$(udp_drops "$SIP_PORT")"
CPU0="$(cpu_seconds "$SERVER_PID")"
T0="$(date +%s.%N)"

log "attacker: INVITE flood ${FLOOD_RATE}/s from 127.0.0.2 and malformed ${JUNK_RATE}/s from 127.0.0.3 for ${ATTACK_SECS}s"
python3 "$ROOT/benches/attacker.py" --target "127.0.0.1:$SIP_PORT" --seconds "$ATTACK_SECS" \
    --invite-from 127.0.0.2 --invite-rate "$FLOOD_RATE" --from-user 2000 --to 1999 \
    --junk-from 127.0.0.3 --junk-rate "$JUNK_RATE" --tail "$ATTACK_TAIL" \
    >attacker.out 2>attacker.err &
ATK_PID=$!
BG_PIDS+=("$ATK_PID")
sleep 2

# At most 2 s of registrations and 10 s of calls in flight, below SIPp's file limit.
FDS="$(ulimit -n)"
REG_LIMIT=$(( REG_RATE * 2 )); (( REG_LIMIT < FDS - 1000 )) || REG_LIMIT=$(( FDS - 1000 ))
CALL_LIMIT=$(( CALL_RATE * 10 )); (( CALL_LIMIT < FDS - 1000 )) || CALL_LIMIT=$(( FDS - 1000 ))
log "SIPp: $REGS registrations at $REG_RATE/s and $CALLS calls at $CALL_RATE/s (bounded to ${BOUND}s)"
"$SIPP" "${SIPP_BUF[@]}" "127.0.0.1:$SIP_PORT" -sf "$SCEN/register.xml" -inf "$WORK/users.csv" \
    -key expires 3600 -i 127.0.0.1 -p "$REG_PORT" \
    -r "$REG_RATE" -rp 1000 -m "$REGS" -l "$REG_LIMIT" \
    -max_recv_loops 10000 -max_sched_loops 10000 \
    -timeout "${BOUND}s" -nostdin -trace_stat -stf reg-stat.csv -fd 1 \
    -trace_err -error_file reg-errors.log -trace_rtt -rtt_freq 100 >reg.log 2>&1 &
REG_PID=$!
BG_PIDS+=("$REG_PID")
"$SIPP" "${SIPP_BUF[@]}" "127.0.0.1:$SIP_PORT" -sf "$SCEN/uac_call.xml" -inf "$WORK/callers.csv" \
    -s 1999 -d 0 -i 127.0.0.1 -p "$UAC_PORT" -mp 6200 \
    -r "$CALL_RATE" -rp 1000 -m "$CALLS" -l "$CALL_LIMIT" \
    -max_recv_loops 10000 -max_sched_loops 10000 \
    -timeout "${BOUND}s" -nostdin -trace_stat -stf call-stat.csv -fd 1 \
    -trace_err -error_file call-errors.log -trace_rtt -rtt_freq 100 >uac.log 2>&1 &
UAC_PID=$!
BG_PIDS+=("$UAC_PID")

# Kernel drops on SIPp's sockets, sampled while they exist (a lost response
# costs a retransmission that shows in the legitimate figures).
( while kill -0 "$REG_PID" 2>/dev/null || kill -0 "$UAC_PID" 2>/dev/null; do
    echo "$(udp_drops "$REG_PORT") $(udp_drops "$UAC_PORT") $(udp_drops "$UAS_PORT")" > sipp-drops.tmp
    mv sipp-drops.tmp sipp-drops.txt
    sleep 0.5
done ) &
BG_PIDS+=($!)

# SIPp ends itself after its -m count or its -timeout.
set +e
wait "$REG_PID"; REG_RC=$?
wait "$UAC_PID"; CALL_RC=$?
set -e
RSS_LOAD="$(rss_kib "$SERVER_PID")"
wait_bounded "$ATK_PID" $(( ATTACK_SECS + ATTACK_TAIL + 60 ))
# CPU and counters over the whole attack (its tail included: the server may
# still be retransmitting to the attacker).
CPU1="$(cpu_seconds "$SERVER_PID")"
T1="$(date +%s.%N)"
C1="$(counters)"
DROPS1="$(udp_drops "$SIP_PORT")"
RSS_END="$(rss_kib "$SERVER_PID")"
RSS_PEAK="$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")"
sleep 1.5
kill "$UAS_PID" 2>/dev/null || true

REG_OK="$(stat_field reg-stat.csv 'SuccessfulCall(C)')"
REG_FAILED="$(stat_field reg-stat.csv 'FailedCall(C)')"
REG_ELAPSED="$(elapsed_secs reg-stat.csv)"
RPS="$(awk -v n="$REG_OK" -v t="$REG_ELAPSED" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }')"
cat register_*_rtt.csv 2>/dev/null | awk -F';' 'NR > 1 && $2 ~ /^[0-9.]+$/ { print $2 }' > reg-rtt.txt || true
read -r REG_P50 REG_P99 < <(percentiles reg-rtt.txt)

CALL_OK="$(stat_field call-stat.csv 'SuccessfulCall(C)')"
CALL_FAILED="$(stat_field call-stat.csv 'FailedCall(C)')"
CALL_ELAPSED="$(elapsed_secs call-stat.csv)"
CPS="$(awk -v n="$CALL_OK" -v t="$CALL_ELAPSED" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }')"
cat uac_call_*_rtt.csv 2>/dev/null | awk -F';' 'NR > 1 && $2 ~ /^[0-9.]+$/ { print $2 }' > call-rtt.txt || true
read -r CALL_P50 CALL_P99 < <(percentiles call-rtt.txt)

ATK="$(tail -1 attacker.out 2>/dev/null || true)"
akv() { tr ' ' '\n' <<< "$ATK" | sed -n "s/^$1=//p"; }
cdelta() { echo $(( $(ckv "$C1" "$1") - $(ckv "$C0" "$1") )); }
SERVER_CPU="$(awk -v a="$CPU0" -v b="$CPU1" 'BEGIN { printf "%.2f", b - a }')"
WINDOW="$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')"
CORES="$(awk -v c="$SERVER_CPU" -v w="$WINDOW" 'BEGIN { printf "%.2f", (w > 0 ? c / w : 0) }')"

echo "attack: legitimate load ${REG_RATE} registrations/s and ${CALL_RATE} calls/s for ${SECS}s; attack ${FLOOD_RATE} INVITEs/s without credentials + ${JUNK_RATE} malformed/s for ${ATTACK_SECS}s"
echo "attack: register: successful=$REG_OK failed=$REG_FAILED elapsed_s=$REG_ELAPSED registrations_per_s=$RPS p50_ms=$REG_P50 p99_ms=$REG_P99 sipp_exit=$REG_RC"
echo "attack: calls: successful=$CALL_OK failed=$CALL_FAILED elapsed_s=$CALL_ELAPSED calls_per_s=$CPS setup p50_ms=$CALL_P50 p99_ms=$CALL_P99 sipp_exit=$CALL_RC"
echo "attack: attacker: INVITEs sent=$(akv invites_sent) ($(akv achieved_invite_rate)/s), 407s received=$(akv r407) ($(akv per_invite_407) per INVITE, at most $(akv max_407_one_invite) for one, $(akv invites_unanswered) unanswered, over the run and ${ATTACK_TAIL}s after), 100s=$(akv r100), other responses=$(akv other_responses), bytes back/sent=$(akv amplification_bytes); malformed sent=$(akv junk_sent) ($(akv achieved_junk_rate)/s), answered=$(akv junk_responses) (bytes back/sent=$(akv junk_amplification_bytes)); attacker CPU $(akv attacker_cpu_s) s, its receive drops $(akv rx_drops)"
sed 's/^/attack: /' attacker.err 2>/dev/null | grep -v '^attack: $' || true
echo "attack: server over the attack: parse_errors=$(cdelta parse_errors) banned_drops=$(cdelta banned_drops) auth_failures=$(cdelta auth_failures) messages received=$(cdelta received) sent=$(cdelta sent); datagrams dropped by the kernel on the server's port $(( DROPS1 - DROPS0 )), on SIPp's (registrations, calls, callee) $(cat sipp-drops.txt 2>/dev/null | tr ' ' ',' || echo n/a)"
echo "attack: server CPU ${SERVER_CPU} s over the ${WINDOW} s of the attack and its tail (${CORES} cores); RSS idle ${RSS_IDLE} KiB, end of the legitimate load ${RSS_LOAD} KiB, after the attack ${RSS_END} KiB, peak ${RSS_PEAK} KiB"
[[ "$REG_FAILED" == 0 ]] || { echo "attack: first register errors:"; head -5 reg-errors.log 2>/dev/null | sed 's/^/attack:   /'; }
[[ "$CALL_FAILED" == 0 ]] || { echo "attack: first call errors:"; grep -m5 -i "aborting\|unexpected\|timeout" call-errors.log 2>/dev/null | sed 's/^/attack:   /' || true; }
echo "register_per_s=$RPS reg_failed=$REG_FAILED reg_p99_ms=$REG_P99 calls_per_s=$CPS calls_failed=$CALL_FAILED setup_p99_ms=$CALL_P99 flood_invites=$(akv invites_sent) flood_per_s=$(akv achieved_invite_rate) per_invite_407=$(akv per_invite_407) max_407_one_invite=$(akv max_407_one_invite) amplification_bytes=$(akv amplification_bytes) junk_sent=$(akv junk_sent) parse_errors=$(cdelta parse_errors) banned_drops=$(cdelta banned_drops) server_udp_drops=$(( DROPS1 - DROPS0 )) server_cpu_s=$SERVER_CPU server_cores=$CORES rss_idle_kib=$RSS_IDLE rss_peak_kib=$RSS_PEAK rss_end_kib=$RSS_END"
