#!/usr/bin/env bash
# Regenerates Switchboard's built-in prompts and music on hold under sounds/,
# plus the small MP3 test fixture used by crates/media (audio_file tests).
#
# Everything is synthesised here (espeak-ng for speech, sox for music), so the
# output is ours to ship. Requirements (Debian): apt-get install espeak-ng sox lame
#
# Usage: scripts/gen-sounds.sh            (run from anywhere inside the repo)
#
# Output format: 8 kHz, mono, 16-bit signed PCM WAV. The media engine
# resamples to 16 kHz itself when a call uses a wideband codec.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOUNDS="$ROOT/sounds"
FIXTURES="$ROOT/crates/media/tests/fixtures"
RATE=8000
# espeak-ng speed in words per minute (its default of 175 is a bit quick on a
# telephone line).
SPEED=160
EN_VOICE="en-us"
# Debian's espeak-ng 1.51 "cmn" voice turns Han characters into pinyin and
# then reads that pinyin as English words ("latin as English"); the
# "cmn-latn-pinyin" voice reads the same pinyin as Mandarin, which is what
# we want.
ZH_VOICE="cmn-latn-pinyin"

for tool in espeak-ng sox lame; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "gen-sounds: '$tool' is missing (apt-get install espeak-ng sox lame)" >&2
        exit 1
    fi
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# -R: repeatable dither, so rerunning the script gives identical files.
SOX=(sox -R -V1)
OUT_FMT=(-r "$RATE" -c 1 -b 16 -e signed-integer)

# Prompt table: relative name | English | Chinese (zh-CN).
PROMPTS=(
    "welcome|Welcome. Please enter the extension number, or wait for an operator.|欢迎致电。请输入分机号码，或等待接线员。"
    "invalid|That is not a valid option.|您的选择无效。"
    "timeout|We did not receive your selection.|我们没有收到您的选择。"
    "goodbye|Thank you for calling. Goodbye.|感谢您的来电，再见。"
    "transfer|Please hold while we transfer your call.|正在为您转接，请稍候。"
    "enter_digits|Please enter the digits, then press the pound key.|请输入号码，然后按井号键。"
    "queue_welcome|Thank you for calling. All of our agents are busy. Please stay on the line.|感谢您的来电。所有坐席都在忙，请不要挂机。"
    "queue_position|You are caller number|您当前的排队位置是"
    "queue_wait|Your call is important to us. Please continue to hold.|您的来电对我们很重要，请继续等待。"
    "queue_agent|Your call is now being connected to agent number|正在为您接通坐席，工号"
    "queue_exit|Press the star key to leave a message.|留言请按星号键。"
    "vm_greeting|The person you are calling is not available. Please leave a message after the tone.|您拨打的用户暂时无法接听，请在提示音后留言。"
    "vm_saved|Your message has been saved.|您的留言已保存。"
    "vm_no_messages|You have no new messages.|您没有新留言。"
    "vm_count|You have|您有"
    "vm_messages|new messages.|条新留言。"
    "survey_intro|Please rate our service. Press 1 if you were satisfied, 2 if it was acceptable, 3 if you were not satisfied.|请对我们的服务进行评价。满意请按一，一般请按二，不满意请按三。"
    "survey_thanks|Thank you for your feedback.|感谢您的反馈。"
    "echo_intro|This is the echo test. What you say will be played back to you.|这是回声测试。您说的话将会播放给您听。"
    "readback_intro|Press any key and it will be read back to you.|请按任意键，系统将为您读出。"
    "digits/0|zero|零"
    "digits/1|one|一"
    "digits/2|two|二"
    "digits/3|three|三"
    "digits/4|four|四"
    "digits/5|five|五"
    "digits/6|six|六"
    "digits/7|seven|七"
    "digits/8|eight|八"
    "digits/9|nine|九"
    "digits/star|star|星号"
    "digits/pound|pound|井号"
    "digits/A|A|A"
    "digits/B|B|B"
    "digits/C|C|C"
    "digits/D|D|D"
)

