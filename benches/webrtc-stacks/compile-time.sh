#!/usr/bin/env bash
# Cold release build time and dependency count of a crate using only one stack, with the same
# profile as the benchmark (lto = "thin", codegen-units = 1). Each crate also uses tokio (as
# Switchboard does); "tokio-only" is the baseline. Needs the crates in cargo's local registry
# (`cargo fetch` in this directory does it). Prints one Markdown table.
#   ./compile-time.sh            (all three)   STACKS="str0m" ./compile-time.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT_LOCK=$HERE/../../Cargo.lock
WORK=$(mktemp -d /tmp/webrtc-stacks-ct.XXXXXX)
STACKS=${STACKS:-"tokio-only str0m webrtc-rs"}
TOKIO='tokio = { version = "1", features = ["rt-multi-thread", "net", "time", "sync", "macros"] }'

make_crate() { # name dep-line main-body
    mkdir -p "$WORK/$1/src"
    cat >"$WORK/$1/Cargo.toml" <<TOML
[package]
name = "ct-$1"
version = "0.0.0"
edition = "2021"
publish = false
[workspace]
[dependencies]
$TOKIO
$2
[profile.release]
lto = "thin"
codegen-units = 1
TOML
    printf '%s\n' "$3" >"$WORK/$1/src/main.rs"
    # Same versions as the benchmark.
    cp "$HERE/Cargo.lock" "$WORK/$1/Cargo.lock"
}

make_crate tokio-only "" '#[tokio::main] async fn main() { let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap(); println!("{:?}", s.local_addr()); }'
make_crate str0m 'str0m = { version = "0.25", default-features = false, features = ["aws-lc-rs"] }' \
'#[tokio::main] async fn main() {
    let mut rtc = str0m::Rtc::builder().set_ice_lite(true).build(std::time::Instant::now());
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    rtc.add_local_candidate(str0m::Candidate::host(s.local_addr().unwrap(), "udp").unwrap());
    println!("{:?}", rtc.poll_output().is_ok());
}'
make_crate webrtc-rs 'webrtc = "0.17"' \
'#[tokio::main] async fn main() {
    let mut m = webrtc::api::media_engine::MediaEngine::default();
    m.register_default_codecs().unwrap();
    let api = webrtc::api::APIBuilder::new().with_media_engine(m).build();
    let pc = api.new_peer_connection(Default::default()).await.unwrap();
    println!("{:?}", pc.connection_state());
}'

echo "| crate | crates in tree (normal deps) | not in Switchboard's Cargo.lock | cold release build, wall s | build CPU (user+sys) s |"
echo "|---|--:|--:|--:|--:|"
for s in $STACKS; do
    d=$WORK/$s
    (cd "$d" && cargo tree --offline -e normal --prefix none 2>/dev/null | sed 's/ (.*//; s/ (\*)//' | sort -u) >"$d/tree.txt"
    n=$(wc -l <"$d/tree.txt")
    # name version pairs of the root lock, to count what this stack would add.
    awk '/^name = /{n=$3} /^version = /{gsub(/"/,"",n); v=$3; gsub(/"/,"",v); print n " v" v}' "$ROOT_LOCK" | sort -u >"$WORK/root.txt"
    new=$(grep -vxF -f "$WORK/root.txt" "$d/tree.txt" | grep -v "^ct-" | wc -l)
    start=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$d/time.txt" \
        env CARGO_TARGET_DIR="$d/target" nice -n 10 cargo build --release --offline --quiet --manifest-path "$d/Cargo.toml"
    end=$(date +%s.%N)
    cpu=$(awk '{printf "%.0f", $1 + $2}' "$d/time.txt")
    printf "| %s | %s | %s | %.0f | %s |\n" "$s" "$n" "$new" "$(echo "$end - $start" | bc)" "$cpu"
done
rm -rf "$WORK"
