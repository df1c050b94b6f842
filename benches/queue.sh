#!/usr/bin/env bash
# Queue benchmark (issue 4): CALLERS SIPp callers arrive at RATE calls/s and dial
# the queue number 9400 (queue "support", strategy STRATEGY); they wait with music
# on hold (relayed media plane; SIPp sends no RTP and ignores the music) until the
# ACD offers them to one of AGENTS agents. One SIPp uas is every agent: it registers
# all agent extensions with its own address (register.xml, -inf CSV), then answers
# each offer (180, 200 ms ring, 200 with PCMU SDP), talks TALK_MS and hangs up (the
# agent sends the BYE: "agent free" is the moment the server handles that BYE).
# The server then plays "goodbye" to the caller and hangs up; the SIPp caller
# (uac_queue.xml) waits for that BYE, so every caller ends served or failed.
#
# Agents: wrap-up-time 0 (free as soon as their call ends), max-no-answer 0; queue
# ring-timeout 20 s. All agents are made Available over the HTTP API before the
# first caller.
#
# Prints: callers served / failed (SIPp's counts and the server's answered and
# abandoned counters), the offer latency p50/p99 (switchboard_queue_offer_latency_
# seconds: from "agent free and caller waiting" to the offer leaving; computed from
# the histogram buckets, interpolated within the bucket, whose bounds are given),
# the server's CPU (from /proc), the most callers seen waiting (polling /metrics:
# joined - answered - abandoned), and whether the strategy was respected: the calls
# answered per agent (GET /api/queues) and, for longest-idle-agent, a replay of the
# queue service's event log (every offer must go to the free agent whose last queue
# call ended first; within 1 ms counts as a tie). Offers made on an agent's call
# end are also timed on the wire: the agent SIPp's BYE sent to its next INVITE
# received (SIPp's -trace_msg), which adds the SIP handling to the histogram's span.
#
# usage: benches/queue.sh [CALLERS=500] [RATE=50] [AGENTS=100] [TALK_MS=2000]
#                         [STRATEGY=longest-idle-agent] [STOP_S=0]
# STOP_S = 0: wait (bounded) until every caller has been served or has failed.
# STOP_S > 0: STOP_S seconds after the first caller, stop: read the figures, log the
# agents out and hang every call up over the API (the unserved callers count as
# abandoned, not as lost).
#
# Targets (issue 4, 2-core machine):
#   benches/queue.sh                                  500 callers at 50/s, 100 agents:
#       zero lost calls, strategy respected, offer latency p99 under 50 ms; CPU.
#   benches/queue.sh 2000 200 10 5000 longest-idle-agent 120
#       2,000 callers waiting on MOH with 10 agents: the engine stays responsive,
#       offer latency p99 under 100 ms.
#
# Knobs (besides common.sh's): BENCH_QUEUE_EVENTS=0 turns the queue service's debug
# event log off (and with it the strategy replay and the wire timing). The server logs at BENCH_LOG (warn)
# plus engine::apps::queue=info (one line per caller served or sent on).

source "$(dirname "$0")/common.sh"

CALLERS="${1:-500}"
RATE="${2:-50}"
AGENTS="${3:-100}"
TALK_MS="${4:-2000}"
STRATEGY="${5:-longest-idle-agent}"
STOP_S="${6:-0}"
QUEUE_NUMBER=9400
UAS_PORT=$(( SIP_PORT + 2 ))
UAC_PORT=$(( SIP_PORT + 3 ))
(( AGENTS >= 1 && AGENTS <= 1000 )) || { echo "AGENTS must be 1..1000" >&2; exit 2; }
(( CALLERS >= 1 && RATE >= 1 )) || { echo "CALLERS and RATE must be positive" >&2; exit 2; }
# Agents 1000.., callers 2000.. (at most 5,000 extensions; SIPp reuses them).
AGENT_FIRST=1000
AGENT_LAST=$(( AGENT_FIRST + AGENTS - 1 ))
CALLER_FIRST=2000
CALLER_LAST=$(( CALLER_FIRST + (CALLERS < 5000 ? CALLERS : 5000) - 1 ))
# How long a run may take: arrivals, then every round of agents (talk, ring, goodbye
# and signalling, with margin).
ROUNDS=$(( (CALLERS + AGENTS - 1) / AGENTS ))
if (( STOP_S > 0 )); then
    BOUND=$(( STOP_S + 120 ))
