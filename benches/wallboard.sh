#!/usr/bin/env bash
# Wallboard push (issue 17, manual 11.2): "a change of an agent's state reaches
# the wallboard within 1 s, for under 5 % of a core", with AGENTS agents on the
# floor and CALLERS callers waiting.
#
# The server gets AGENTS call-center agents (1000.., all in queue "support" on
# 9400), all put on break (not ready) over the API, so the CALLERS SIPp callers
# (uac_queue.xml, extensions 2000..) that then dial 9400 all wait, on music on
# hold, for as long as the run lasts. A viewer (python3, below) signs in like a
# browser (POST /login and the forced password change) and opens the
# wallboard's stream (/records/wallboard?fragment=1&stream=1, server-sent
# events: the live part, re-rendered when the desk hub signals a change, at most
# every 200 ms, and at the latest every second). Then CHANGES status changes,
# evenly over SECONDS, round robin over the agents, each between On Break and
# Logged Out (POST /api/agents/ID/status with the API token: the tiles go from
# "not ready" to "logged out" and back; neither takes a call, so the callers
# keep waiting); each is timed from the request written to the first event in
# which that agent's tile shows the new state.
#
# Server CPU (/proc/PID/stat) is read over four phases of the same length:
#   base    callers waiting, no viewer, no changes (music on hold, timers);
#   idle    the viewer connected, no changes (its 1 s tick: the clocks move);
#   drive   the viewer and the changes (the measured run);
#   blind   the same changes, no viewer (what the changes cost themselves).
# The wallboard's share is drive - blind (and idle - base at rest).
#
# Prints: change -> event latency p50/p90/p99/max, missing changes, events and
# bytes received, CPU per phase as a share of one core, the wallboard's share,
# server RSS, and a last key=value line. Exits non-zero when the viewer cannot
# sign in or connect or the callers do not all wait; figures are never judged.
#
# usage: benches/wallboard.sh [AGENTS=500] [CALLERS=200] [CHANGES=120] [SECONDS=60]
# Target (issue 17, 2-core machine): within 1 s of a change, under 5 % of a core.
# Knobs (besides common.sh's): BENCH_WALL_TIMEOUT_MS (5000): how long a change
# waits for its event before it counts as missing.

source "$(dirname "$0")/common.sh"

AGENTS="${1:-500}"
CALLERS="${2:-200}"
CHANGES="${3:-120}"
SECS="${4:-60}"
QUEUE_NUMBER=9400
UAC_PORT=$(( SIP_PORT + 3 ))
AGENT_FIRST=1000
AGENT_LAST=$(( AGENT_FIRST + AGENTS - 1 ))
CALLER_FIRST=2000
CALLER_LAST=$(( CALLER_FIRST + CALLERS - 1 ))
(( AGENTS >= 1 && AGENTS <= 1000 )) || { echo "AGENTS must be 1..1000" >&2; exit 2; }
(( CALLERS >= 1 && CALLERS <= 5000 )) || { echo "CALLERS must be 1..5000" >&2; exit 2; }
(( CHANGES >= 1 && SECS >= 1 )) || { echo "CHANGES and SECONDS must be positive" >&2; exit 2; }
need python3 "the viewer"

build
raise_fd_limit
bench_dir wallboard
{
    # SIPp sends no RTP: keep the no-RTP timeout out of the way.
    printf '\n[media]\nrtp_timeout_secs = 3600\nsounds_dir = "%s"\n' "$ROOT/sounds"
    printf '\n[apps]\nqueues = { "%s" = "support" }\n' "$QUEUE_NUMBER"
    printf '\n[[callcenter.queues]]\nname = "support"\nstrategy = "longest-idle-agent"\n'
    for (( a = AGENT_FIRST; a <= AGENT_LAST; a++ )); do
        printf '\n[[callcenter.agents]]\nid = "%s"\ncontact = "%s"\n' "$a" "$a"
    done
    for (( a = AGENT_FIRST; a <= AGENT_LAST; a++ )); do
        printf '\n[[callcenter.tiers]]\nqueue = "support"\nagent = "%s"\n' "$a"
    done
} >> "$CONFIG"
provision "$CALLER_FIRST-$CALLER_LAST" bench
users_csv "$WORK/callers.csv" "$CALLER_FIRST" "$CALLER_LAST" bench
start_server

