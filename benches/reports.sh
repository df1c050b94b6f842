#!/usr/bin/env bash
# Reports at scale (issue 17): "with 5,000,000 CDRs and 20,000,000 queue
# events, every report for a month under 1 s, for a year under 3 s" (2-core
# machine, the embedded SQLite default).
#
# Fills a SQLite file under target/bench/reports with a year of calls
# through the store's write path (`cargo bench --bench reports_load`,
# benches/reports_load.rs: CDRS CDRs, about 6 queue events per queue call,
# surveys, the agents' work-state log, CDRS/100 tickets; the roll-ups filled
# as the server fills them), times the store functions each report calls in
# process, then starts the release server on that file and times
# `GET /api/reports/NAME?from=&to=&group=&format=json` for every report
# and every grouping it offers over the
# last 30 days and the whole year, RUNS times each (min, median, max). A
# report answering 404 is listed as missing; any other error fails the run.
#
# The filled file is kept (filling 25,000,000 rows takes a while) and reused
# when its marker matches: same CDRS, same generator, same migrations. Its
# year ends on the day it was filled (the marker keeps that day).
#
# usage: benches/reports.sh [CDRS=5000000] [RUNS=5]
# Knobs (besides common.sh's BENCH_BIN, BENCH_NO_BUILD, BENCH_HTTP_PORT,
# BENCH_LOG): REPORTS_LOAD_BIN (a prebuilt reports_load binary),
# BENCH_REPORTS_FRESH=1 (fill again).

source "$(dirname "$0")/common.sh"

CDRS="${1:-5000000}"
RUNS="${2:-5}"
(( CDRS >= 1 && RUNS >= 1 )) || { echo "CDRS and RUNS must be positive" >&2; exit 2; }
GEN_BIN="${REPORTS_LOAD_BIN:-}"
[[ -z "$GEN_BIN" || "$GEN_BIN" == /* ]] || GEN_BIN="$PWD/$GEN_BIN"

WORK="$ROOT/target/bench/reports"
mkdir -p "$WORK"
DB_FILE="$WORK/reports-$CDRS.db"
MARKER="$DB_FILE.filled"
# What the file was filled by: the generator's source and the migrations.
SCHEMA="$(cat "$ROOT/benches/reports_load.rs" "$ROOT"/crates/store/migrations/sqlite/*.sql \
    | sha256sum | cut -c1-16)"

if [[ -z "$GEN_BIN" ]]; then
    if [[ -z "${BENCH_BIN:-}" && "${BENCH_NO_BUILD:-0}" != 1 ]]; then
        log "cargo build --release --bin switchboard --bench reports_load"
        (cd "$ROOT" && cargo build --release --quiet --bin switchboard --bench reports_load)
    fi
    # Beside the server binary: target/release/deps, or the debug build's
    # deps when BENCH_BIN is the debug server (the test command's smoke run).
    GEN_BIN="$(ls -t "$(dirname "$BIN")"/deps/reports_load-* 2>/dev/null | grep -v '\.d$' | head -1)"
fi
[[ -x "$GEN_BIN" ]] || { echo "no reports_load binary (REPORTS_LOAD_BIN or cargo build --release --bench reports_load)" >&2; exit 2; }
[[ -x "$BIN" ]] || { echo "no switchboard binary at $BIN (BENCH_BIN or cargo build --release)" >&2; exit 2; }

if [[ "${BENCH_REPORTS_FRESH:-0}" != 1 && -f "$MARKER" && -f "$DB_FILE" ]] \
    && grep -q "^cdrs=$CDRS schema=$SCHEMA " "$MARKER"; then
    LAST_DAY="$(sed -n 's/.* last_day=\([0-9-]*\).*/\1/p' "$MARKER")"
    log "reusing $DB_FILE (filled $(cut -d' ' -f3- "$MARKER"))"
    FILL_KV=""
else
    rm -f "$DB_FILE" "$DB_FILE-wal" "$DB_FILE-shm" "$MARKER"
    LAST_DAY="$(date +%F)"
    log "filling $DB_FILE: $CDRS CDRs over the year ending $LAST_DAY"
    FILL_OUT="$("$GEN_BIN" --database-url "sqlite://$DB_FILE" --cdrs "$CDRS" \
        --last-day "$LAST_DAY" --fill | tee -a /dev/stderr)"
    FILL_KV="$(tail -1 <<< "$FILL_OUT")"
    echo "cdrs=$CDRS schema=$SCHEMA last_day=$LAST_DAY $FILL_KV" > "$MARKER"
fi
# The size: the file and its write-ahead log.
DB_BYTES=$(( $(stat -c %s "$DB_FILE") + $(stat -c %s "$DB_FILE-wal" 2>/dev/null || echo 0) ))
log "database: $(( DB_BYTES / 1048576 )) MiB"

log "store functions, in process"
STORE_KV="$("$GEN_BIN" --database-url "sqlite://$DB_FILE" --cdrs "$CDRS" --runs "$RUNS" \
    --last-day "$LAST_DAY" --store | tee -a /dev/stderr | tail -1)"

# The server on the filled file (its own data dir; the file stays where it is).
rm -rf "$WORK/data"
mkdir -p "$WORK/data"
CONFIG="$WORK/switchboard.toml"
printf '[server]\nlog_sip = false\ndatabase_url = "sqlite://%s"\n' "$DB_FILE" > "$CONFIG"
start_server
HTTP_KV="$("$GEN_BIN" --http "127.0.0.1:$HTTP_PORT" --token "$API_TOKEN" --runs "$RUNS" \
    --last-day "$LAST_DAY" | tee -a /dev/stderr | tail -1)"

echo "reports bench: $CDRS CDRs, database $(( DB_BYTES / 1048576 )) MiB, year ending $LAST_DAY, $RUNS runs"
echo "db_mib=$(( DB_BYTES / 1048576 )) runs=$RUNS last_day=$LAST_DAY $FILL_KV $STORE_KV $HTTP_KV"