else
    BOUND=$(( CALLERS / RATE + ROUNDS * (TALK_MS + 3000) * 2 / 1000 + 120 ))
fi

build
raise_fd_limit
bench_dir queue
{
    # SIPp sends no RTP on either side: keep the no-RTP timeout out of the way.
    printf '\n[media]\nrtp_timeout_secs = 3600\nsounds_dir = "%s"\n' "$ROOT/sounds"
    printf '\n[apps]\nqueues = { "%s" = "support" }\n' "$QUEUE_NUMBER"
    printf '\n[[callcenter.queues]]\nname = "support"\nstrategy = "%s"\nring-timeout = 20\n' "$STRATEGY"
    for (( a = AGENT_FIRST; a <= AGENT_LAST; a++ )); do
        printf '\n[[callcenter.agents]]\nid = "%s"\ncontact = "%s"\nwrap-up-time = 0\nmax-no-answer = 0\n' "$a" "$a"
    done
    for (( a = AGENT_FIRST; a <= AGENT_LAST; a++ )); do
        printf '\n[[callcenter.tiers]]\nqueue = "support"\nagent = "%s"\n' "$a"
    done
} >> "$CONFIG"
provision "$AGENT_FIRST-$AGENT_LAST" bench
provision "$CALLER_FIRST-$CALLER_LAST" bench
users_csv "$WORK/agents.csv" "$AGENT_FIRST" "$AGENT_LAST" bench
users_csv "$WORK/callers.csv" "$CALLER_FIRST" "$CALLER_LAST" bench
QLOG="${BENCH_LOG:-warn},engine::apps::queue=info"
[[ "${BENCH_QUEUE_EVENTS:-1}" == 1 ]] && QLOG="$QLOG,engine::queues=debug"
BENCH_LOG="$QLOG" start_server

# The queue counters and the offer latency histogram, as one line of key=value.
queue_metrics() {
    http_get /metrics | awk '
        $1 == "switchboard_queue_joined_total" { j = $2 }
        $1 == "switchboard_queue_offers_total" { o = $2 }
        $1 == "switchboard_queue_answered_total" { a = $2 }
        $1 == "switchboard_queue_abandoned_total" { b = $2 }
        $1 == "switchboard_media_rtp_out_total" { r = $2 }
        index($1, "switchboard_queue_offer_latency_seconds_bucket{") == 1 {
            le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le); h = h le ":" $2 ","
        }
        $1 == "switchboard_queue_offer_latency_seconds_sum" { s = $2 }
        END { printf "joined=%d offers=%d answered=%d abandoned=%d rtp_out=%d lat_sum=%s hist=%s\n",
              j, o, a, b, r, s, h }'
}
mkv() { tr ' ' '\n' <<< "$1" | sed -n "s/^$2=//p"; }

# hist_quantile HIST Q: the Q quantile of a cumulative histogram "le:count,...":
# "value_ms lo_ms hi_ms", interpolated linearly within the bucket [lo, hi].
hist_quantile() {
    awk -v h="$1" -v q="$2" 'BEGIN {
        n = split(h, parts, ","); total = 0
        for (i = 1; i <= n; i++) if (parts[i] != "") { split(parts[i], kv, ":"); le[i] = kv[1]; c[i] = kv[2]; total = c[i]; last = i }
        if (total == 0) { print "n/a n/a n/a"; exit }
        rank = q * total; prev = 0; lo = 0
        for (i = 1; i <= last; i++) {
            if (c[i] >= rank && c[i] > prev) {
                if (le[i] == "+Inf") { printf "inf %.0f inf\n", lo * 1000; exit }
                v = lo + (le[i] - lo) * (rank - prev) / (c[i] - prev)
                printf "%.2f %g %g\n", v * 1000, lo * 1000, le[i] * 1000; exit
            }
            prev = c[i]; if (le[i] != "+Inf") lo = le[i]
        }
    }'
}