log "putting $AGENTS agents on break"
for (( a = AGENT_FIRST; a <= AGENT_LAST; a++ )); do
    code="$(http_post "/api/agents/$a/status?status=on_break")"
    [[ "$code" == 200 ]] || { echo "agent $a: status change answered $code" >&2; exit 1; }
done

cd "$WORK/sipp"
RATE=$(( CALLERS < 50 ? CALLERS : 50 ))
log "SIPp uac: $CALLERS callers at ${RATE}/s to $QUEUE_NUMBER (they wait)"
"$SIPP" "${SIPP_BUF[@]}" "127.0.0.1:$SIP_PORT" -sf "$SCEN/uac_queue.xml" -inf "$WORK/callers.csv" \
    -s "$QUEUE_NUMBER" -i 127.0.0.1 -p "$UAC_PORT" -mp 6200 \
    -r "$RATE" -rp 1000 -m "$CALLERS" -l "$CALLERS" \
    -max_recv_loops 10000 -max_sched_loops 10000 \
    -timeout "$(( SECS * 4 + 600 ))s" -nostdin -trace_stat -stf stat.csv -fd 1 \
    -trace_err -error_file errors.log >uac.log 2>&1 &
UAC_PID=$!
BG_PIDS+=("$UAC_PID")
WAITING=0
for _ in $(seq 1 $(( CALLERS / RATE * 10 + 300 ))); do
    WAITING="$(http_get /api/agents/live | grep -o '"waiting":[0-9]*' | head -1 | cut -d: -f2 || echo 0)"
    (( WAITING >= CALLERS )) && break
    sleep 0.1
done
(( WAITING >= CALLERS )) || { echo "only $WAITING of $CALLERS callers waiting" >&2; exit 1; }
log "$WAITING callers waiting"
sleep 1

# The viewer and driver: python3, standard library only.
VIEWER="$WORK/viewer.py"
cat > "$VIEWER" <<'PY'
import http.client, json, re, socket, sys, threading, time

host, port, token = "127.0.0.1", int(sys.argv[1]), sys.argv[2]
first, agents, changes, secs = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
view, timeout_s, hold = sys.argv[7] == "1", int(sys.argv[8]) / 1000.0, float(sys.argv[9])

def request(method, path, headers=None, body=""):
    c = http.client.HTTPConnection(host, port, timeout=30)
    h = dict(headers or {})
    if body:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body or None, headers=h)
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    c.close()
    return r.status, r.getheader("set-cookie") or "", data

def csrf_of(page):
    m = re.search(r'name="csrf" value="([^"]*)"', page)
    if not m:
        sys.exit("no csrf field")
    return m.group(1)

def sign_in():
    _, cookie, page = request("GET", "/login")
    cookie = cookie.split(";")[0]
    st, sess, body = request("POST", "/login", {"Cookie": cookie},
                             "csrf=%s&username=admin&password=123456" % csrf_of(page))
    if st != 303:
        sys.exit("sign-in answered %d" % st)
    sess = sess.split(";")[0]
    _, _, page = request("GET", "/password", {"Cookie": sess})
    st, _, _ = request("POST", "/password", {"Cookie": sess},
                       "csrf=%s&current=123456&new=bench-wall-pass&confirm=bench-wall-pass" % csrf_of(page))
    if st != 303:
        sys.exit("password change answered %d" % st)
    return sess

lock = threading.Lock()
pending = {}          # agent -> (expected tile, t0)
latencies, events, nbytes = [], [0], [0]
tile_re = re.compile(r'data-agent="(\d+)" data-tile="([a-z_]+)"')

def reader(sess, ready):
    # The server ends a stream after two minutes (the browser opens a new
    # one at once): so does this viewer.
    while True:
        read_stream(sess, ready)

