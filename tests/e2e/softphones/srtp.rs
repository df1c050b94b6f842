//! SRTP (SDES, RFC 4568) with real clients: pjsua phones over TLS that
//! demand SRTP (`mandatory`: RTP/SAVP offered, plain RTP refused), a plain
//! phone on the other leg, and a pjsua carrier behind a TLS gateway. The
//! audio checks prove the keys: a leg with the wrong key hears nothing,
//! since pjsua drops what does not authenticate.

use super::pjsua::{Carrier, Pjsua, PjsuaOpts};
use super::*;
use crate::harness::free_tcp_port;
use std::net::SocketAddr;

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A phone registered over TLS that demands SRTP.
fn secure_phone(server: &Server, ext: &str, tls: SocketAddr, tone_hz: u32) -> Pjsua {
    Pjsua::start(
        server,
        ext,
        PW,
        PjsuaOpts {
            tone_hz,
            tls: Some(tls),
            srtp: "mandatory",
            ..PjsuaOpts::default()
        },
    )
}

/// The SRTP counters: legs set up with SRTP, packets refused by SRTP.
fn srtp_counters(server: &Server) -> (f64, f64) {
    (
        server.metric("switchboard_srtp_calls_total", ""),
        server.metric("switchboard_rtp_dropped_total", "reason=\"srtp\""),
    )
}

#[test]
fn an_srtp_phone_over_tls_and_a_plain_phone_hear_each_other_both_ways() {
    let tls_port = free_tcp_port();
    let server = Server::builder("sp_srtp_mixed")
        .extensions("1001-1004", PW)
        .config(&format!("[sip]\ntls_port = {tls_port}"))
        .start();
    let mut secure = secure_phone(&server, "1001", loopback(tls_port), LOW);
    let mut plain = pjsua(&server, "1002", &["PCMU"], MID);
    // The SRTP phone calls: its RTP/SAVP offer is answered with our key,
    // the plain phone gets RTP/AVP; each leg terminated on its own.
    talk(&server, &mut secure, &mut plain, true, true);
    // The plain phone calls: we offer RTP/SAVP to the phone on TLS, which
    // refuses anything else.
    talk(&server, &mut plain, &mut secure, true, false);
    let (legs, refused) = srtp_counters(&server);
    assert_eq!(legs, 2.0, "one SRTP leg per call");
    assert_eq!(refused, 0.0, "no SRTP packet failed authentication");
}

#[test]
fn calls_out_through_a_tls_gateway_and_in_from_it_are_srtp_on_the_carrier_leg() {
    let dir = artifacts_dir().join("srtp-carrier");
    std::fs::create_dir_all(&dir).expect("carrier dir");
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .expect("the carrier's certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("write cert");
    std::fs::write(&key, made.key_pair.serialize_pem()).expect("write key");
    let (tls_port, trunk_tls) = (free_tcp_port(), free_tcp_port());
    let config = format!(
        r#"
[sip]
tls_port = {tls_port}
trunk_tls_port = {trunk_tls}
tls_ca = {ca:?}

[trunk]
acl = []

[[callcenter.routes]]
name = "out"
pattern = '^0(\d+)$'
[callcenter.routes.kind]
type = "outbound"
gateways = ["carrier"]
strip_digits = 1
timeout_secs = 30

[[callcenter.routes]]
name = "did"
pattern = "62620668"
kind = {{ type = "inbound", target = "1001" }}
"#,
        ca = cert.display().to_string()
    );
    let server = Server::builder("sp_srtp_carrier")
        .extensions("1001-1002", PW)
        .config(&config)
        .start();
    let mut carrier = Pjsua::spawn(
        &server,
        "carrier",
        "",
        PjsuaOpts {
            tone_hz: HIGH,
            srtp: "mandatory",
            carrier: Some(Carrier {
                cert,
                key,
                dial_to: loopback(trunk_tls),
            }),
            ..PjsuaOpts::default()
        },
    );
    let proxy = format!("127.0.0.1:{}", carrier.sip_port());
    let out = server.cli(&[
        "gateway",
        "add",
        "carrier",
        "--mode",
        "nni",
        "--proxy",
        &proxy,
        "--transport",
        "tls",
        "--srtp",
    ]);
    assert!(out.status.success(), "gateway add: {out:?}");
    server.wait_metric(
        "switchboard_gateway_up",
        "gateway=\"carrier\"",
        |v| v == 1.0,
        EVENT_TIMEOUT,
    );
    let mut phone = secure_phone(&server, "1001", loopback(tls_port), LOW);

    // Out: the phone dials 0555, the route sends 555 to the carrier over TLS.
    let ca = phone.dial("0555");
    let cc = carrier.wait_incoming();
    carrier.answer(&cc);
    carrier.wait_established(&cc);
    phone.wait_established(&ca);
    wait_hears(&mut phone, &ca, f64::from(HIGH), "the carrier");
    wait_hears(&mut carrier, &cc, f64::from(LOW), "the phone");
    // The carrier hangs up: its BYE comes to our Contact on the trunk's
    // TLS port.
    carrier.hangup(&cc);
    phone.wait_closed(&ca);

    // In: the carrier calls our DID over TLS; it reaches 1001.
    let cc = carrier.dial("62620668");
    let ca = phone.wait_incoming();
    phone.answer(&ca);
    phone.wait_established(&ca);
    carrier.wait_established(&cc);
    wait_hears(&mut phone, &ca, f64::from(HIGH), "the carrier");
    wait_hears(&mut carrier, &cc, f64::from(LOW), "the phone");
    phone.hangup(&ca);
    carrier.wait_closed(&cc);

    let cdrs = settled_cdrs(&server, 2);
    assert!(
        cdrs.iter()
            .all(|c| c.sip_code == 200 && c.answer_at.is_some()),
        "{cdrs:#?}"
    );
    let (legs, refused) = srtp_counters(&server);
    assert_eq!(legs, 4.0, "both legs of both calls");
    assert_eq!(refused, 0.0);
}