cd "$WORK/sipp"
log "registering $AGENTS agent extensions ($AGENT_FIRST-$AGENT_LAST) at 127.0.0.1:$UAS_PORT"
"$SIPP" "${SIPP_BUF[@]}" "127.0.0.1:$SIP_PORT" -sf "$SCEN/register.xml" -inf "$WORK/agents.csv" \
    -key expires 3600 -i 127.0.0.1 -p "$UAS_PORT" -m "$AGENTS" -r 200 -timeout 60s -timeout_error \
    -nostdin -trace_stat -stf register-stat.csv >register.log 2>&1 \
    || { echo "agent registration failed: $(stat_field register-stat.csv 'FailedCall(C)') failed" >&2; exit 1; }

log "SIPp uas (all agents) on $UAS_PORT, talk ${TALK_MS} ms"
"$SIPP" "${SIPP_BUF[@]}" -sf "$SCEN/uas_agent.xml" -i 127.0.0.1 -p "$UAS_PORT" -mp 6100 \
    -d "$TALK_MS" -timeout "$(( BOUND + 60 ))s" -nostdin -max_recv_loops 10000 -max_sched_loops 10000 \
    -trace_stat -stf uas-stat.csv -fd 1 -trace_err -error_file uas-errors.log \
    -trace_msg -message_file uas-messages.log >uas.log 2>&1 &
UAS_PID=$!
BG_PIDS+=("$UAS_PID")
wait_udp_bound "$UAS_PORT"

log "logging in $AGENTS agents (Available)"
for (( a = AGENT_FIRST; a <= AGENT_LAST; a++ )); do
    code="$(http_post "/api/agents/$a/status?status=available")"
    [[ "$code" == 200 ]] || { echo "agent $a: status change answered $code" >&2; exit 1; }
done
FREE="$(http_get /api/queues | grep -o '"state":"Waiting"' | wc -l || true)"
log "$FREE agents Available and Waiting"

RSS0="$(rss_kib "$SERVER_PID")"
M0="$(queue_metrics)"
CPU0="$(cpu_seconds "$SERVER_PID")"
T0="$(date +%s.%N)"
log "SIPp uac: $CALLERS callers at $RATE/s to $QUEUE_NUMBER ($STRATEGY, $AGENTS agents, bounded to ${BOUND}s$( (( STOP_S > 0 )) && echo ", stop after ${STOP_S}s"))"
"$SIPP" "${SIPP_BUF[@]}" "127.0.0.1:$SIP_PORT" -sf "$SCEN/uac_queue.xml" -inf "$WORK/callers.csv" \
    -s "$QUEUE_NUMBER" -i 127.0.0.1 -p "$UAC_PORT" -mp 6200 \
    -r "$RATE" -rp 1000 -m "$CALLERS" -l "$CALLERS" \
    -max_recv_loops 10000 -max_sched_loops 10000 \
    -timeout "${BOUND}s" -nostdin -trace_stat -stf stat.csv -fd 1 \
    -trace_err -error_file errors.log -trace_rtt -rtt_freq 1 >uac.log 2>&1 &
UAC_PID=$!
BG_PIDS+=("$UAC_PID")

# Poll /metrics (every 0.5 s) while the callers run: the waiting peak, and a
# timeline (seconds, joined, answered, abandoned, waiting, offers, server CPU s).
MAX_WAIT=0
STOPPED=0
SIPP_CPU=n/a
echo "t_s joined answered abandoned waiting offers server_cpu_s" > timeline.txt
while kill -0 "$UAC_PID" 2>/dev/null; do
    now="$(date +%s.%N)"
    el="$(awk -v a="$T0" -v b="$now" 'BEGIN { printf "%.1f", b - a }')"
    m="$(queue_metrics 2>/dev/null || true)"
    if [[ -n "$m" ]]; then
        j=$(( $(mkv "$m" joined) - $(mkv "$M0" joined) ))
        an=$(( $(mkv "$m" answered) - $(mkv "$M0" answered) ))
        ab=$(( $(mkv "$m" abandoned) - $(mkv "$M0" abandoned) ))
        w=$(( j - an - ab ))
        (( w > MAX_WAIT )) && MAX_WAIT=$w
        echo "$el $j $an $ab $w $(( $(mkv "$m" offers) - $(mkv "$M0" offers) )) $(cpu_seconds "$SERVER_PID")" >> timeline.txt
    fi
    SIPP_CPU="$(cpu_seconds "$UAC_PID" 2>/dev/null || echo "$SIPP_CPU")"
    if (( STOP_S > 0 )) && awk -v e="$el" -v s="$STOP_S" 'BEGIN { exit !(e >= s) }'; then
        STOPPED=1
        break
    fi
    if awk -v e="$el" -v s="$BOUND" 'BEGIN { exit !(e >= s + 30) }'; then
        log "SIPp uac still running after $(( BOUND + 30 ))s"
        break
    fi
    sleep 0.5
