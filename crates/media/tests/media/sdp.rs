//! SDP parsing, serialisation and rewriting against SDP shaped like real phones'.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use media::sdp::{Direction, SdpError, SessionDescription, MAX_SDP_BYTES};

/// SIPp's default uac scenario: minimal, static payload type without rtpmap.
const SIPP: &str = "v=0\r
o=user1 53655765 2353687637 IN IP4 127.0.1.1\r
s=-\r
c=IN IP4 127.0.1.1\r
t=0 0\r
m=audio 6000 RTP/AVP 0\r
a=rtpmap:0 PCMU/8000\r
";

/// Linphone-like: ICE, rtcp-mux, a=rtcp, media-level c=, several codecs.
const LINPHONE: &str = "v=0\r
o=alice 3102 1253 IN IP4 192.168.1.20\r
s=Talk\r
c=IN IP4 192.168.1.20\r
t=0 0\r
a=ice-pwd:3e4c0b5e3a3b8d2f9c6b8f7e\r
a=ice-ufrag:8a1f2c3d\r
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r
m=audio 7078 RTP/AVP 96 97 0 8 101\r
c=IN IP4 192.168.1.20\r
a=rtpmap:96 opus/48000/2\r
a=fmtp:96 useinbandfec=1\r
a=rtpmap:97 speex/16000\r
a=fmtp:97 vbr=on\r
a=rtpmap:101 telephone-event/8000\r
a=rtcp:7079\r
a=rtcp-mux\r
a=candidate:1 1 UDP 2130706431 192.168.1.20 7078 typ host\r
a=candidate:1 2 UDP 2130706430 192.168.1.20 7079 typ host\r
a=candidate:2 1 UDP 1694498815 203.0.113.7 40012 typ srflx raddr 192.168.1.20 rport 7078\r
a=end-of-candidates\r
a=rtcp-fb:* trr-int 5000\r
";

/// Polycom-like, with bare LF line ends: two codecs plus telephone-event,
/// a bandwidth line and a vendor attribute that must survive untouched.
const POLYCOM: &str = "v=0
o=- 1689867123 1689867123 IN IP4 10.0.0.45
s=Polycom IP Phone
c=IN IP4 10.0.0.45
b=AS:64
t=0 0
a=X-polycom-feature:conference
m=audio 2222 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
";

fn crlf(text: &str) -> String {
    text.lines().map(|l| format!("{l}\r\n")).collect()
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

#[test]
fn round_trip_keeps_every_line() {
    for text in [SIPP, LINPHONE, POLYCOM] {
        let sdp = SessionDescription::parse(text).unwrap();
        assert_eq!(sdp.to_string(), crlf(text));
    }
}

#[test]
fn parses_fields() {
    let sdp = SessionDescription::parse(LINPHONE).unwrap();
    assert_eq!(sdp.origin.username, "alice");
    assert_eq!(sdp.origin.session_version, 1253);
    assert_eq!(sdp.media.len(), 1);
    let m = &sdp.media[0];
    assert_eq!(
        (m.kind.as_str(), m.port, m.proto.as_str()),
        ("audio", 7078, "RTP/AVP")
    );
    assert_eq!(m.formats, ["96", "97", "0", "8", "101"]);
    assert_eq!(m.rtcp_port(), Some(7079));
    assert_eq!(
        sdp.rtp_addr(0),
        Some("192.168.1.20:7078".parse::<SocketAddr>().unwrap())
    );
    assert_eq!(sdp.rtp_addr(1), None);
}

#[test]
fn rtpmaps_in_preference_order_with_static_fallback() {
    let poly = SessionDescription::parse(POLYCOM).unwrap();
    let maps = poly.media[0].rtpmaps();
    assert_eq!(
        maps,
        vec![
            (0, "PCMU".to_string(), 8000),
            (8, "PCMA".to_string(), 8000),
            (101, "telephone-event".to_string(), 8000)
        ]
    );
    assert_eq!(poly.media[0].fmtp(101), Some("0-15"));

    let bare = SessionDescription::parse(
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 18\r\n",
    )
    .unwrap();
    let names: Vec<String> = bare.media[0].rtpmaps().into_iter().map(|m| m.1).collect();
    assert_eq!(names, ["PCMA", "PCMU", "G729"]);

    let lin = SessionDescription::parse(LINPHONE).unwrap();
    assert_eq!(lin.media[0].rtpmaps()[0], (96, "opus".to_string(), 48000));
}

#[test]
fn media_connection_overrides_session() {
    let text = "v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nc=IN IP4 1.1.1.1\r\nt=0 0\r\n\
                m=audio 4000 RTP/AVP 0\r\nm=audio 5000 RTP/AVP 0\r\nc=IN IP4 2.2.2.2\r\n\
                m=audio 0 RTP/AVP 0\r\n";
    let sdp = SessionDescription::parse(text).unwrap();
    assert_eq!(sdp.rtp_addr(0), Some("1.1.1.1:4000".parse().unwrap()));
    assert_eq!(sdp.rtp_addr(1), Some("2.2.2.2:5000".parse().unwrap()));
    assert_eq!(sdp.rtp_addr(2), None, "port 0 is a rejected stream");
}

#[test]
fn ipv6_connection() {
    let text = "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 2001:db8::5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let sdp = SessionDescription::parse(text).unwrap();
    assert_eq!(sdp.rtp_addr(0), Some("[2001:db8::5]:4000".parse().unwrap()));
    assert_eq!(sdp.to_string(), text);
}

#[test]
fn anchor_rewrites_for_relay() {
    let mut sdp = SessionDescription::parse(LINPHONE).unwrap();
    let before_maps = sdp.media[0].rtpmaps();
    let relay = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 9));
    sdp.anchor(relay, &[30000]);
    let out = sdp.to_string();

    assert_eq!(sdp.origin.session_version, 1254);
    assert_eq!(sdp.rtp_addr(0), Some(SocketAddr::new(relay, 30000)));
    assert_eq!(sdp.media[0].rtcp_port(), Some(30001));
    assert!(!out.contains("candidate"), "{out}");
    assert!(!out.contains("a=ice-"), "{out}");
    assert!(!out.contains("rtcp-mux"), "{out}");
    assert!(!out.contains("192.168.1.20"), "{out}");
    assert!(out.contains("a=rtcp-fb:* trr-int 5000\r\n"));
    assert!(out.contains("a=rtcp-xr:"));

    let again = SessionDescription::parse(&out).unwrap();
    assert_eq!(again.media[0].rtpmaps(), before_maps);
    assert_eq!(again.media[0].direction(), Direction::SendRecv);
    assert_eq!(again.to_string(), out);
}

