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

# sip_parse: requests and responses as phones, SIPp and trunks send them
# (full and compact header names, a body, folded and repeated headers, IPv6).
def sip(start, headers, body=b""):
    head = start + "\r\n" + "".join(h + "\r\n" for h in headers)
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


SDP_OFFER = (
    b"v=0\r\no=- 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
    b"a=sendrecv\r\n"
)
DIALOG = [
    "Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0;rport",
    'From: "Ext 1001" <sip:1001@127.0.0.1:5060>;tag=abc123',
    "To: <sip:1002@127.0.0.1:5060>",
    "Call-ID: 1-4242@127.0.0.1",
]
put("sip_parse", "invite.sip", sip("INVITE sip:1002@127.0.0.1:5060 SIP/2.0", DIALOG + [
    "CSeq: 1 INVITE", "Contact: <sip:1001@127.0.0.1:5061;transport=UDP>",
    "Max-Forwards: 70", "User-Agent: SIPp uac", "Content-Type: application/sdp"], SDP_OFFER))
put("sip_parse", "invite_auth.sip", sip("INVITE sip:1002@127.0.0.1:5060 SIP/2.0", DIALOG + [
    "CSeq: 2 INVITE", "Contact: <sip:1001@127.0.0.1:5061>",
    'Proxy-Authorization: Digest username="1001", realm="switchboard", '
    'nonce="6f1b2c3d4e5f", uri="sip:1002@127.0.0.1:5060", '
    'response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, '
    'nc=00000001, cnonce="deadbeef"',
    "Max-Forwards: 70", "Content-Type: application/sdp"], SDP_OFFER))
put("sip_parse", "register.sip", sip("REGISTER sip:127.0.0.1:5060 SIP/2.0", [
    "Via: SIP/2.0/TCP [::1]:5062;branch=z9hG4bK77;rport;received=::1",
    "From: <sip:1001@127.0.0.1>;tag=r1", "To: <sip:1001@127.0.0.1>",
    "Call-ID: reg-1", "CSeq: 7 REGISTER",
    'Contact: <sip:1001@[::1]:5062;transport=tcp>;expires=3600;+sip.instance="<urn:uuid:1>"',
    "Expires: 3600", 'Authorization: Digest username="1001",realm="switchboard",'
    'nonce="n",uri="sip:127.0.0.1:5060",response="r",algorithm=SHA-256']))
put("sip_parse", "register_softphones.sip", sip("REGISTER sip:127.0.0.1:5060 SIP/2.0", [
    "Via: SIP/2.0/UDP 127.0.0.1:5064;branch=z9hG4bK78;rport",
    "From: <sip:1004@127.0.0.1>;tag=r2", "To: <sip:1004@127.0.0.1>",
    "Call-ID: reg-2", "CSeq: 2 REGISTER",
    'Contact: "Desk, \\"left\\"" <sip:1004@127.0.0.1:5062;transport=udp>;'
    '+org.linphone.specs="conference/1.0,ephemeral/1.1,groupchat/1.1,lime";'
    '+sip.instance="<urn:uuid:2c4c41b8-e8c5-00e4-8e5e-8b6ecff6b3e4>"',
    'Contact: <sip:1004@127.0.0.1:5064;ob>;reg-id=1;+sip.ice;methods="INVITE, BYE";'
    '+sip.instance="<urn:uuid:00000000-0000-0000-0000-00005a1e0b0f>", sip:1004@[::1]:5070;q=0.5',
    "Expires: 300"]))
put("sip_parse", "compact.sip", sip("BYE sip:1001@127.0.0.1:5061 SIP/2.0", [
    "v: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKb",
    "f: <sip:1002@127.0.0.1>;tag=x", "t: <sip:1001@127.0.0.1>;tag=y",
    "i: c-1", "CSeq: 3 BYE", "m: <sip:1002@127.0.0.1>",
    "Route: <sip:127.0.0.1:5060;lr>", "Record-Route: <sip:127.0.0.1;lr>",
    "Subject: folded\r\n  over two lines"]))
put("sip_parse", "response_407.sip", sip("SIP/2.0 407 Proxy Authentication Required", DIALOG[:3] + [
    "To: <sip:1002@127.0.0.1:5060>;tag=srv1", "Call-ID: 1-4242@127.0.0.1", "CSeq: 1 INVITE",
    'Proxy-Authenticate: Digest realm="switchboard", nonce="6f1b2c3d4e5f", '
    'algorithm=MD5, qop="auth", opaque="o", stale=FALSE']))
put("sip_parse", "response_200.sip", sip("SIP/2.0 200 OK", DIALOG[:3] + [
    "To: <sip:1002@127.0.0.1:5060>;tag=srv1", "Call-ID: 1-4242@127.0.0.1", "CSeq: 2 INVITE",
    "Contact: <sip:1002@127.0.0.1:5062>", "Content-Type: application/sdp"], SDP_OFFER))
put("sip_parse", "info_dtmf.sip", sip("INFO sip:1002@127.0.0.1 SIP/2.0", DIALOG + [
    "CSeq: 4 INFO", "Content-Type: application/dtmf-relay"], b"Signal=5\r\nDuration=160\r\n"))
put("sip_parse", "options_lf.sip",
    b"OPTIONS sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 1.2.3.4\nFrom: <sip:a@b>;tag=1\n"
    b"To: <sip:b@c>\nCall-ID: o\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n")

# sdp_parse: offers and answers with the attributes the relay and the codec
# negotiation read (hold directions, several media, IPv6, rtcp, ptime).
put("sdp_parse", "offer.sdp", SDP_OFFER)
put("sdp_parse", "offer_full.sdp", offer.encode())
put("sdp_parse", "hold.sdp",
    b"v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    b"m=audio 7000 RTP/AVP 8\r\na=rtcp:7003 IN IP4 192.0.2.1\r\na=inactive\r\n")
put("sdp_parse", "ipv6_multi.sdp",
    b"v=0\no=alice 2890844526 2890844526 IN IP6 ::1\ns=call\ni=info\nb=AS:64\nt=0 0\n"
    b"m=audio 49170 RTP/AVP 9 0 96\nc=IN IP6 ::1\na=rtpmap:96 opus/48000/2\n"
    b"a=fmtp:96 useinbandfec=1\na=ptime:20\na=maxptime:40\na=sendonly\n"
    b"m=video 0 RTP/AVP 31\nm=audio 49172/2 RTP/SAVP 0\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\n")

# digest_parse: challenges and credentials in the forms phones send.
put("digest_parse", "credentials_md5",
    b'Digest username="1001", realm="switchboard", nonce="6f1b2c3d4e5f", '
    b'uri="sip:1002@127.0.0.1:5060", response="0123456789abcdef0123456789abcdef", '
    b'algorithm=MD5, qop=auth, nc=00000001, cnonce="deadbeef", opaque="o"')
put("digest_parse", "credentials_sha256",
    b'Digest username="1001",realm="switchboard",nonce="n",uri="sip:127.0.0.1",'
    b'response="' + b"ab" * 32 + b'",algorithm=SHA-256')
put("digest_parse", "challenge",
    b'Digest realm="switchboard", nonce="6f1b2c3d4e5f", algorithm=MD5, qop="auth,auth-int", '
    b'opaque="o", stale=TRUE, domain="sip:127.0.0.1"')
put("digest_parse", "escaped", b'Digest username="a\\"b", realm="r", nonce="n\\\\", uri="sip:x", response="r"')