done

# The figures are read here (for a stopped run: before the teardown).
M1="$(queue_metrics)"
CPU1="$(cpu_seconds "$SERVER_PID")"
RSS1="$(rss_kib "$SERVER_PID")"
T1="$(date +%s.%N)"
UAS_CPU="$(cpu_seconds "$UAS_PID" 2>/dev/null || echo n/a)"
http_get /api/queues > queues-at-end.json
WAITING_AT_END="$(tr '{' '\n' < queues-at-end.json | grep -c '"caller_number"' || true)"
CALLS_AT_END="$( (http_get /api/calls || true) | grep -o '"id":[0-9]*' | wc -l || true)"

if (( STOPPED )); then
    log "stop after ${STOP_S}s: $WAITING_AT_END callers waiting, $CALLS_AT_END calls; logging agents out, hanging up"
    for (( a = AGENT_FIRST; a <= AGENT_LAST; a++ )); do
        http_post "/api/agents/$a/status?status=logged_out" >/dev/null || true
    done
    http_get /api/calls | grep -o '"id":[0-9]*' | cut -d: -f2 > hangup-ids.txt || true
    HUNG=0
    while read -r id; do
        code="$(http_post "/api/calls/$id/hangup" || true)"
        [[ "$code" == 200 ]] && HUNG=$(( HUNG + 1 ))
    done < hangup-ids.txt
    log "hung up $HUNG calls"
fi
wait_bounded "$UAC_PID" 120
# The uas has no call count of its own: give the last BYEs their time, then stop it.
sleep 2
kill "$UAS_PID" 2>/dev/null || true
sleep 0.5

M2="$(queue_metrics)"

# --- figures -----------------------------------------------------------------
delta() { echo $(( $(mkv "$M1" "$1") - $(mkv "$M0" "$1") )); }
JOINED="$(delta joined)"
OFFERS="$(delta offers)"
ANSWERED="$(delta answered)"
ABANDONED="$(delta abandoned)"
MOH_PKTS="$(delta rtp_out)"
HIST="$(mkv "$M1" hist)"
OFFER_COUNT="$(awk -v h="$HIST" 'BEGIN { n = split(h, p, ","); for (i = 1; i <= n; i++) if (p[i] != "") { split(p[i], kv, ":"); t = kv[2] } print t + 0 }')"
LAT_MEAN="$(awk -v s="$(mkv "$M1" lat_sum)" -v n="$OFFER_COUNT" 'BEGIN { printf "%.2f", (n > 0 ? s * 1000 / n : 0) }')"
read -r P50 P50_LO P50_HI < <(hist_quantile "$HIST" 0.50)
read -r P99 P99_LO P99_HI < <(hist_quantile "$HIST" 0.99)
ELAPSED="$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')"
SERVER_CPU="$(awk -v a="$CPU0" -v b="$CPU1" 'BEGIN { printf "%.2f", b - a }')"

OK="$(stat_field stat.csv 'SuccessfulCall(C)')"
FAILED="$(stat_field stat.csv 'FailedCall(C)')"
UAS_OK="$(stat_field uas-stat.csv 'SuccessfulCall(C)')"
UAS_FAILED="$(stat_field uas-stat.csv 'FailedCall(C)')"
# Per caller: first INVITE to 200 (setup), ACK to the server's BYE (in call).
awk -F';' 'NR > 1 && $3 == "setup" { print $2 }' uac_queue_*_rtt.csv 2>/dev/null > setup.txt || true
awk -F';' 'NR > 1 && $3 == "incall" { print $2 / 1000 }' uac_queue_*_rtt.csv 2>/dev/null > incall.txt || true
read -r SETUP50 SETUP99 < <(percentiles setup.txt)
read -r INCALL50 INCALL99 < <(percentiles incall.txt)

