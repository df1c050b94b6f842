#!/usr/bin/env python3
"""A pjsua2 softphone driven by JSON lines, for the softphone interop tests
(tests/e2e/softphones/pjsua.rs starts one per phone).

Commands arrive one JSON object a line on stdin; every command carries an "id"
and gets one reply line {"reply": ID, "ok": true, ...} or {"reply": ID,
"ok": false, "error": "..."}. Events go to stdout as they happen, one JSON
object a line with an "event" key:

  reg          {"code", "reason", "expires", "contact"} (the 200's Contact headers)
  incoming     {"call", "from", "to"}
  state        {"call", "state", "code", "reason"} (pjsip invite states)
  media        {"call", "status", "dir", "codec"}
  dtmf         {"call", "digit", "method"} ("rfc2833" or "info")
  xfer_request {"call", "to"} (a REFER arrived; it is accepted)
  xfer_status  {"call", "code", "reason", "final"} (NOTIFY sipfrag of our REFER)
  replaced     {"call", "new_call"}
  log          {"text"} (a command failed in the pjsua library)

Commands ("cmd"): call {to, [headers]}, answer {call, [code]}, hangup {call},
dtmf {call, digits, method: rfc2833|info}, hold {call}, unhold {call} (the
tone stops while we hold, as on most phones),
xfer {call, to}, xfer_replaces {call, dest_call}, record {call, file} (a new
recording of what the call receives, closing the previous one), stop_record
{call}, mute {call, on} (stop or restart sending the tone), quit.

Audio: every call sends the --tone WAV (looped) as soon as its media is
active and records nothing until told. The sound device is pjsua's null
device, so the conference bridge runs on its own clock: a recording covers
wall-clock time (silence when nothing arrives).

The pjsua2 main loop runs in this (the only) thread: libHandleEvents between
reads of stdin, so callbacks never race the command handler.
"""

import argparse
import gc
import json
import os
import select
import sys
import traceback

import pjsua2 as pj

ep = None
calls = {}          # handle -> MyCall
players = {}        # handle -> AudioMediaPlayer feeding that call
recorders = {}      # handle -> AudioMediaRecorder
args = None
next_handle = [0]


# The pjsua library prints to fd 1 before its log configuration applies:
# keep the real stdout for our JSON lines and send fd 1 to stderr.
_out = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)


def emit(obj):
    _out.write(json.dumps(obj) + "\n")
    _out.flush()


INV_STATES = {
    pj.PJSIP_INV_STATE_NULL: "NULL",
    pj.PJSIP_INV_STATE_CALLING: "CALLING",
    pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}

MEDIA_STATUS = {
    pj.PJSUA_CALL_MEDIA_NONE: "none",
    pj.PJSUA_CALL_MEDIA_ACTIVE: "active",
    pj.PJSUA_CALL_MEDIA_LOCAL_HOLD: "local_hold",
    pj.PJSUA_CALL_MEDIA_REMOTE_HOLD: "remote_hold",
    pj.PJSUA_CALL_MEDIA_ERROR: "error",
}

DIRS = {
    pj.PJMEDIA_DIR_NONE: "inactive",
    pj.PJMEDIA_DIR_ENCODING: "sendonly",
    pj.PJMEDIA_DIR_DECODING: "recvonly",
    pj.PJMEDIA_DIR_ENCODING_DECODING: "sendrecv",
}


def header_values(msg, name):
    """Values of header `name` (case-insensitive, compact form for Contact)."""
    out = []
    names = {name.lower()}
    if name.lower() == "contact":
        names.add("m")
    for line in msg.replace("\r\n", "\n").split("\n"):
        if line == "":
            break
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in names:
            out.append(value.strip())
    return out


def audio_media(call):
    """The call's active audio media, or None."""
    try:
        info = call.getInfo()
    except pj.Error:
        return None
    for i, m in enumerate(info.media):
        if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status in (
            pj.PJSUA_CALL_MEDIA_ACTIVE,
            pj.PJSUA_CALL_MEDIA_REMOTE_HOLD,
            pj.PJSUA_CALL_MEDIA_LOCAL_HOLD,
        ):
            try:
                return call.getAudioMedia(i)
            except pj.Error:
                return None
    return None


