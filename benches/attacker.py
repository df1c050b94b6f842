#!/usr/bin/env python3
"""The attacker of benches/attack.sh: floods a SIP server over UDP on loopback
with INVITEs that carry no credentials (what a scanner or a toll-fraud bot
sends) and with malformed datagrams, at fixed rates for a bounded time, and
counts what the server answers.

usage: attacker.py --target 127.0.0.1:7060 --seconds 30
           [--invite-from 127.0.0.2 --invite-rate 5000 --from-user 2000 --to 1999]
           [--junk-from 127.0.0.3 --junk-rate 2000] [--tail 5]

The INVITE flood never answers anything (no ACK, no retransmission): every
response it gets is what the server chose to send to an address that may be
forged. Each INVITE has its own Call-ID, so the answers are counted per INVITE
(how many 407s one INVITE drew, the amplification). The malformed flood cycles
through a fixed pool of datagrams (random bytes, truncated and mangled
requests, absurd header values), made from a fixed seed, so runs compare.

After --seconds the floods stop and the sockets are read for --tail more
seconds (late answers and retransmissions). The last line printed is
key=value pairs. Pacing: a 5 ms tick, each tick sends what is due; a rate the
sender cannot keep shows up as achieved_* below the target.
"""
import argparse
import os
import random
import resource
import select
import socket
import sys
import time
from array import array

TICK = 0.005


def parse_addr(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def invite(n, run, to, from_user, local, target):
    """An INVITE without credentials, with a Call-ID that carries its number."""
    body = (
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    ).format(ip=local[0])
    return (
        "INVITE sip:{to}@{th}:{tp} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP {lh}:{lp};branch=z9hG4bK-atk-{run}-{n};rport\r\n"
        'From: "{fu}" <sip:{fu}@{th}:{tp}>;tag=atk{n}\r\n'
        "To: <sip:{to}@{th}:{tp}>\r\n"
        "Call-ID: atk-{run}-{n}\r\n"
        "CSeq: 1 INVITE\r\n"
        "Contact: <sip:{fu}@{lh}:{lp}>\r\n"
        "Max-Forwards: 70\r\n"
        "User-Agent: friendly-scanner\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: {bl}\r\n\r\n{body}"
    ).format(to=to, fu=from_user, th=target[0], tp=target[1], lh=local[0], lp=local[1],
             run=run, n=n, bl=len(body), body=body).encode()


def junk_pool(target, size=512, seed=10):
    """Malformed datagrams: every kind a parser must refuse without harm."""
    rnd = random.Random(seed)
    good = invite(0, "junk", "1999", "2000", ("127.0.0.3", 5999), target)
    pool = []
    for i in range(size):
        kind = i % 8
        if kind == 0:  # random bytes
            pool.append(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 1400))))
        elif kind == 1:  # a request cut anywhere
            pool.append(good[: rnd.randint(1, len(good) - 1)])
        elif kind == 2:  # a few bytes flipped
            b = bytearray(good)
            for _ in range(rnd.randint(1, 8)):
                b[rnd.randrange(len(b))] = rnd.getrandbits(8)
            pool.append(bytes(b))
        elif kind == 3:  # a header dropped (Via, From, To, Call-ID or CSeq)
            lines = good.split(b"\r\n")
            drop = rnd.choice([b"Via:", b"From:", b"To:", b"Call-ID:", b"CSeq:"])
            pool.append(b"\r\n".join(l for l in lines if not l.startswith(drop)))
        elif kind == 4:  # Content-Length far beyond the datagram
            pool.append(good.replace(b"Content-Length: ", b"Content-Length: 99999", 1))
        elif kind == 5:  # absurd values
            v = rnd.choice([b"CSeq: 99999999999999999999 INVITE", b"CSeq: -1 INVITE",
                            b"Max-Forwards: -5", b"Via: SIP/2.0/UDP :0;branch=",
                            b"To: <sip:" + b"9" * 900 + b"@x>", b"From: \xff\xfe<sip:\x00@x>"])
            lines = good.split(b"\r\n")
            lines.insert(rnd.randint(1, 6), v)
            pool.append(b"\r\n".join(lines))
        elif kind == 6:  # a bad start line
            pool.append(rnd.choice([b"INVITE\r\n\r\n", b"SIP/2.0 999999 X\r\n\r\n",
                                    b"INVITE sip: SIP/3.0\r\n\r\n", b"\x00\x01\x02 SIP/2.0\r\n\r\n",
                                    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]))
        else:  # headers without the blank line, or only folding
            pool.append(good.split(b"\r\n\r\n")[0] + b"\r\n " * rnd.randint(1, 50))
    return pool


def udp_drops(sock):
    """Datagrams the kernel dropped on this socket's receive queue (/proc/net/udp)."""
    port = sock.getsockname()[1]
    try:
        with open("/proc/net/udp") as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if int(cols[1].split(":")[1], 16) == port:
                    return int(cols[-1])
    except OSError:
        pass
    return -1