# speak VOICE TEXT OUT: text to speech, then to the telephone format.
# The sox chain: a 100 Hz high-pass (the line cannot carry lower anyway), trim
# leading and trailing silence (below -50 dB) with a 5 ms fade at both ends so
# the cut edges cannot click (the end is reached by reversing, as its position
# is unknown while streaming), then normalise to -3 dBFS peak.
#
# Digits get 80 ms of trailing silence: they are played back to back to read
# out numbers, which would otherwise run together.
speak() {
    local voice="$1" text="$2" out="$3" tail=()
    mkdir -p "$(dirname "$out")"
    case "$out" in */digits/*) tail=(pad 0 0.08) ;; esac
    espeak-ng -v "$voice" -s "$SPEED" -w "$TMP/speech.wav" "$text"
    "${SOX[@]}" "$TMP/speech.wav" "${OUT_FMT[@]}" "$out" \
        highpass 100 \
        silence 1 0.01 -50d reverse silence 1 0.01 -50d fade q 0.005 \
        reverse fade q 0.005 norm -3 "${tail[@]}"
}

for entry in "${PROMPTS[@]}"; do
    IFS='|' read -r name en zh <<<"$entry"
    speak "$EN_VOICE" "$en" "$SOUNDS/en/$name.wav"
    speak "$ZH_VOICE" "$zh" "$SOUNDS/zh/$name.wav"
done

# Music on hold: eight bars of four seconds (C Am F G C Em F G), each a soft
# sine pad under a plucked arpeggio. Every bar starts and ends at silence
# (pad fades, notes decay), and G resolves to the C that opens the file, so
# the 32 s loop repeats without a seam.
#
# Pitches are in semitones relative to A4 (440 Hz), sox's "%n" notation.
# chord: pad notes (octave 3) ; arpeggio notes (octaves 4-5).
CHORDS=(
    "-21 -17 -14;-9 -5 -2 3 -2 -5 -9 -5"    # C major
    "-24 -21 -17;-12 -9 -5 0 -5 -9 -12 -9"  # A minor
    "-16 -12 -9;-4 0 3 8 3 0 -4 0"          # F major
    "-14 -10 -7;-2 2 5 10 5 2 -2 2"         # G major
    "-21 -17 -14;-9 -5 -2 3 7 3 -2 -5"      # C major (higher turn)
    "-17 -14 -10;-5 -2 2 7 2 -2 -5 -2"      # E minor
    "-16 -12 -9;-4 0 3 8 3 0 -4 0"          # F major
    "-14 -10 -7;-2 2 5 10 8 5 2 -2"         # G major, leading back to C
)
BAR=4
NOTE=0.5
# Synthesised at 16 kHz so the bright pluck harmonics do not alias, then
# low-passed and brought down to 8 kHz at the end.
MOH_RATE=16000
mkdir -p "$SOUNDS/moh"
bars=()
i=0
for chord in "${CHORDS[@]}"; do
    pad="${chord%%;*}"
    arp="${chord#*;}"
    pad_args=()
    for n in $pad; do pad_args+=(sine "%$n"); done
    # Three pad voices in three channels, mixed to one; slow tremolo for
    # movement; long fades so bar joins are soft.
    "${SOX[@]}" -r "$MOH_RATE" -c 3 -n -b 16 -c 1 "$TMP/pad$i.wav" \
        synth "$BAR" "${pad_args[@]}" remix - tremolo 0.5 20 \
        fade q 0.6 "$BAR" 0.9 vol 0.35
    notes=()
    j=0
    for n in $arp; do
        "${SOX[@]}" -n -r "$MOH_RATE" -c 1 -b 16 "$TMP/note$i-$j.wav" \
            synth "$NOTE" pluck "%$n" fade q 0.005 "$NOTE" 0.25 vol 0.5
        notes+=("$TMP/note$i-$j.wav")
        j=$((j + 1))
    done
    "${SOX[@]}" "${notes[@]}" "$TMP/arp$i.wav" lowpass 2000
    "${SOX[@]}" -m "$TMP/pad$i.wav" "$TMP/arp$i.wav" "$TMP/bar$i.wav"
    bars+=("$TMP/bar$i.wav")
    i=$((i + 1))
done
"${SOX[@]}" "${bars[@]}" "${OUT_FMT[@]}" "$SOUNDS/moh/default.wav" norm -6

# Test fixture for the MP3 decoder: 1 s of 440 Hz, stereo, 44.1 kHz, 64 kbit/s.
mkdir -p "$FIXTURES"
"${SOX[@]}" -n -r 44100 -c 2 -b 16 "$TMP/tone.wav" synth 1 sine 440 vol 0.5
lame --quiet -b 64 "$TMP/tone.wav" "$FIXTURES/tone_440hz_1s_stereo_44k1.mp3"

# The README lists every file with its text, from the same table.
{
    echo "# Built-in sounds"
    echo
    echo "Prompts and music on hold shipped with Switchboard. Every file is 8 kHz,"
    echo "mono, 16-bit signed PCM WAV (the media engine resamples to 16 kHz for"
    echo "wideband calls). All of them are synthesised by \`scripts/gen-sounds.sh\`"
    echo "(speech: espeak-ng, voices \`$EN_VOICE\` and \`$ZH_VOICE\`; music: sox"
    echo "synth), so they carry no third-party recordings."
    echo
    echo "To regenerate (Debian: \`apt-get install espeak-ng sox lame\`):"
    echo
    echo '```sh'
    echo "scripts/gen-sounds.sh"
    echo '```'
    echo
    echo "Each prompt exists as \`en/<name>.wav\` and \`zh/<name>.wav\`. Prompts that end"
    echo "mid-sentence (\`queue_position\`, \`queue_agent\`, \`vm_count\`) are followed by"
    echo "digits from \`digits/\`; \`vm_count\` + number + \`vm_messages\` forms one sentence."
    echo
    echo "| File | English | 中文 |"
    echo "|---|---|---|"
    for entry in "${PROMPTS[@]}"; do
        IFS='|' read -r name en zh <<<"$entry"
        echo "| \`$name.wav\` | $en | $zh |"
    done
    echo
    echo "## Music on hold"
    echo
    echo "\`moh/default.wav\`: a 32 s loop (C Am F G C Em F G, four seconds per bar;"
    echo "soft sine pads under a plucked arpeggio) that starts and ends at silence so"
    echo "it repeats without a seam."
    echo
    echo "## Test"
    echo
    echo "\`test/milliwatt.wav\`: 2 s of 1004 Hz at -3 dBov (the digital milliwatt),"
    echo "16 kHz mono, played by the tone test extension; a 16 kHz file on purpose,"
    echo "so playing it to an 8 kHz call exercises the resampler."
} >"$SOUNDS/README.md"

# The reference tone of the tone test extension (see README above).
mkdir -p "$SOUNDS/test"
sox -n -r 16000 -c 1 -b 16 -e signed-integer "$SOUNDS/test/milliwatt.wav" synth 2 sine 1004 gain -3

du -sh "$SOUNDS"
