#!/usr/bin/env bash
# CRM load benchmark (issue 16): CONTACTS contacts (and a tenth as many
# customers) in the embedded database (a SQLite file under target/bench/crm,
# kept between runs so a second run measures without filling again; or
# BENCH_DATABASE_URL), then LOOKUPS caller-number lookups (the screen pop's)
# and the first page of every contact list and of the customers. Both through
# the store, as the server calls it (`cargo bench --bench crm_load`,
# benches/crm_load.rs).
#
# usage: benches/crm.sh [CONTACTS=1000000] [LOOKUPS=20000] [TICKETS=CONTACTS/5]
#                       [ARTICLES=10000] [IMPORT_ROWS=100000]
# Targets (issue 16): with 1,000,000 contacts and 200,000 tickets, lookup p99
# under 5 ms, every first page and a knowledge search under 100 ms, and an
# import of a 100,000-row spreadsheet under 60 s with memory under 500 MB.
#
# Knobs: BENCH_DATABASE_URL (an empty PostgreSQL database instead), CRM_LOAD_BIN
# (a prebuilt crm_load binary), BENCH_CRM_FRESH=1 (start from an empty file).

source "$(dirname "$0")/common.sh"

CONTACTS="${1:-1000000}"
LOOKUPS="${2:-20000}"
TICKETS="${3:-$((CONTACTS / 5))}"
ARTICLES="${4:-10000}"
IMPORT_ROWS="${5:-100000}"
GEN_BIN="${CRM_LOAD_BIN:-}"
[[ -z "$GEN_BIN" || "$GEN_BIN" == /* ]] || GEN_BIN="$PWD/$GEN_BIN"

WORK="$ROOT/target/bench/crm"
mkdir -p "$WORK"
DB_FILE="$WORK/crm-$CONTACTS.db"
[[ "${BENCH_CRM_FRESH:-0}" == 1 ]] && rm -f "$DB_FILE" "$DB_FILE-wal" "$DB_FILE-shm"
URL="${BENCH_DATABASE_URL:-sqlite://$DB_FILE}"

if [[ -z "$GEN_BIN" ]]; then
    if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
        log "cargo bench --bench crm_load --no-run"
        (cd "$ROOT" && cargo bench --bench crm_load --no-run --quiet)
    fi
    GEN_BIN="$(ls -t "$ROOT"/target/release/deps/crm_load-* 2>/dev/null | grep -v '\.d$' | head -1)"
fi
[[ -x "$GEN_BIN" ]] || { echo "no crm_load binary (CRM_LOAD_BIN or cargo bench --bench crm_load --no-run)" >&2; exit 2; }

log "$CONTACTS contacts, $LOOKUPS lookups on ${BENCH_DATABASE_URL:+PostgreSQL}${BENCH_DATABASE_URL:-$DB_FILE}"
"$GEN_BIN" --database-url "$URL" --contacts "$CONTACTS" --lookups "$LOOKUPS" \
    --tickets "$TICKETS" --articles "$ARTICLES" --import "$IMPORT_ROWS"
