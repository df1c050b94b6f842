//! SDP offer/answer between two phones through the B2BUA (RFC 3264): the
//! caller's codecs stay first in the offer to the callee, an answer the
//! caller cannot use (a codec it never offered, that we cannot transcode)
//! ends in 488 with a Warning instead of a connected call without audio, and
//! an offer without audio is refused the same way.

use crate::harness::Server;
use crate::ua::{Rtp, Ua, STEP};

/// An SDP with one audio section at 127.0.0.1:`port` listing `formats`
/// (e.g. "96 0 101") with the given rtpmap lines.
fn audio_sdp(port: u16, formats: &str, rtpmaps: &[&str]) -> String {
    let maps: String = rtpmaps
        .iter()
        .map(|m| format!("a=rtpmap:{m}\r\n"))
        .collect();
    format!(
        "v=0\r\no=- 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {formats}\r\n{maps}a=sendrecv\r\n"
    )
}

/// The format list of the first m= line of `sdp`.
fn m_formats(sdp: &str) -> Vec<String> {
    sdp.lines()
        .find(|l| l.starts_with("m=audio"))
        .map(|l| l.split_whitespace().skip(3).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// GSM (static payload type 3): a codec we do not decode (Opus we do).
#[tokio::test]
async fn a_gsm_only_caller_and_a_pcmu_only_callee_end_in_488_with_a_warning() {
    let server = Server::start("codec_mismatch");
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let offer = audio_sdp(
        a_rtp.port,
        "3 101",
        &["3 GSM/8000", "101 telephone-event/8000"],
    );
    // The callee (wrongly, like a phone that ignores the offer) answers µ-law.
    let answer = audio_sdp(
        b_rtp.port,
        "0 101",
        &["0 PCMU/8000", "101 telephone-event/8000"],
    );
    let ((resp, dialog), (offered, bye)) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee
            .wait_invite(STEP)
            .await
            .expect("callee got no INVITE");
        let offered = inc.invite.body.clone();
        let d = callee.answer(&inc, &answer).await;
        let bye = callee.expect_request("BYE", &d.call_id, "").await;
        (offered, bye)
    });
    // We cannot decode GSM, so nothing of ours was added to the offer.
    assert_eq!(m_formats(&offered), ["3", "101"], "{offered}");
    assert!(dialog.is_none());
    assert_eq!(resp.status, Some(488), "{}", resp.raw);
    let warning = resp.header("Warning").expect("a Warning header");
    assert!(warning.starts_with("305 "), "{warning}");
    assert!(
        warning.contains("GSM/8000") && warning.contains("PCMU/8000"),
        "{warning}"
    );
    assert_eq!(bye.method.as_deref(), Some("BYE"));
    assert_eq!(
        server.wait_metric("switchboard_codec_mismatches_total", "", |v| v >= 1.0, STEP),
        1.0
    );
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(
        (cdr.sip_code, cdr.hangup_cause.as_str(), cdr.answer_at),
        (488, "INCOMPATIBLE_DESTINATION", None)
    );
}

#[tokio::test]
async fn the_callers_codecs_come_first_in_the_offer_to_the_callee() {
    let server = Server::start("codec_order");
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let offer = audio_sdp(
        a_rtp.port,
        "96 0 101",
        &["96 opus/48000/2", "0 PCMU/8000", "101 telephone-event/8000"],
    );
    let answer = audio_sdp(
        b_rtp.port,
        "96 101",
        &["96 opus/48000/2", "101 telephone-event/8000"],
    );
    let ((resp, dialog), offered) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee
            .wait_invite(STEP)
            .await
            .expect("callee got no INVITE");
        let offered = inc.invite.body.clone();
        callee.answer(&inc, &answer).await;
        offered
    });
    let formats = m_formats(&offered);
    assert_eq!(formats[..3], ["96", "0", "101"], "{offered}");
    // Our other codecs (A-law, G.722) follow, so a callee without the
    // caller's codecs can still answer (we transcode).
    assert!(
        formats.len() > 3 && formats.contains(&"8".to_string()),
        "{offered}"
    );
    // The callee took the caller's opus: the caller gets it back as is.
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let a_dialog = dialog.expect("dialog");
    assert_eq!(
        m_formats(&a_dialog.remote_sdp),
        ["96", "101"],
        "{}",
        a_dialog.remote_sdp
    );
}