#[test]
fn anchor_keeps_rejected_streams_and_direction() {
    let text = "v=0\r\no=- 7 7 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n\
                m=audio 4000 RTP/AVP 0 101\r\nc=IN IP4 10.0.0.1\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n\
                m=video 0 RTP/AVP 96\r\nc=IN IP4 10.0.0.1\r\n\
                m=video 6000 RTP/AVP 97\r\nc=IN IP4 10.0.0.1\r\n";
    let mut sdp = SessionDescription::parse(text).unwrap();
    let relay: IpAddr = "203.0.113.1".parse().unwrap();
    sdp.anchor(relay, &[20000, 20002]);
    assert_eq!(sdp.media[0].port, 20000);
    assert_eq!(sdp.media[1].port, 0, "rejected stream stays rejected");
    assert_eq!(sdp.media[2].port, 0, "no relay port for it: rejected");
    assert_eq!(sdp.media[0].direction(), Direction::SendOnly);
    assert_eq!(sdp.media[0].rtpmaps()[1].1, "telephone-event");
    let out = sdp.to_string();
    // The session c= did not exist; it goes before t= as RFC 4566 orders it.
    assert!(
        out.starts_with(
            "v=0\r\no=- 7 8 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n"
        ),
        "{out}"
    );
    assert!(!out.contains("10.0.0.1"), "{out}");
}

#[test]
fn hold_detection() {
    let base = "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n";
    let hold = |extra: &str| {
        SessionDescription::parse(&format!("{base}{extra}"))
            .unwrap()
            .is_hold()
    };
    assert!(!hold("m=audio 4000 RTP/AVP 0\r\n"));
    assert!(!hold("m=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n"));
    assert!(!hold("m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n"));
    assert!(hold("m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"));
    assert!(hold("m=audio 4000 RTP/AVP 0\r\na=inactive\r\n"));
    assert!(
        hold("a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n"),
        "session-level default"
    );
    assert!(!hold(
        "a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n"
    ));
    assert!(
        hold("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n"),
        "RFC 2543 hold"
    );
    assert!(hold(
        "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\nm=audio 0 RTP/AVP 0\r\n"
    ));
    assert!(!hold(
        "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\nm=audio 4002 RTP/AVP 0\r\n"
    ));
    assert!(
        !hold("m=video 4000 RTP/AVP 96\r\na=sendonly\r\n"),
        "no audio"
    );

    let zero = SessionDescription::parse(
        "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
    )
    .unwrap();
    assert!(zero.is_hold());
    assert_eq!(zero.rtp_addr(0), None, "never send media to 0.0.0.0");
}

#[test]
fn direction_reverse_and_set() {
    assert_eq!(Direction::SendOnly.reverse(), Direction::RecvOnly);
    assert_eq!(Direction::RecvOnly.reverse(), Direction::SendOnly);
    assert_eq!(Direction::SendRecv.reverse(), Direction::SendRecv);
    assert_eq!(Direction::Inactive.reverse(), Direction::Inactive);

    let mut sdp = SessionDescription::parse(POLYCOM).unwrap();
    assert_eq!(sdp.media[0].direction(), Direction::SendRecv);
    sdp.media[0].set_direction(Direction::SendOnly);
    assert_eq!(sdp.media[0].direction(), Direction::SendOnly);
    let out = sdp.to_string();
    assert!(out.ends_with("a=ptime:20\r\na=sendonly\r\n"), "{out}");
    assert_eq!(out.matches("sendrecv").count(), 0);

    let mut held = SessionDescription::parse(SIPP).unwrap();
    held.media[0].set_direction(Direction::Inactive);
    assert!(held.is_hold());
    held.set_direction(Direction::SendOnly);
    assert_eq!(held.media_direction(0), Some(Direction::Inactive));
}