class MyCall(pj.Call):
    """A call with a handle of its own: pjsua reuses call ids once a call
    has ended, the tests need names that stay unique."""

    def __init__(self, acc, call_id=pj.PJSUA_INVALID_ID):
        pj.Call.__init__(self, acc, call_id)
        self.acc = acc
        self.muted = False
        self.handle = next_handle[0]
        next_handle[0] += 1
        calls[self.handle] = self

    def onCallState(self, prm):
        info = self.getInfo()
        cid = self.handle
        emit({
            "event": "state",
            "call": cid,
            "state": INV_STATES.get(info.state, str(info.state)),
            "code": info.lastStatusCode,
            "reason": info.lastReason,
        })
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            close_recorder(cid)
            players.pop(cid, None)

    def onCallMediaState(self, prm):
        info = self.getInfo()
        cid = self.handle
        for m in info.media:
            if m.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            codec = ""
            try:
                codec = self.getStreamInfo(m.index).codecName
            except pj.Error:
                pass
            emit({
                "event": "media",
                "call": cid,
                "status": MEDIA_STATUS.get(m.status, str(m.status)),
                "dir": DIRS.get(m.dir, str(m.dir)),
                "codec": codec,
            })
        am = audio_media(self)
        if am is None:
            return
        # A re-INVITE may give the call a new conference port: connect again.
        if not self.muted:
            connect_tone(cid, am)
        rec = recorders.get(cid)
        if rec is not None:
            am.startTransmit(rec)

    def onDtmfDigit(self, prm):
        method = "info" if prm.method == pj.PJSUA_DTMF_METHOD_SIP_INFO else "rfc2833"
        emit({"event": "dtmf", "call": self.handle, "digit": prm.digit, "method": method})

    def onCallTransferRequest(self, prm):
        # Accept (202) and let pjsua place the new call with our callbacks.
        prm.statusCode = 202
        new = MyCall(self.acc)
        prm.newCall = new
        emit({"event": "xfer_request", "call": self.handle, "to": prm.dstUri,
              "new_call": new.handle})

    def onCallTransferStatus(self, prm):
        cid = self.handle
        emit({
            "event": "xfer_status",
            "call": cid,
            "code": prm.statusCode,
            "reason": prm.reason,
            "final": bool(prm.finalNotify),
        })
        # Like pjsua's own application: a transfer that succeeded ends our leg.
        if prm.statusCode // 100 == 2:
            prm.cont = False
            op = pj.CallOpParam(True)
            try:
                self.hangup(op)
            except pj.Error:
                pass

    def onCallReplaceRequest(self, prm):
        prm.statusCode = 200

    def onCallReplaced(self, prm):
        new = MyCall(self.acc, prm.newCallId)
        prm.newCall = new
        emit({"event": "replaced", "call": self.handle, "new_call": new.handle})


def connect_tone(cid, am):
    if args.tone is None:
        return
    p = players.get(cid)
    if p is None:
        p = pj.AudioMediaPlayer()
        p.createPlayer(args.tone)  # loops by default
        players[cid] = p
    p.startTransmit(am)


def close_recorder(cid):
    rec = recorders.pop(cid, None)
    if rec is not None:
        # The WAV header is written when the recorder is destroyed.
        del rec


class MyAccount(pj.Account):
    def onRegState(self, prm):
        contacts = []
        try:
            if prm.rdata is not None and prm.rdata.wholeMsg:
                contacts = header_values(prm.rdata.wholeMsg, "Contact")
        except Exception:
            pass
        emit({
            "event": "reg",
            "code": prm.code,
            "reason": prm.reason,
            "expires": prm.expiration,
            "contact": contacts,
        })

    def onIncomingCall(self, prm):
        call = MyCall(self, prm.callId)
        info = call.getInfo()
        emit({"event": "incoming", "call": call.handle, "from": info.remoteUri,
              "to": info.localUri})
        op = pj.CallOpParam()
        op.statusCode = 180
        call.answer(op)


def set_muted(call, on):
    """Stops (or restarts) sending the tone on `call`."""
    call.muted = on
    am = audio_media(call)
    p = players.get(call.handle)
    if am is None:
        return
    if on and p is not None:
        p.stopTransmit(am)
    elif not on:
        connect_tone(call.handle, am)


def get_call(cmd):
    c = calls.get(int(cmd["call"]))
    if c is None:
        raise ValueError("no call %s" % cmd.get("call"))
    return c