if (( STOPPED )); then
    LOST="n/a"
    SERVED_OK="n/a (stopped after ${STOP_S}s)"
else
    LOST=$(( CALLERS - ANSWERED ))
    SERVED_OK=$([[ "$LOST" == 0 && "$ABANDONED" == 0 && "${FAILED:-1}" == 0 ]] && echo yes || echo no)
fi

# Calls answered per agent (GET /api/queues), as "count:agents" pairs.
tr '}' '\n' < queues-at-end.json | awk 'match($0, /"calls_answered":[0-9]+/) {
        c = substr($0, RSTART + 17, RLENGTH - 17)
        if (match($0, /"id":"[^"]*"/)) print substr($0, RSTART + 6, RLENGTH - 7), c }' > per-agent.txt
read -r A_N A_MIN A_MAX A_MEAN A_ZERO < <(awk '{ n++; s += $2; if (n == 1 || $2 < mn) mn = $2; if ($2 > mx) mx = $2; if ($2 == 0) z++ }
    END { printf "%d %d %d %.2f %d\n", n, mn, mx, (n ? s / n : 0), z }' per-agent.txt)
A_DIST="$(awk '{ c[$2]++ } END { for (k in c) print k, c[k] }' per-agent.txt | sort -n | awk '{ printf "%s%s calls: %s agents", (NR > 1 ? ", " : ""), $1, $2 }')"
A_SPREAD=$(( A_MAX - A_MIN ))

# Replay of the queue service's events (longest-idle-agent): each offer must go to
# a free agent whose last queue call ended no later (1 ms tolerance) than that of any
# other free agent; agents with no queue call yet come first.
REPLAY="not checked"
VIOLATIONS="n/a"
CHECKED=0
if [[ "${BENCH_QUEUE_EVENTS:-1}" == 1 ]]; then
    sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" | grep 'queue event: ' > events.txt || true
    if [[ "$STRATEGY" == longest-idle-agent ]]; then
        read -r CHECKED VIOLATIONS < <(awk '
            function ms(ts,   t, h) { t = ts; sub(/^[^T]*T/, "", t); sub(/Z$/, "", t); split(t, h, ":"); return ((h[1] * 60 + h[2]) * 60 + h[3]) * 1000 }
            function field(line, name,   s) { s = line; if (!sub(".*" name ": ", "", s)) return ""; sub(/[,} ].*/, "", s); gsub(/"/, "", s); return s }
            {
                t = ms($1)
                if ($0 ~ /AgentStatusChanged/) { a = field($0, "agent"); st = $0; sub(/.*new: /, "", st); avail[a] = (st ~ /^Available/) }
                else if ($0 ~ /AgentStateChanged/) { a = field($0, "agent"); state[a] = field($0, "new") }
                else if ($0 ~ /BridgeEnd/) { a = field($0, "agent"); ended[a] = t }
                else if ($0 ~ /AgentOffering/) {
                    a = field($0, "agent"); n++
                    mine = (a in ended) ? ended[a] : -1e18
                    for (b in avail) {
                        if (b == a || !avail[b] || state[b] != "Waiting") continue
                        other = (b in ended) ? ended[b] : -1e18
                        if (other < mine - 1) { bad++; if (bad <= 5) printf "out of order: offer %d (%s) to agent %s while agent %s, free, had been idle %s longer\n", n, $1, a, b, (other < -1e17 ? "since before any queue call" : sprintf("%.1f ms", mine - other)) > "replay-violations.txt"; break }
                    }
                }
            }
            END { printf "%d %d\n", n, bad }' events.txt)
        REPLAY="$CHECKED offers replayed, $VIOLATIONS out of order"
    fi
fi
if [[ "$STRATEGY" == longest-idle-agent ]] && (( ! STOPPED )); then
    # Every agent answered, the spread is small, and the replay found nothing.
    RESPECTED=$([[ "$A_ZERO" == 0 || "$CALLERS" -lt "$AGENTS" ]] && (( A_SPREAD <= 2 )) \
        && [[ "$VIOLATIONS" == 0 || "$VIOLATIONS" == n/a ]] && echo yes || echo no)
elif [[ "$STRATEGY" == longest-idle-agent ]]; then
    RESPECTED=$([[ "$VIOLATIONS" == 0 ]] && (( A_SPREAD <= 2 )) && echo yes || echo no)
else
    RESPECTED="see distribution"
fi

# Offers made on an agent's call end (the caller was already waiting), from the
# events, and the same seen on the wire by the agents' SIPp: its k-th BYE sent by
# agent X to the (k+1)-th INVITE received for X ("wire" latency: the server's BYE
# handling, the queue service and the new INVITE, plus SIPp's own scheduling).
ON_FREE=n/a
WIRE50=n/a
WIRE99=n/a
WIRE_N=0
if [[ -s events.txt ]]; then
    awk 'function field(line, name,   s) { s = line; if (!sub(".*" name ": ", "", s)) return ""; sub(/[,} ].*/, "", s); gsub(/"/, "", s); return s }
        /BridgeEnd/ { a = field($0, "agent"); k[a]++ }
        /AgentOffering/ { a = field($0, "agent"); if (prev == "free " a) print a, k[a] }
        /AgentStateChanged/ && /new: Waiting/ { prev = "free " field($0, "agent"); next }
        /AgentStateChanged/ && /new: Receiving/ { next }
        { prev = "" }' events.txt > offers-on-free.txt
    ON_FREE="$(wc -l < offers-on-free.txt)"
    # SIPp message log: "----- DATE HH:MM:SS.us", "UDP message sent|received ...", the message.
    awk 'function ms(t,   h) { split(t, h, ":"); return ((h[1] * 60 + h[2]) * 60 + h[3]) * 1000 }
        /^-+ / { t = ms($NF); dir = ""; first = ""; next }
        /message (sent|received)/ { dir = ($0 ~ /sent/) ? "sent" : "recv"; next }
        dir != "" && first == "" && NF > 0 { first = $1; next }
        /^Call-ID:/ || /^i:/ { cid = $2 }
        /^From:/ && first == "BYE" && dir == "sent" { if (match($0, /sip:[^@]*@/)) byeuser = substr($0, RSTART + 4, RLENGTH - 5) }
        /^To:/ && first == "INVITE" && dir == "recv" { if (match($0, /sip:[^@]*@/)) invuser = substr($0, RSTART + 4, RLENGTH - 5) }
        /^Content-Length:/ || /^l:/ {
            if (first == "INVITE" && dir == "recv" && !seen["I" cid]++) printf "INV %s %.3f\n", invuser, t
            if (first == "BYE" && dir == "sent" && !seen["B" cid]++) printf "BYE %s %.3f\n", byeuser, t
            first = "x"
        }' uas-messages.log > agent-wire.txt 2>/dev/null || true
    awk 'NR == FNR { want[$1 " " $2] = 1; next }
        $1 == "BYE" { b[$2, ++nb[$2]] = $3 }
        $1 == "INV" { i = ++ni[$2]; if (((($2 " " (i - 1)) in want)) && (($2, i - 1) in b)) printf "%.3f\n", $3 - b[$2, i - 1] }' \
        offers-on-free.txt agent-wire.txt > wire-latency.txt
    WIRE_N="$(wc -l < wire-latency.txt)"
    read -r WIRE50 WIRE99 < <(percentiles wire-latency.txt)
fi

SERVED_LOG="$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" | grep -c 'served in queue support by agent' || true)"
LEFT_LOG="$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" | grep -o 'left queue support: .*' | sort | uniq -c | awk '{ $1 = $1; print }' | paste -sd';' - || true)"
WARNS="$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" | grep -c ' WARN \| ERROR ' || true)"

echo "queue: $CALLERS callers at ${RATE}/s, $AGENTS agents ($STRATEGY), talk ${TALK_MS} ms, elapsed ${ELAPSED}s$( (( STOPPED )) && echo ", stopped after ${STOP_S}s")"
echo "queue: SIPp callers successful=$OK failed=$FAILED (a stopped run's hung-up callers end successfully too); agents (uas) successful=$UAS_OK failed=$UAS_FAILED"
echo "queue: server joined=$JOINED offers=$OFFERS answered=$ANSWERED abandoned=$ABANDONED; log: $SERVED_LOG served${LEFT_LOG:+, left: $LEFT_LOG}; lost=$LOST all_served=$SERVED_OK"
(( STOPPED )) && echo "queue: after the stop: hung up $HUNG calls; since the start answered=$(( $(mkv "$M2" answered) - $(mkv "$M0" answered) )) abandoned=$(( $(mkv "$M2" abandoned) - $(mkv "$M0" abandoned) ))"
echo "queue: offer latency (agent free and caller waiting -> offer sent), $OFFER_COUNT offers: p50_ms=$P50 (bucket ${P50_LO}-${P50_HI} ms) p99_ms=$P99 (bucket ${P99_LO}-${P99_HI} ms) mean_ms=$LAT_MEAN"
echo "queue: offer latency buckets (upper bound ms: offers in the bucket): $(awk -v h="$HIST" 'BEGIN { n = split(h, p, ","); prev = 0
    for (i = 1; i <= n; i++) if (p[i] != "") { split(p[i], kv, ":"); if (kv[2] > prev) printf "%s%s: %d", (o++ ? ", " : ""), (kv[1] == "+Inf" ? "+Inf" : kv[1] * 1000), kv[2] - prev; prev = kv[2] } }')"