def open_socket(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    s.bind((addr, 0))
    s.setblocking(False)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--invite-from", default="127.0.0.2")
    ap.add_argument("--invite-rate", type=float, default=5000)
    ap.add_argument("--from-user", default="2000")
    ap.add_argument("--to", default="1999")
    ap.add_argument("--junk-from", default="127.0.0.3")
    ap.add_argument("--junk-rate", type=float, default=2000)
    ap.add_argument("--tail", type=float, default=5)
    a = ap.parse_args()
    if not (0 < a.seconds <= 3600 and 0 <= a.invite_rate <= 100000 and 0 <= a.junk_rate <= 100000):
        sys.exit("seconds must be in (0, 3600], rates in [0, 100000]")

    target = parse_addr(a.target)
    inv = open_socket(a.invite_from)
    junk = open_socket(a.junk_from)
    local = inv.getsockname()
    run = "%x" % (os.getpid() & 0xFFFF)
    pool = junk_pool(target)
    max_invites = int(a.invite_rate * a.seconds) + 1
    answers = array("H", bytes(2 * max_invites))  # 407s per INVITE number
    codes = {}
    st = dict(inv_sent=0, inv_bytes=0, inv_rx=0, inv_rx_bytes=0, junk_sent=0, junk_bytes=0,
              junk_rx=0, junk_rx_bytes=0, send_errors=0, unmatched=0)
    prefix = ("atk-%s-" % run).encode()

    def drain(sock, is_inv):
        while True:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not is_inv:
                st["junk_rx"] += 1
                st["junk_rx_bytes"] += len(data)
                continue
            st["inv_rx"] += 1
            st["inv_rx_bytes"] += len(data)
            code = data[8:11] if data.startswith(b"SIP/2.0 ") else b"req"
            codes[code] = codes.get(code, 0) + 1
            if code == b"407":
                i = data.find(prefix)
                n = -1
                if i >= 0:
                    j = i + len(prefix)
                    k = j
                    while k < len(data) and 48 <= data[k] <= 57:
                        k += 1
                    if k > j:
                        n = int(data[j:k])
                if 0 <= n < max_invites:
                    if answers[n] < 65535:
                        answers[n] += 1
                else:
                    st["unmatched"] += 1

    def send(sock, data, key):
        try:
            sock.sendto(data, target)
            st[key + "_sent"] += 1
            st[key + "_bytes"] += len(data)
        except (BlockingIOError, InterruptedError, OSError):
            st["send_errors"] += 1

    t0 = time.monotonic()
    end = t0 + a.seconds
    stop = end + a.tail
    next_tick = t0
    while True:
        now = time.monotonic()
        if now >= stop:
            break
        if now < end:
            el = now - t0
            due = min(int(el * a.invite_rate) + 1, max_invites) - st["inv_sent"]
            for _ in range(max(due, 0)):
                send(inv, invite(st["inv_sent"], run, a.to, a.from_user, local, target), "inv")
            due = int(el * a.junk_rate) + 1 - st["junk_sent"]
            for _ in range(max(due, 0)):
                send(junk, pool[st["junk_sent"] % len(pool)], "junk")
        drain(inv, True)
        drain(junk, False)
        next_tick += TICK
        wait = next_tick - time.monotonic()
        if wait > 0:
            select.select([inv, junk], [], [], wait)
        else:
            next_tick = time.monotonic()
    elapsed = a.seconds
    sent = st["inv_sent"]
    answered = sum(1 for i in range(sent) if answers[i] > 0)
    most = max(answers[:sent]) if sent else 0
    c407 = codes.get(b"407", 0)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out = dict(
        invites_sent=sent,
        achieved_invite_rate="%.0f" % (sent / elapsed),
        responses=st["inv_rx"],
        r407=c407,
        r100=codes.get(b"100", 0),
        other_responses=st["inv_rx"] - c407 - codes.get(b"100", 0),
        per_invite_407="%.3f" % (c407 / sent if sent else 0),
        invites_answered=answered,
        invites_unanswered=sent - answered,
        max_407_one_invite=most,
        amplification_bytes="%.2f" % (st["inv_rx_bytes"] / st["inv_bytes"] if st["inv_bytes"] else 0),
        junk_sent=st["junk_sent"],
        achieved_junk_rate="%.0f" % (st["junk_sent"] / elapsed),
        junk_responses=st["junk_rx"],
        junk_amplification_bytes="%.2f" % (st["junk_rx_bytes"] / st["junk_bytes"] if st["junk_bytes"] else 0),
        send_errors=st["send_errors"],
        rx_drops=udp_drops(inv),
        attacker_cpu_s="%.2f" % (ru.ru_utime + ru.ru_stime),
    )
    other = ",".join("%s:%d" % (k.decode(errors="replace"), v) for k, v in sorted(codes.items())
                     if k not in (b"100", b"407"))
    print("attacker: responses by code to the INVITE flood: 100=%d 407=%d others=%s"
          % (codes.get(b"100", 0), c407, other or "none"), file=sys.stderr)
    print(" ".join("%s=%s" % kv for kv in out.items()))


if __name__ == "__main__":
    main()
