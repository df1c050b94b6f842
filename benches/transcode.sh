#!/usr/bin/env bash
# Transcoding + recording benchmark (issue 3): CALLS concurrent calls, each
# PCMU (caller) <-> PCMA (callee) transcoded by the media session and recorded
# in stereo, with RTP both ways from the load generator.
#
# usage: benches/transcode.sh [CALLS=1000] [SECONDS=30] [PPS=50]
# Target: at least 1,000 such calls with under 0.1 % packet loss.
BENCH_MEDIA_MODE=transcode-record exec "$(dirname "$0")/media.sh" "${1:-1000}" "${2:-30}" "${3:-50}"