def handle(cmd, acc):
    op = cmd.get("cmd")
    if op == "call":
        call = MyCall(acc)
        prm = pj.CallOpParam(True)
        for k, v in cmd.get("headers", {}).items():
            h = pj.SipHeader()
            h.hName = k
            h.hValue = v
            prm.txOption.headers.append(h)
        to = cmd["to"]
        if args.transport in ("tcp", "tls") and "transport=" not in to:
            to += ";transport=" + args.transport
        emit({"event": "dialling", "call": call.handle, "to": to})
        call.makeCall(to, prm)
        return {"call": call.handle}
    if op == "answer":
        prm = pj.CallOpParam()
        prm.statusCode = int(cmd.get("code", 200))
        get_call(cmd).answer(prm)
        return {}
    if op == "hangup":
        get_call(cmd).hangup(pj.CallOpParam(True))
        return {}
    if op == "dtmf":
        prm = pj.CallSendDtmfParam()
        prm.digits = cmd["digits"]
        prm.method = (
            pj.PJSUA_DTMF_METHOD_SIP_INFO if cmd.get("method") == "info"
            else pj.PJSUA_DTMF_METHOD_RFC2833
        )
        prm.duration = 160
        get_call(cmd).sendDtmf(prm)
        return {}
    if op == "hold":
        # Like baresip and most desk phones, stop sending our audio while we
        # hold the call (pjsua itself would go on sending on a sendonly stream).
        set_muted(get_call(cmd), True)
        get_call(cmd).setHold(pj.CallOpParam(True))
        return {}
    if op == "unhold":
        set_muted(get_call(cmd), False)
        prm = pj.CallOpParam(True)
        prm.opt.flag = pj.PJSUA_CALL_UNHOLD
        get_call(cmd).reinvite(prm)
        return {}
    if op == "xfer":
        get_call(cmd).xfer(cmd["to"], pj.CallOpParam(True))
        return {}
    if op == "xfer_replaces":
        dest = calls.get(int(cmd["dest_call"]))
        if dest is None:
            raise ValueError("no call %s" % cmd["dest_call"])
        get_call(cmd).xferReplaces(dest, pj.CallOpParam(True))
        return {}
    if op == "record":
        cid = int(cmd["call"])
        call = get_call(cmd)
        close_recorder(cid)
        rec = pj.AudioMediaRecorder()
        rec.createRecorder(cmd["file"])
        recorders[cid] = rec
        am = audio_media(call)
        if am is not None:
            am.startTransmit(rec)
        return {}
    if op == "stop_record":
        close_recorder(int(cmd["call"]))
        return {}
    if op == "mute":
        set_muted(get_call(cmd), bool(cmd.get("on", True)))
        return {}
    if op == "quit":
        raise SystemExit(0)
    raise ValueError("unknown command %r" % op)