echo "queue: offers on an agent's call end (caller already waiting): $ON_FREE; on the wire (agent's BYE sent -> next INVITE received, SIPp's trace): $WIRE_N pairs, p50_ms=$WIRE50 p99_ms=$WIRE99"
echo "queue: waiting callers: max seen $MAX_WAIT (polled every 0.5 s), at the end $WAITING_AT_END"
echo "queue: caller setup (first INVITE to 200) p50_ms=$SETUP50 p99_ms=$SETUP99; in call (ACK to the server's BYE) p50_s=$INCALL50 p99_s=$INCALL99"
awk -v cpu="$SERVER_CPU" -v t="$ELAPSED" -v n="$ANSWERED" -v j="$JOINED" -v moh="$MOH_PKTS" -v su="$SIPP_CPU" -v sa="$UAS_CPU" -v r0="$RSS0" -v r1="$RSS1" 'BEGIN {
    printf "queue: server CPU %.2f s over %.1f s = %.2f cores; %.2f ms per caller joined, %.2f ms per caller served; media out %d packets (%.0f/s, music on hold and goodbye); SIPp CPU callers %s s, agents %s s\n",
        cpu, t, (t > 0 ? cpu / t : 0), (j > 0 ? cpu * 1000 / j : 0), (n > 0 ? cpu * 1000 / n : 0), moh, (t > 0 ? moh / t : 0), su, sa
    printf "queue: server RSS %d KiB before the callers, %d KiB at the end of the measurement\n", r0, r1 }'