#[tokio::test]
async fn an_offer_without_audio_is_refused_with_488_and_a_warning() {
    let server = Server::start("codec_no_audio");
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let offer = "v=0\r\no=- 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
    let (resp, dialog) = caller.invite("1001", offer).await;
    assert!(dialog.is_none());
    assert_eq!(resp.status, Some(488), "{}", resp.raw);
    let warning = resp.header("Warning").expect("a Warning header");
    assert!(warning.starts_with("304 "), "{warning}");
    assert!(
        callee
            .wait_invite(std::time::Duration::from_millis(300))
            .await
            .is_none(),
        "the callee must not ring"
    );
}

/// RTP/SAVP with only crypto lines we cannot honour (an unknown suite, an
/// MKI): 488 with a Warning naming the reason, counted; the callee does not
/// ring. A plain RTP/AVP offer's crypto lines are ignored (the call rings).
#[tokio::test]
async fn an_srtp_offer_with_no_usable_crypto_line_is_refused_with_488_and_the_reason() {
    let server = Server::start("srtp_unusable");
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let key = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
    let offer = |proto: &str| {
        format!(
            "v=0\r\no=- 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio 5000 {proto} 0\r\na=rtpmap:0 PCMU/8000\r\n\
             a=crypto:1 F8_128_HMAC_SHA1_80 inline:{key}\r\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:4\r\n"
        )
    };
    let (resp, dialog) = caller.invite("1001", &offer("RTP/SAVP")).await;
    assert!(dialog.is_none());
    assert_eq!(resp.status, Some(488), "{}", resp.raw);
    let warning = resp.header("Warning").expect("a Warning header");
    assert!(
        warning.starts_with("305 ") && warning.contains("F8_128_HMAC_SHA1_80"),
        "{warning}"
    );
    assert!(
        callee
            .wait_invite(std::time::Duration::from_millis(300))
            .await
            .is_none(),
        "the callee must not ring"
    );
    assert_eq!(
        server.wait_metric("switchboard_srtp_refused_total", "", |v| v >= 1.0, STEP),
        1.0
    );
    // The same lines on RTP/AVP mean nothing: the call goes through, and
    // the callee is offered plain RTP without the caller's key.
    let plain = offer("RTP/AVP");
    let (_, offered) = tokio::join!(caller.invite("1001", &plain), async {
        let inc = callee.wait_invite(STEP).await.expect("the callee rings");
        let offered = inc.invite.body.clone();
        callee
            .respond(&inc.invite, 486, "Busy Here", Some(&inc.local_tag), "")
            .await;
        offered
    });
    assert!(
        offered.contains("RTP/AVP") && !offered.contains("crypto"),
        "{offered}"
    );
}

#[tokio::test]
async fn a_callees_488_reaches_the_caller_with_a_warning_its_own_or_ours() {
    let server = Server::start("codec_callee_488");
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let offer = audio_sdp(
        a_rtp.port,
        "3 101",
        &["3 GSM/8000", "101 telephone-event/8000"],
    );
    // A callee refusing without a Warning: the caller learns what was offered.
    let ((resp, _), ()) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee
            .wait_invite(STEP)
            .await
            .expect("callee got no INVITE");
        callee
            .respond(
                &inc.invite,
                488,
                "Not Acceptable Here",
                Some(&inc.local_tag),
                "",
            )
            .await;
    });
    assert_eq!(resp.status, Some(488), "{}", resp.raw);
    let warning = resp.header("Warning").expect("a Warning header");
    assert!(
        warning.starts_with("305 ") && warning.contains("GSM/8000"),
        "{warning}"
    );
    // A callee's own Warning is passed on as it is.
    let theirs = "399 phone \"No suitable codec\"";
    let ((resp, _), ()) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee
            .wait_invite(STEP)
            .await
            .expect("callee got no INVITE");
        let extra = format!("Warning: {theirs}\r\n");
        callee
            .respond_with(
                &inc.invite,
                488,
                "Not Acceptable Here",
                Some(&inc.local_tag),
                &extra,
                "",
            )
            .await;
    });
    assert_eq!(resp.status, Some(488), "{}", resp.raw);
    assert_eq!(resp.header("Warning"), Some(theirs), "{}", resp.raw);
}
