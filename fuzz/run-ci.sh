#!/usr/bin/env bash
# The CI fuzz run: builds the SIP and SDP fuzz targets (and the digest one,
# which costs no extra build) with coverage instrumentation on the stable
# toolchain, then runs each for a bounded time from the seeds of seeds.py.
# Fails (exit 1) when a target crashes, panics, hangs on one input or runs out
# of memory; libFuzzer leaves that input in the artifacts dir
# (FUZZ_ARTIFACTS/<target>/crash-..., timeout-..., oom-...), and the log says
# how to replay it.
#
# usage: fuzz/run-ci.sh [SECONDS=60] [TARGET...]
#   TARGETS default: sip_parse sdp_parse digest_parse (any [[bin]] of Cargo.toml)
# Environment: FUZZ_ARTIFACTS (default fuzz/artifacts), FUZZ_NO_BUILD=1 (reuse
# the last build).
#
# Needs: cargo and rustc (stable), a C++ compiler (libfuzzer-sys compiles
# libFuzzer with it: Debian g++), python3, and crates.io for the first build.
# The build has its own lock file (fuzz/Cargo.lock) and target dir
# (fuzz/target/cov), so it never touches the main workspace's build.

set -euo pipefail
FUZZ="$(cd "$(dirname "$0")" && pwd)"
SECS="${1:-60}"
[[ "$SECS" =~ ^[0-9]+$ && "$SECS" -ge 1 ]] || { echo "SECONDS must be a positive integer" >&2; exit 2; }
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(sip_parse sdp_parse digest_parse)
ARTIFACTS="${FUZZ_ARTIFACTS:-$FUZZ/artifacts}"
mkdir -p "$ARTIFACTS"
ARTIFACTS="$(cd "$ARTIFACTS" && pwd)"

log() { printf '[fuzz %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Coverage passes on stable (what cargo-fuzz adds on nightly, minus the
# sanitizer). Passing --target keeps these flags off build scripts and proc
# macros. Debug assertions and overflow checks turn silent wrap-arounds into
# crashes the fuzzer can find.
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
OUT="$FUZZ/target/cov"
BIN="$OUT/$TRIPLE/release"
if [[ "${FUZZ_NO_BUILD:-0}" != 1 ]]; then
    bins=()
    for t in "${TARGETS[@]}"; do bins+=(--bin "$t"); done
    log "cargo build --release (coverage) ${TARGETS[*]}"
    if ! (cd "$FUZZ" && RUSTFLAGS="-Cpasses=sancov-module \
        -Cllvm-args=-sanitizer-coverage-level=4 \
        -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
        -Cllvm-args=-sanitizer-coverage-pc-table \
        -Cllvm-args=-sanitizer-coverage-trace-compares \
        -Cdebug-assertions -Coverflow-checks" \
        cargo build --locked --release --quiet --target "$TRIPLE" --target-dir "$OUT" "${bins[@]}"); then
        echo "fuzz: build failed (if cargo says the lock file needs updating: a crate under" >&2
        echo "fuzz: crates/ gained a dependency; run 'cd fuzz && cargo update -w' and commit fuzz/Cargo.lock)" >&2
        exit 1
    fi
fi

log "seeds (python3 seeds.py)"
python3 "$FUZZ/seeds.py"

# dict TARGET: the libFuzzer dictionary for a target, if it has one.
dict() {
    case "$1" in
        sip_* | digest_*) echo "$FUZZ/dicts/sip.dict" ;;
        sdp_*) echo "$FUZZ/dicts/sdp.dict" ;;
    esac
}

status=0
summary=()
for t in "${TARGETS[@]}"; do
    corpus="$FUZZ/corpus/$t"
    mkdir -p "$corpus" "$ARTIFACTS/$t"
    out="$ARTIFACTS/$t.log"
    args=(-max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=4096
        -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t/")
    d="$(dict "$t")"
    [[ -n "$d" ]] && args+=(-dict="$d")
    log "$t: ${SECS}s from $(find "$corpus" -type f | wc -l) inputs in $corpus"
    set +e
    # libFuzzer stops itself after SECONDS; the outer bound only catches a
    # fuzzer that stops checking its clock.
    timeout "$(( SECS + 300 ))" "$BIN/$t" "${args[@]}" "$corpus" >"$out" 2>&1
    rc=$?
    set -e
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)"
    cov="$( (grep -o 'cov: [0-9]*' "$out" || true) | tail -1 | cut -d' ' -f2)"
    if [[ "$rc" == 0 ]]; then
        summary+=("$t: ok, ${runs:-?} runs in ${SECS}s, coverage ${cov:-?} edges")
    else
        status=1
        summary+=("$t: FAILED (exit $rc) after ${runs:-?} runs; log $out")
        echo "fuzz: $t failed (exit $rc); the end of its log:" >&2
        tail -40 "$out" >&2
        for f in "$ARTIFACTS/$t"/*; do
            [[ -f "$f" ]] || continue
            echo "fuzz: $t: input left in $f (replay: $BIN/$t $f)" >&2
        done
    fi
done

for line in "${summary[@]}"; do echo "fuzz: $line"; done
exit "$status"