echo "queue: calls answered per agent: $A_N agents, min $A_MIN, max $A_MAX, mean $A_MEAN, spread $A_SPREAD, $A_ZERO with none ($A_DIST)"
echo "queue: strategy $STRATEGY respected=$RESPECTED; event replay: $REPLAY"
[[ -s replay-violations.txt ]] && sed 's/^/queue:   /' replay-violations.txt
echo "queue: server log: $WARNS WARN/ERROR lines"
if [[ "$WARNS" != 0 ]]; then
    sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" | grep ' WARN \| ERROR ' | sed 's/^[^ ]* //' | sed 's/call [0-9]*/call N/g' | sort | uniq -c | sort -rn | head -5 | sed 's/^/queue:   /'
fi
[[ "${FAILED:-0}" == 0 ]] || { echo "queue: first caller errors:"; grep -m5 -i "aborting\|unexpected\|timeout" errors.log | sed 's/^/queue:   /' || true; }
echo "callers=$CALLERS rate=$RATE agents=$AGENTS talk_ms=$TALK_MS strategy=$STRATEGY stopped_s=$STOP_S sipp_ok=$OK sipp_failed=$FAILED joined=$JOINED answered=$ANSWERED abandoned=$ABANDONED lost=$LOST offer_p50_ms=$P50 offer_p99_ms=$P99 offers=$OFFER_COUNT offers_on_free=$ON_FREE wire_p50_ms=$WIRE50 wire_p99_ms=$WIRE99 max_waiting=$MAX_WAIT server_cpu_s=$SERVER_CPU rss_kib=$RSS1 elapsed_s=$ELAPSED agent_calls_min=$A_MIN agent_calls_max=$A_MAX strategy_respected=$RESPECTED replay_violations=$VIOLATIONS"
