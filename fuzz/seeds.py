#!/usr/bin/env python3
"""Writes small seed inputs into corpus/<target>/ (corpus/ is not committed).

Usage: python3 seeds.py   (from fuzz/; safe to re-run, overwrites seeds)
Each seed is well under 4 KB.
"""
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def wav(fmt_tag, channels, rate, bits, frames, extra_fmt=b"", fact=False):
    """A RIFF/WAVE file holding a short tone in the given sample format."""
    block = channels * bits // 8
    data = bytearray()
    for i in range(frames):
        x = math.sin(2 * math.pi * 440 * i / rate)
        for _ in range(channels):
            if fmt_tag == 3:
                data += struct.pack("<f", 0.5 * x)
            elif fmt_tag in (6, 7):  # A-law / mu-law: any byte is a sample
                data.append(int(128 + 100 * x) & 0xFF)
            elif bits == 8:
                data.append(int(128 + 100 * x))
            else:
                v = int(0.5 * x * (2 ** (bits - 1) - 1))
                data += v.to_bytes(bits // 8, "little", signed=True)
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    if extra_fmt:
        fmt += struct.pack("<H", len(extra_fmt)) + extra_fmt
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if fact:
        body += b"fact" + struct.pack("<II", 4, frames)
    body += b"data" + struct.pack("<I", len(data)) + bytes(data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


put("media_file_decode", "pcm16_8k_mono.wav", wav(1, 1, 8000, 16, 160))
put("media_file_decode", "pcm8_16k_stereo.wav", wav(1, 2, 16000, 8, 160))
put("media_file_decode", "pcm24_48k_mono.wav", wav(1, 1, 48000, 24, 240))
put("media_file_decode", "float32_22k_mono.wav", wav(3, 1, 22050, 32, 220, fact=True))
put("media_file_decode", "ulaw_8k_mono.wav", wav(7, 1, 8000, 8, 160, extra_fmt=b"", fact=True))
put("media_file_decode", "alaw_8k_mono.wav", wav(6, 1, 8000, 8, 160, fact=True))

offer = (
    "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 9 8 0 101\r\na=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:30\r\n"
    "a=sendonly\r\nm=video 4002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
)
put("sdp_negotiate", "offer.sdp", offer.encode())
put("sdp_negotiate", "dynamic_pt.sdp",
    b"v=0\no=- 2 2 IN IP6 ::1\ns=-\nc=IN IP6 ::1\nt=0 0\na=recvonly\n"
    b"m=audio 5000/2 RTP/AVP 96 97\na=rtpmap:96 pcmu/8000\na=rtpmap:97 telephone-event/8000\n")

put("dtmf_info", "relay", b"application/dtmf-relay\0Signal=5\r\nDuration=160\r\n")
put("dtmf_info", "plain", b"Application/DTMF; x=y\0 11 \n")

# rtp_telephone_event: digit 5 (marker, absolute ts), two updates, three ends,
# then digit '#' on a later timestamp that loses its end packets.
def pkt(ctl_ts, marker, payload, dt, ts_bytes=b""):
    ctl = (marker & 1) | (ctl_ts << 1) | (len(payload) << 3)
    return bytes([ctl, dt]) + ts_bytes + payload

ev = lambda code, end, dur: bytes([code, (0x80 if end else 0) | 10]) + struct.pack(">H", dur)
seq = pkt(3, 1, ev(5, False, 160), 0, struct.pack(">I", 0xFFFFFF00))
seq += pkt(0, 0, ev(5, False, 320), 20) + pkt(0, 0, ev(5, False, 480), 20)
for _ in range(3):
    seq += pkt(0, 0, ev(5, True, 640), 20)
seq += pkt(1, 1, ev(11, False, 160), 100, bytes([120])) + pkt(0, 0, ev(11, False, 320), 20)
put("rtp_telephone_event", "two_digits", seq)

# jitter_buffer: a steady stream, a reordered pair, a loss, more stream.
put("jitter_buffer", "stream",
    bytes([0, 0, 10, 0, 0, 0, 100, 7, 2, 1, 2]) + bytes([4, 30]) + bytes([1, 2, 4, 1, 255, 4])
    + bytes([2, 2, 2, 1, 3, 4]) + bytes([4, 40]) + bytes([5, 80]))