def read_stream(sess, ready):
    s = socket.create_connection((host, port))
    s.sendall(("GET /records/wallboard?fragment=1&stream=1 HTTP/1.0\r\nHost: x\r\n"
               "Accept: text/event-stream\r\nCookie: %s\r\n\r\n" % sess).encode())
    f = s.makefile("rb")
    head = b""
    while True:
        line = f.readline()
        if not line:
            sys.exit("stream closed before its headers")
        head += line
        if line in (b"\r\n", b"\n"):
            break
    if b" 200 " not in head.split(b"\r\n")[0] or b"text/event-stream" not in head:
        sys.exit("not a stream: %r" % head[:200])
    name, data = "", []
    while True:
        line = f.readline()
        if not line:
            return
        now = time.monotonic()
        nbytes[0] += len(line)
        line = line.decode("utf-8", "replace").rstrip("\r\n")
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:])
        elif line == "" and data:
            if name == "part":
                events[0] += 1
                tiles = dict(tile_re.findall("\n".join(data)))
                if len(tiles) >= agents:
                    ready.set()
                with lock:
                    for a, (want, t0) in list(pending.items()):
                        if tiles.get(a) == want:
                            latencies.append((now - t0) * 1000.0)
                            del pending[a]
            name, data = "", []

if view:
    sess = sign_in()
    ready = threading.Event()
    threading.Thread(target=reader, args=(sess, ready), daemon=True).start()
    if not ready.wait(20):
        sys.exit("no wallboard event with every agent's tile")
# At rest first (the idle phase, viewer or not), then the changes.
print("phase rest", flush=True)
time.sleep(0.3)
time.sleep(hold)
print("phase drive", flush=True)
time.sleep(0.3)  # the script reads the server's CPU at each mark
# Where each agent is now (the last run may have left some logged out).
_, _, body = request("GET", "/api/agents/live", {"Authorization": "Bearer " + token})
state = {a["id"]: ("on_break" if a.get("status") == "On Break" else "logged_out")
         for a in json.loads(body).get("agents", [])}
missing_late = 0
start = time.monotonic()
for i in range(changes):
    slot = start + i * secs / changes
    d = slot - time.monotonic()
    if d > 0:
        time.sleep(d)
    a = str(first + i % agents)
    new = "logged_out" if state.get(a, "on_break") == "on_break" else "on_break"
    want = "offline" if new == "logged_out" else "not_ready"
    with lock:
        if a in pending:
            missing_late += 1
        pending[a] = (want, time.monotonic())
    st, _, body = request("POST", "/api/agents/%s/status?status=%s" % (a, new),
                          {"Authorization": "Bearer " + token})
    if st != 200:
        sys.exit("agent %s: %d %s" % (a, st, body))
    state[a] = new
left = start + secs - time.monotonic()
if left > 0:
    time.sleep(left)
print("phase end", flush=True)
time.sleep(0.3)
deadline = time.monotonic() + timeout_s
while view and time.monotonic() < deadline:
    with lock:
        if not pending:
            break
    time.sleep(0.05)
with lock:
    missing = (len(pending) + missing_late) if view else 0
lat = sorted(latencies)
def q(p):
    return "%.1f" % lat[min(len(lat) - 1, int(len(lat) * p))] if lat else "n/a"
mean = "%.1f" % (sum(lat) / len(lat)) if lat else "n/a"
print("result view=%d changes=%d timed=%d missing=%d p50_ms=%s p90_ms=%s p99_ms=%s max_ms=%s mean_ms=%s events=%d bytes=%d"
      % (view, changes, len(lat), missing, q(0.5), q(0.9), q(0.99), "%.1f" % lat[-1] if lat else "n/a",
         mean, events[0], nbytes[0]), flush=True)
PY