#[test]
fn unchanged_sdp_keeps_unknown_lines_in_order() {
    let text = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\ni=info\r\nu=http://x\r\ne=a@b\r\n\
                c=IN IP4 1.2.3.4\r\nb=CT:128\r\nt=0 0\r\nr=7d 1h 0 25h\r\nz=0 0\r\nk=clear:x\r\n\
                a=tool:foo\r\nm=audio 4000/2 RTP/AVP 0\r\ni=voice\r\nb=AS:80\r\nx=unknown\r\na=zz\r\n";
    let sdp = SessionDescription::parse(text).unwrap();
    assert_eq!(sdp.to_string(), text);
    assert_eq!(lines(&sdp.to_string()).len(), 18);
}

#[test]
fn malformed_sdp_is_an_error() {
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("\r\n\r\n", "blank"),
        ("hello world", "not sdp"),
        ("o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n", "v= not first"),
        ("v=0\r\ns=-\r\n", "no origin"),
        ("v=0\r\no=- 1\r\n", "short origin"),
        ("v=0\r\no=- 1 x IN IP4 1.2.3.4\r\n", "version not a number"),
        ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 host.example\r\n", "c= host name"),
        ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4\r\n", "c= short"),
        ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n", "port > 65535"),
        ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio\r\n", "short m="),
        ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 1.1.1.1\r\nc=IN IP4 1.1.1.1\r\n", "two c="),
        ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nbogus\r\n", "not type=value"),
        ("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nA=x\r\n", "uppercase type"),
    ];
    for (text, what) in cases {
        assert!(SessionDescription::parse(text).is_err(), "{what}: {text:?}");
    }
    assert_eq!(
        SessionDescription::parse("v=0\r\no=- 1 x IN IP4 1.2.3.4\r\n"),
        Err(SdpError::Malformed {
            line: 2,
            reason: "bad o= line"
        })
    );
    assert_eq!(
        SessionDescription::parse("v=0\r\n"),
        Err(SdpError::MissingOrigin)
    );
}

#[test]
fn size_limits() {
    let mut big = String::from(SIPP);
    while big.len() <= MAX_SDP_BYTES {
        big.push_str("a=filler:0123456789012345678901234567890123456789\r\n");
    }
    assert!(matches!(
        SessionDescription::parse(&big),
        Err(SdpError::TooLarge { .. })
    ));

    let mut many = String::from("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n");
    for i in 0..32 {
        many.push_str(&format!("m=audio {} RTP/AVP 0\r\n", 4000 + 2 * i));
    }
    assert_eq!(SessionDescription::parse(&many).unwrap().media.len(), 32);
    many.push_str("m=audio 5000 RTP/AVP 0\r\n");
    assert_eq!(
        SessionDescription::parse(&many),
        Err(SdpError::TooManyMedia)
    );
}

/// Whatever parses must serialise to something that parses to the same text.
fn check_stable(text: &str) {
    if let Ok(sdp) = SessionDescription::parse(text) {
        let out = sdp.to_string();
        let again = SessionDescription::parse(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"));
        assert_eq!(again.to_string(), out);
        for i in 0..sdp.media.len() + 1 {
            let _ = sdp.rtp_addr(i);
        }
        let _ = sdp.is_hold();
        for m in &sdp.media {
            let _ = (m.rtpmaps(), m.rtcp_port(), m.direction());
        }
        let mut anchored = sdp.clone();
        anchored.anchor(IpAddr::V4(Ipv4Addr::LOCALHOST), &[10000]);
        assert!(SessionDescription::parse(&anchored.to_string()).is_ok());
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = fastrand::Rng::with_seed(0x5d9);
    let alphabet = b"vosctmab=: \r\n0123456789./-INP4P6RTP/AVPaudio";
    for _ in 0..3000 {
        let len = rng.usize(0..300);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.bool() {
                    alphabet[rng.usize(..alphabet.len())]
                } else {
                    rng.u8(..)
                }
            })
            .collect();
        check_stable(&String::from_utf8_lossy(&bytes));
    }
    // Mutations of real SDP reach much deeper into the parser.
    for base in [SIPP, LINPHONE, POLYCOM] {
        for _ in 0..2000 {
            let mut bytes = base.as_bytes().to_vec();
            for _ in 0..rng.usize(1..6) {
                let i = rng.usize(..bytes.len());
                match rng.u8(..4) {
                    0 => bytes[i] = rng.u8(..),
                    1 => bytes[i] = alphabet[rng.usize(..alphabet.len())],
                    2 => {
                        bytes.remove(i);
                    }
                    _ => bytes.truncate(i.max(1)),
                }
                if bytes.is_empty() {
                    break;
                }
            }
            check_stable(&String::from_utf8_lossy(&bytes));
        }
    }
}