def main():
    global ep, args
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True, help="host:port of the registrar")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--sip-port", type=int, required=True)
    ap.add_argument("--rtp-port", type=int, required=True)
    ap.add_argument("--transport", default="udp", choices=["udp", "tcp", "tls"])
    ap.add_argument("--srtp", default="off", choices=["off", "optional", "mandatory"],
                    help="SDES-SRTP use (pjsua's srtpUse); mandatory offers RTP/SAVP")
    ap.add_argument("--no-register", action="store_true",
                    help="a carrier: listen and answer, register nowhere")
    ap.add_argument("--tls-cert", help="PEM certificate of our TLS listener")
    ap.add_argument("--tls-key", help="PEM key of our TLS listener")
    ap.add_argument("--codecs", default="PCMU", help="comma list, most preferred first")
    ap.add_argument("--tone", help="WAV file sent on every call (looped)")
    ap.add_argument("--instance-id", default="", help="RFC 5626 +sip.instance value")
    ap.add_argument("--log", required=True, help="pjsua log file")
    ap.add_argument("--clock-rate", type=int, default=16000)
    args = ap.parse_args()

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.userAgent = "pjsua2-interop/" + ep.libVersion().full
    cfg.logConfig.filename = args.log
    cfg.logConfig.fileFlags = 0
    cfg.logConfig.consoleLevel = 0
    cfg.logConfig.level = 4
    cfg.logConfig.msgLogging = True
    cfg.medConfig.clockRate = args.clock_rate
    cfg.medConfig.sndClockRate = args.clock_rate
    cfg.medConfig.noVad = True
    cfg.medConfig.ecTailLen = 0
    ep.libInit(cfg)

    tcfg = pj.TransportConfig()
    tcfg.port = args.sip_port
    tcfg.boundAddress = "127.0.0.1"
    tcfg.publicAddress = "127.0.0.1"
    ttype = {
        "udp": pj.PJSIP_TRANSPORT_UDP,
        "tcp": pj.PJSIP_TRANSPORT_TCP,
        "tls": pj.PJSIP_TRANSPORT_TLS,
    }[args.transport]
    if args.transport == "tls":
        # Our own listener's certificate (a carrier's); as a client pjsua
        # does not verify the server's by default.
        if args.tls_cert:
            tcfg.tlsConfig.certFile = args.tls_cert
            tcfg.tlsConfig.privKeyFile = args.tls_key
        tcfg.tlsConfig.method = pj.PJSIP_TLSV1_2_METHOD
    ep.transportCreate(ttype, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()

    wanted = [c.strip().upper() for c in args.codecs.split(",") if c.strip()]
    for c in ep.codecEnum2():
        name = c.codecId.split("/")[0].upper()
        prio = 0
        if name in wanted:
            prio = 250 - wanted.index(name)
        ep.codecSetPriority(c.codecId, prio)

    acfg = pj.AccountConfig()
    acfg.idUri = "sip:%s@%s" % (args.user, args.server)
    reg = "sip:%s" % args.server
    if args.transport in ("tcp", "tls"):
        reg += ";transport=" + args.transport
    if args.no_register:
        acfg.idUri = "sip:%s@127.0.0.1:%d" % (args.user, args.sip_port)
    else:
        acfg.regConfig.registrarUri = reg
    acfg.mediaConfig.srtpUse = {
        "off": pj.PJMEDIA_SRTP_DISABLED,
        "optional": pj.PJMEDIA_SRTP_OPTIONAL,
        "mandatory": pj.PJMEDIA_SRTP_MANDATORY,
    }[args.srtp]
    # SDES only (no DTLS-SRTP), and TLS is not demanded of every hop.
    acfg.mediaConfig.srtpSecureSignaling = 0
    # (pjsua2's config members are copies: set them back whole.)
    opt = acfg.mediaConfig.srtpOpt
    keyings = opt.keyings
    keyings.clear()
    keyings.append(pj.PJMEDIA_SRTP_KEYING_SDES)
    opt.keyings = keyings
    mcfg = acfg.mediaConfig
    mcfg.srtpOpt = opt
    acfg.mediaConfig = mcfg
    acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", args.user, 0, args.password))
    acfg.mediaConfig.transportConfig.port = args.rtp_port
    # Two RTP/RTCP pairs (a consultation call is the second), inside the
    # slot the test gave us.
    acfg.mediaConfig.transportConfig.portRange = 4
    acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    acfg.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    acfg.natConfig.iceEnabled = False
    acfg.natConfig.sdpNatRewriteUse = False
    acfg.natConfig.contactRewriteUse = 0
    acfg.natConfig.viaRewriteUse = 0
    acfg.natConfig.udpKaIntervalSec = 0
    if args.instance_id:
        acfg.natConfig.sipOutboundInstanceId = args.instance_id
    acc = MyAccount()
    acc.create(acfg)

    emit({"event": "ready"})
    buf = b""
    stdin = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
    fd = stdin.fileno()
    running = True
    while running:
        ep.libHandleEvents(10)
        r, _, _ = select.select([fd], [], [], 0)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break  # stdin closed: the test is gone
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            cmd_id = None
            try:
                cmd = json.loads(line)
                cmd_id = cmd.get("id")
                out = handle(cmd, acc)
                out.update({"reply": cmd_id, "ok": True})
                emit(out)
            except SystemExit:
                emit({"reply": cmd_id, "ok": True})
                running = False
                break
            except pj.Error as e:
                emit({"reply": cmd_id, "ok": False, "error": "%s: %s" % (e.title, e.reason)})
            except Exception as e:
                emit({"reply": cmd_id, "ok": False, "error": repr(e)})
                traceback.print_exc(file=sys.stderr)

    for cid in list(recorders):
        close_recorder(cid)
    players.clear()
    try:
        ep.hangupAllCalls()
        for _ in range(20):
            ep.libHandleEvents(10)
    except pj.Error:
        pass
    # pjsua2 objects must go before the library: a Call destroyed after
    # libDestroy trips an assertion.
    calls.clear()
    gc.collect()
    acc.shutdown()
    ep.libDestroy()
    _out.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