# run_phase NAME VIEW: the viewer script (signed in and connected first when
# VIEW, then SECS at rest, then the changes over SECS); server CPU over each
# half, read at the script's marks.
run_phase() {
    local name="$1" view="$2" out="$WORK/viewer-$1.out" c0 c1 c2 t0 t1 t2 line
    python3 -u "$VIEWER" "$HTTP_PORT" "$API_TOKEN" "$AGENT_FIRST" "$AGENTS" "$CHANGES" "$SECS" \
        "$view" "${BENCH_WALL_TIMEOUT_MS:-5000}" "$SECS" > "$out" 2> "$WORK/viewer-$name.err" &
    local pid=$!
    BG_PIDS+=("$pid")
    c0=""; c1=""
    while kill -0 "$pid" 2>/dev/null; do
        if [[ -z "$c0" ]] && grep -q '^phase rest' "$out" 2>/dev/null; then
            c0="$(cpu_seconds "$SERVER_PID")"; t0="$(date +%s.%N)"
        fi
        if [[ -z "$c1" ]] && grep -q '^phase drive' "$out" 2>/dev/null; then
            c1="$(cpu_seconds "$SERVER_PID")"; t1="$(date +%s.%N)"
        fi
        if grep -q '^phase end' "$out" 2>/dev/null; then
            c2="$(cpu_seconds "$SERVER_PID")"; t2="$(date +%s.%N)"
            break
        fi
        sleep 0.05
    done
    wait "$pid" || { echo "viewer ($name) failed: $(tail -3 "$WORK/viewer-$name.err")" >&2; exit 1; }
    [[ -n "$c0" && -n "$c1" && -n "${c2:-}" ]] || { echo "viewer ($name): no phase marks" >&2; exit 1; }
    line="$(grep '^result ' "$out")"
    # rest share, drive share (of one core), and the viewer's result line.
    REST_SHARE="$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.2f", (b - a) * 100 / (e - s) }')"
    DRIVE_SHARE="$(awk -v a="$c1" -v b="$c2" -v s="$t1" -v e="$t2" 'BEGIN { printf "%.2f", (b - a) * 100 / (e - s) }')"
    RESULT="${line#result }"
}
kv() { tr ' ' '\n' <<< "$1" | sed -n "s/^$2=//p"; }

log "phase 1: no viewer: ${SECS}s at rest (base), then $CHANGES changes over ${SECS}s (blind)"
run_phase blind 0
BASE="$REST_SHARE"; BLIND="$DRIVE_SHARE"
log "phase 2: viewer: ${SECS}s at rest (idle), then $CHANGES changes over ${SECS}s (drive)"
run_phase drive 1
IDLE="$REST_SHARE"; DRIVE="$DRIVE_SHARE"; R="$RESULT"
RSS="$(rss_kib "$SERVER_PID")"
STILL="$(http_get /api/agents/live | grep -o '"waiting":[0-9]*' | head -1 | cut -d: -f2 || echo 0)"
WARNS="$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" | grep -c ' WARN \| ERROR ' || true)"
WALL_REST="$(awk -v a="$IDLE" -v b="$BASE" 'BEGIN { printf "%.2f", a - b }')"
WALL_DRIVE="$(awk -v a="$DRIVE" -v b="$BLIND" 'BEGIN { printf "%.2f", a - b }')"
EV_RATE="$(awk -v n="$(kv "$R" events)" -v s="$SECS" 'BEGIN { printf "%.1f", n / (2 * s) }')"
KB_S="$(awk -v n="$(kv "$R" bytes)" -v s="$SECS" 'BEGIN { printf "%.1f", n / 1024 / (2 * s) }')"

echo "wallboard: $AGENTS agents, $CALLERS callers waiting ($STILL at the end), $CHANGES changes over ${SECS}s"
echo "wallboard: change -> wallboard event: p50 $(kv "$R" p50_ms) ms, p90 $(kv "$R" p90_ms) ms, p99 $(kv "$R" p99_ms) ms, max $(kv "$R" max_ms) ms, mean $(kv "$R" mean_ms) ms; timed $(kv "$R" timed), missing $(kv "$R" missing)"
echo "wallboard: events $(kv "$R" events) ($EV_RATE/s), $(kv "$R" bytes) bytes ($KB_S KiB/s) to the viewer"
echo "wallboard: server CPU (% of one core): base $BASE, idle with viewer $IDLE, changes without viewer $BLIND, changes with viewer $DRIVE"
echo "wallboard: the wallboard's share: at rest $WALL_REST %, under changes $WALL_DRIVE %; server RSS $RSS KiB; server log: $WARNS WARN/ERROR lines"
echo "agents=$AGENTS callers=$CALLERS changes=$CHANGES seconds=$SECS p50_ms=$(kv "$R" p50_ms) p90_ms=$(kv "$R" p90_ms) p99_ms=$(kv "$R" p99_ms) max_ms=$(kv "$R" max_ms) missing=$(kv "$R" missing) events=$(kv "$R" events) cpu_base_pct=$BASE cpu_idle_pct=$IDLE cpu_blind_pct=$BLIND cpu_drive_pct=$DRIVE wall_rest_pct=$WALL_REST wall_drive_pct=$WALL_DRIVE rss_kib=$RSS server_warns=$WARNS"
