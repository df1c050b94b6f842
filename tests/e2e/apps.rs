//! The media engine end to end through the built-in test extensions: SIPp's
//! RFC 4733 captures read back by the readback extension (9197), SIP INFO
//! digits, the tone extension's prompt (9198) decoded at the test UA, and the
//! echo extension (9196).

use std::time::{Duration, Instant};

use crate::harness::Server;
use crate::sipp::Sipp;
use crate::ua::{dominant_hz, g711_decode, sdp_media, tone_power, Dialog, Rtp, Ua, STEP};

/// The digits the live call list shows for the first call with any.
fn live_digits(server: &Server) -> String {
    let calls: serde_json::Value =
        serde_json::from_str(&server.api_calls()).unwrap_or(serde_json::Value::Null);
    calls
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["digits"].as_str())
        .find(|d| !d.is_empty())
        .unwrap_or_default()
        .to_string()
}

/// Polls the live call list until its digits are `want` (or time runs out).
async fn wait_digits(server: &Server, want: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut seen = String::new();
    while Instant::now() < deadline {
        seen = live_digits(server);
        if seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

/// Calls `number` from 1000 with a PCMU (+telephone-event) offer; the
/// dialog, the server's media address and the caller's RTP endpoint.
async fn call_app(
    server: &Server,
    number: &str,
    offer_pts: &str,
) -> (Ua, Dialog, std::net::SocketAddr, Rtp) {
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let rtp = Rtp::bind(server.ports.media_port(0)).await;
    let offer = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP {offer_pts}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n",
        rtp.port
    );
    let (resp, dialog) = caller.invite(number, &offer).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let dialog = dialog.expect("dialog");
    let media = sdp_media(&dialog.remote_sdp).expect("SDP answer");
    (caller, dialog, media, rtp)
}

#[tokio::test]
async fn sipp_rfc4733_captures_are_reported_and_read_back_by_the_readback_extension() {
    let server = Server::builder("readback_sipp")
        .extensions("1000", "secret")
        .start();
    let uac = Sipp::new("uac-dtmf-readback", "uac_dtmf_pcap")
        .remote(server.sip_addr())
        .users(&[("1000", "secret")])
        .service("9197")
        .media("127.0.0.1", server.ports.media_port(1))
        .pause_ms(4000)
        .spawn();
    let seen = wait_digits(&server, "159", Duration::from_secs(20)).await;
    assert_eq!(seen, "159", "digits reported by the readback extension");
    uac.wait().await.assert_success(1);
    let digits = server.metric("switchboard_dtmf_digits_total", "");
    assert_eq!(digits, 3.0, "each capture is one digit, reported once");
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.callee, "9197");
    assert_eq!(cdr.hangup_by, "caller", "{cdr:?}");
}

#[tokio::test]
async fn sip_info_digits_reach_the_application_and_bad_bodies_get_400_or_415() {
    let server = Server::builder("readback_info")
        .extensions("1000", "secret")
        .start();
    let (mut caller, mut dialog, _media, _rtp) = call_app(&server, "9197", "0 101").await;
    for (ctype, body) in [
        ("application/dtmf-relay", "Signal=4\r\nDuration=160\r\n"),
        ("application/dtmf", "#"),
    ] {
        let r = caller.info(&mut dialog, ctype, body).await;
        assert_eq!(r.status, Some(200), "{}", r.raw);
    }
    assert_eq!(wait_digits(&server, "4#", STEP).await, "4#");
    let r = caller
        .info(&mut dialog, "application/dtmf-relay", "Signal=X\r\n")
        .await;
    assert_eq!(r.status, Some(400), "{}", r.raw);
    assert!(
        r.raw.contains("digit \"X\""),
        "the reason names the problem: {}",
        r.raw
    );
    let r = caller.info(&mut dialog, "text/plain", "5").await;
    assert_eq!(r.status, Some(415), "{}", r.raw);
    // Neither bad body counted as a key.
    assert_eq!(live_digits(&server), "4#");
    let r = caller.bye(&mut dialog).await;
    assert_eq!(r.status, Some(200));
}

#[tokio::test]
async fn the_tone_extensions_prompt_file_decodes_to_its_1004_hz_at_the_test_ua() {
    let server = Server::builder("tone_prompt")
        .extensions("1000", "secret")
        .start();
    // PCMA only: the engine must answer with it and encode the prompt in A-law.
    let (mut caller, mut dialog, media, rtp) = call_app(&server, "9198", "8 101").await;
    assert!(
        dialog.remote_sdp.contains("RTP/AVP 8"),
        "{}",
        dialog.remote_sdp
    );
    // Symmetric RTP: our packets tell the server where we are.
    rtp.send(media, 5, 7).await;
    let pcm = g711_decode(8, &rtp.wait_payload(8, 8000, STEP).await);
    assert!(
        pcm.len() >= 8000,
        "only {} samples of the prompt arrived",
        pcm.len()
    );
    // The milliwatt prompt (a 16 kHz file, resampled to the call's 8 kHz).
    let tone = &pcm[800..8000];
    let hz = dominant_hz(tone, 8000.0);
    assert!((hz - 1004.0).abs() <= 6.0, "dominant frequency {hz} Hz");
    assert!(
        tone_power(tone, 8000.0, 1004.0) > 100.0 * tone_power(tone, 8000.0, 2000.0),
        "the tone is clean"
    );
    let r = caller.bye(&mut dialog).await;
    assert_eq!(r.status, Some(200));
}

#[tokio::test]
async fn the_echo_extension_returns_what_the_caller_says() {
    let server = Server::builder("echo").extensions("1000", "secret").start();
    let (mut caller, mut dialog, media, rtp) = call_app(&server, "9196", "0 101").await;
    // A key skips the spoken introduction.
    let r = caller
        .info(
            &mut dialog,
            "application/dtmf-relay",
            "Signal=1\r\nDuration=100\r\n",
        )
        .await;
    assert_eq!(r.status, Some(200));
    tokio::time::sleep(Duration::from_millis(300)).await;
    rtp.clear_payloads();
    rtp.send_tone(media, 0, 600.0, 2000, 0x600).await;
    let pcm = g711_decode(0, &rtp.wait_payload(0, 4000, STEP).await);
    assert!(pcm.len() >= 4000, "only {} samples came back", pcm.len());
    let hz = dominant_hz(&pcm, 8000.0);
    assert!((hz - 600.0).abs() <= 6.0, "echoed frequency {hz} Hz");
    let r = caller.bye(&mut dialog).await;
    assert_eq!(r.status, Some(200));
}

#[tokio::test]
async fn three_callers_in_the_conference_each_hear_the_other_two_and_not_themselves() {
    let server = Server::builder("conference")
        .extensions("1000-1002", "secret")
        .start();
    let tones = [500.0f32, 1000.0, 1700.0];
    let mut members = Vec::new();
    for (i, user) in ["1000", "1001", "1002"].iter().enumerate() {
        let mut ua = Ua::new(user, "secret", server.sip_addr()).await;
        let rtp = Rtp::bind(server.ports.media_port(i as u16)).await;
        let offer = crate::ua::sdp(rtp.port, "sendrecv");
        let (resp, dialog) = ua.invite("9300", &offer).await;
        assert_eq!(resp.status, Some(200), "{}", resp.raw);
        let dialog = dialog.expect("dialog");
        let media = sdp_media(&dialog.remote_sdp).expect("SDP answer");
        members.push((ua, dialog, media, rtp));
    }
    for (_, _, _, rtp) in &members {
        rtp.clear_payloads();
    }
    let sends = members
        .iter()
        .zip(tones)
        .enumerate()
        .map(|(i, ((_, _, media, rtp), hz))| rtp.send_tone(*media, 0, hz, 1500, 0x100 + i as u32));
    futures_join_all(sends).await;
    for (i, (_, _, _, rtp)) in members.iter().enumerate() {
        let pcm = g711_decode(0, &rtp.wait_payload(0, 8000, STEP).await);
        assert!(pcm.len() >= 8000, "member {i} got {} samples", pcm.len());
        let power: Vec<f64> = tones
            .iter()
            .map(|&hz| tone_power(&pcm, 8000.0, hz))
            .collect();
        for (j, p) in power.iter().enumerate() {
            if i == j {
                continue;
            }
            // Hears each other member, and its own voice 30 dB lower at most.
            assert!(*p > power[i] * 1e3, "member {i}: powers {power:?}");
        }
    }
    for (mut ua, mut dialog, _, _) in members {
        assert_eq!(ua.bye(&mut dialog).await.status, Some(200));
    }
    server.wait_cdrs(3).await;
}

/// Runs futures concurrently (no extra dependency for join_all).
async fn futures_join_all<F: std::future::Future<Output = ()>>(futs: impl Iterator<Item = F>) {
    let handles: Vec<_> = futs.map(Box::pin).collect();
    let mut handles: Vec<_> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in handles.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await
}

/// Sends `keys` as SIP INFO (application/dtmf-relay), one request each.
async fn press(ua: &mut Ua, dialog: &mut Dialog, keys: &str) {
    for k in keys.chars() {
        let body = format!("Signal={k}\r\nDuration=100\r\n");
        let r = ua.info(dialog, "application/dtmf-relay", &body).await;
        assert_eq!(r.status, Some(200), "{}", r.raw);
    }
}

#[tokio::test]
async fn dial_through_collects_an_extension_bridges_with_ringback_and_continues_after() {
    let server = Server::builder("dial_through")
        .extensions("1000-1001", "secret")
        .start();
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let (mut caller, mut dialog, media, a_rtp) = call_app(&server, "9199", "0 101").await;
    press(&mut caller, &mut dialog, "1001#").await;
    let inc = callee
        .wait_invite(STEP)
        .await
        .expect("the dialled extension rings");
    // Offered the caller's codec first.
    assert!(
        inc.invite.body.contains("RTP/AVP 0 "),
        "{}",
        inc.invite.body
    );
    a_rtp.clear_payloads();
    let ringback = g711_decode(0, &a_rtp.wait_payload(0, 6400, STEP).await);
    assert!(
        ringback.len() >= 6400,
        "{} samples while ringing",
        ringback.len()
    );
    let hz = dominant_hz(&ringback[..6400], 8000.0);
    assert!((hz - 450.0).abs() <= 6.0, "ringback at {hz} Hz");
    let mut b_dialog = callee
        .answer(&inc, &crate::ua::sdp(b_rtp.port, "sendrecv"))
        .await;
    let b_media = sdp_media(&b_dialog.remote_sdp).expect("offer to the callee");
    a_rtp.clear_payloads();
    tokio::join!(
        a_rtp.send_tone(media, 0, 600.0, 800, 1),
        b_rtp.send_tone(b_media, 0, 1100.0, 800, 2)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let at_a = g711_decode(0, &a_rtp.payload_bytes(0));
    let at_b = g711_decode(0, &b_rtp.payload_bytes(0));
    assert!(
        (dominant_hz(&at_a, 8000.0) - 1100.0).abs() <= 6.0,
        "caller hears the callee"
    );
    assert!(
        (dominant_hz(&at_b, 8000.0) - 600.0).abs() <= 6.0,
        "callee hears the caller"
    );
    // The callee leaves; the caller is still there and is told goodbye.
    assert_eq!(callee.bye(&mut b_dialog).await.status, Some(200));
    caller.expect_request("BYE", &dialog.call_id, "").await;
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(
        (cdr.callee.as_str(), cdr.hangup_by.as_str()),
        ("9199", "system"),
        "{cdr:?}"
    );
}

/// A phone's RFC 4733 sender: each key is one event (its own timestamp),
/// three progress packets then the end packet three times, as phones send.
struct KeyPad {
    ssrc: u32,
    seq: u16,
    ts: u32,
}

impl KeyPad {
    /// The packets of `key` (payload type 101), and whether each is an end.
    fn key(&mut self, key: char) -> Vec<(bool, Vec<u8>)> {
        let code = match key {
            '0'..='9' => key as u8 - b'0',
            '*' => 10,
            _ => 11,
        };
        let ts = self.ts;
        let mut out = Vec::new();
        for i in 0..6u16 {
            let end = i >= 3;
            let duration = 160 * (i.min(3) + 1);
            let mut pkt = vec![0x80, if i == 0 { 0x80 | 101 } else { 101 }];
            pkt.extend_from_slice(&self.seq.to_be_bytes());
            pkt.extend_from_slice(&ts.to_be_bytes());
            pkt.extend_from_slice(&self.ssrc.to_be_bytes());
            pkt.extend_from_slice(&[code, if end { 0x80 | 10 } else { 10 }]);
            pkt.extend_from_slice(&duration.to_be_bytes());
            out.push((end, pkt));
            self.seq = self.seq.wrapping_add(1);
        }
        // The next key starts well after this one.
        self.ts = self.ts.wrapping_add(8000);
        out
    }
}

/// The telephone-event codes in the RFC 4733 payloads `rtp` received.
fn event_codes(rtp: &Rtp) -> Vec<u8> {
    rtp.payload_bytes(101)
        .chunks_exact(4)
        .map(|e| e[0])
        .collect()
}

#[tokio::test]
async fn dial_through_by_rfc4733_forwards_no_stray_end_of_the_collected_keys() {
    let server = Server::builder("dial_rfc4733")
        .extensions("1000-1001", "secret")
        .start();
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let (mut caller, dialog, media, a_rtp) = call_app(&server, "9199", "0 101").await;
    let mut pad = KeyPad {
        ssrc: 0x1199,
        seq: 1,
        ts: 16_000,
    };
    // "1001" whole, then "#" up to its first end packet: the application has
    // its number and bridges; the two repeats of the end are held back.
    for key in "1001".chars() {
        for (_, pkt) in pad.key(key) {
            a_rtp.send_raw(media, &pkt).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let hash = pad.key('#');
    for (_, pkt) in &hash[..4] {
        a_rtp.send_raw(media, pkt).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let inc = callee
        .wait_invite(STEP)
        .await
        .expect("the dialled extension rings");
    let mut b_dialog = callee
        .answer(&inc, &crate::ua::sdp(b_rtp.port, "sendrecv"))
        .await;
    // Bridged once the caller's audio reaches the callee.
    let (_, heard) = tokio::join!(
        a_rtp.send_tone(media, 0, 600.0, 1000, 0x1199),
        b_rtp.wait_payload(0, 1600, STEP)
    );
    assert!(heard.len() >= 1600, "{} bytes at the callee", heard.len());
    // The late repeats of #'s end, then a key pressed in the conversation.
    for (end, pkt) in &hash[4..] {
        assert!(end);
        a_rtp.send_raw(media, pkt).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (_, pkt) in pad.key('5') {
        a_rtp.send_raw(media, &pkt).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + STEP;
    while event_codes(&b_rtp).iter().filter(|c| **c == 5).count() < 6 {
        assert!(
            Instant::now() < deadline,
            "the 5 never reached the callee: {:?}",
            event_codes(&b_rtp)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        event_codes(&b_rtp),
        [5; 6],
        "the callee got only the key pressed after the bridge"
    );
    assert_eq!(callee.bye(&mut b_dialog).await.status, Some(200));
    caller.expect_request("BYE", &dialog.call_id, "").await;
}

#[tokio::test]
async fn dial_through_to_an_unregistered_extension_says_so_and_hangs_up() {
    let server = Server::builder("dial_unreached")
        .extensions("1000-1001", "secret")
        .start();
    let (mut caller, mut dialog, _media, _rtp) = call_app(&server, "9199", "0 101").await;
    press(&mut caller, &mut dialog, "1001#").await;
    caller.expect_request("BYE", &dialog.call_id, "").await;
    let log = server.log();
    assert!(
        log.contains("1001 not reached: 480"),
        "{}",
        server.log_tail(30)
    );
}

/// The id of the live call answered by `app`.
fn app_call_id(server: &Server, app: &str) -> u64 {
    let calls: serde_json::Value = serde_json::from_str(&server.api_calls()).expect("JSON");
    calls
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["app"] == app)
        .and_then(|c| c["id"].as_u64())
        .unwrap_or_else(|| panic!("no {app} call in {calls}"))
}

#[tokio::test]
async fn hold_plays_music_to_the_caller_and_silence_to_the_other_party_and_retrieve_reconnects() {
    let server = Server::builder("hold_api")
        .extensions("1000-1001", "secret")
        .start();
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let (mut caller, mut dialog, media, a_rtp) = call_app(&server, "9199", "0 101").await;
    press(&mut caller, &mut dialog, "1001#").await;
    let inc = callee
        .wait_invite(STEP)
        .await
        .expect("the dialled extension rings");
    let mut b_dialog = callee
        .answer(&inc, &crate::ua::sdp(b_rtp.port, "sendrecv"))
        .await;
    let b_media = sdp_media(&b_dialog.remote_sdp).expect("offer to the callee");
    let id = app_call_id(&server, "dial");

    // Bad requests get a JSON error and change nothing.
    let (status, body) = server.http_post(&format!("/api/calls/{id}/dance")).unwrap();
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("unknown action"), "{body}");
    let (status, body) = server.http_post("/api/calls/999999/hold").unwrap();
    assert_eq!(status, 404, "{body}");
    let (status, body) = server
        .http_post(&format!("/api/calls/{id}/dtmf?digits=12x"))
        .unwrap();
    assert_eq!(status, 400, "{body}");
    let (status, body) = server
        .http_post(&format!("/api/calls/{id}/transfer?to=x1"))
        .unwrap();
    assert_eq!(status, 400, "{body}");

    let (status, body) = server.http_post(&format!("/api/calls/{id}/hold")).unwrap();
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    a_rtp.clear_payloads();
    b_rtp.clear_payloads();
    tokio::join!(
        a_rtp.send_tone(media, 0, 600.0, 1000, 1),
        b_rtp.send_tone(b_media, 0, 1100.0, 1000, 2)
    );
    let at_a = g711_decode(0, &a_rtp.wait_payload(0, 6000, STEP).await);
    let at_b = g711_decode(0, &b_rtp.wait_payload(0, 6000, STEP).await);
    // The caller hears music (sound, but not the other party's tone) ...
    assert!(at_a.len() >= 6000, "{} samples at the caller", at_a.len());
    let level = media::audio::level_dbov(&at_a);
    assert!(level > -45.0, "music on hold is audible: {level} dBov");
    assert!(
        (dominant_hz(&at_a, 8000.0) - 1100.0).abs() > 20.0,
        "the caller still hears the callee"
    );
    // ... and the other party hears silence, not the caller.
    let level_b = media::audio::level_dbov(&at_b);
    assert!(
        level_b < -60.0,
        "the held party's side is silent: {level_b} dBov"
    );

    let (status, body) = server
        .http_post(&format!("/api/calls/{id}/retrieve"))
        .unwrap();
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    a_rtp.clear_payloads();
    b_rtp.clear_payloads();
    tokio::join!(
        a_rtp.send_tone(media, 0, 600.0, 800, 1),
        b_rtp.send_tone(b_media, 0, 1100.0, 800, 2)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let at_a = g711_decode(0, &a_rtp.payload_bytes(0));
    let at_b = g711_decode(0, &b_rtp.payload_bytes(0));
    assert!(
        (dominant_hz(&at_a, 8000.0) - 1100.0).abs() <= 6.0,
        "reconnected: caller"
    );
    assert!(
        (dominant_hz(&at_b, 8000.0) - 600.0).abs() <= 6.0,
        "reconnected: callee"
    );

    // The API may hang the call up too.
    let (status, body) = server
        .http_post(&format!("/api/calls/{id}/hangup"))
        .unwrap();
    assert_eq!(status, 200, "{body}");
    caller.expect_request("BYE", &dialog.call_id, "").await;
    callee.expect_request("BYE", &b_dialog.call_id, "").await;
    let _ = &mut b_dialog;
}

#[tokio::test]
async fn another_phone_picks_up_a_call_ringing_at_an_extension() {
    let server = Server::builder("pickup")
        .extensions("1000-1002", "secret")
        .start();
    let mut ringing = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(ringing.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let mut picker = Ua::new("1002", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let p_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let a_offer = crate::ua::sdp(a_rtp.port, "sendrecv");
    let p_offer = crate::ua::sdp(p_rtp.port, "sendrecv");
    let ((resp, dialog), (p_resp, p_dialog)) =
        tokio::join!(caller.invite("1001", &a_offer), async {
            // 1001 rings; 1002 picks the call up with **1001.
            let inc = ringing.wait_invite(STEP).await.expect("1001 rings");
            let picked = picker.invite("**1001", &p_offer).await;
            ringing.expect_cancel(&inc).await;
            picked
        });
    assert_eq!(p_resp.status, Some(200), "{}", p_resp.raw);
    assert_eq!(
        resp.status,
        Some(200),
        "the caller is answered: {}",
        resp.raw
    );
    let dialog = dialog.unwrap();
    let mut p_dialog = p_dialog.unwrap();
    let a_media = sdp_media(&dialog.remote_sdp).unwrap();
    let p_media = sdp_media(&p_dialog.remote_sdp).unwrap();
    let deadline = Instant::now() + STEP;
    let mut round = 0;
    loop {
        round += 1;
        a_rtp.clear_payloads();
        p_rtp.clear_payloads();
        tokio::join!(
            a_rtp.send_tone(a_media, 0, 700.0, 600, 30 + round),
            p_rtp.send_tone(p_media, 0, 1250.0, 600, 40 + round)
        );
        let at_a = g711_decode(0, &a_rtp.wait_payload(0, 2400, STEP).await);
        let at_p = g711_decode(0, &p_rtp.wait_payload(0, 2400, STEP).await);
        if (dominant_hz(&at_a, 8000.0) - 1250.0).abs() <= 6.0
            && (dominant_hz(&at_p, 8000.0) - 700.0).abs() <= 6.0
        {
            break;
        }
        assert!(Instant::now() < deadline, "caller and picker never talked");
    }
    // The picker hangs up: the caller's call ends too.
    assert_eq!(picker.bye(&mut p_dialog).await.status, Some(200));
    caller.expect_request("BYE", &dialog.call_id, "").await;
}

#[tokio::test]
async fn star8_picks_up_a_call_ringing_in_the_callers_pickup_group() {
    let server = Server::builder("group_pickup")
        .extensions("1000", "secret")
        .start();
    for ext in ["1001", "1002"] {
        let out = server.cli(&[
            "extension",
            "add",
            ext,
            "--password",
            "secret",
            "--pickup-group",
            "sales",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut ringing = Ua::new("1001", "secret", server.sip_addr()).await;
    let deadline = Instant::now() + STEP;
    while ringing.register(3600).await.status != Some(200) {
        assert!(Instant::now() < deadline, "1001 never became known");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let mut picker = Ua::new("1002", "secret", server.sip_addr()).await;
    let a_offer = crate::ua::sdp(server.ports.media_port(0), "sendrecv");
    let p_offer = crate::ua::sdp(server.ports.media_port(1), "sendrecv");
    let ((resp, _dialog), p_resp) = tokio::join!(caller.invite("1001", &a_offer), async {
        let inc = ringing.wait_invite(STEP).await.expect("1001 rings");
        let (p_resp, _) = picker.invite("*8", &p_offer).await;
        ringing.expect_cancel(&inc).await;
        p_resp
    });
    assert_eq!(p_resp.status, Some(200), "{}", p_resp.raw);
    assert_eq!(
        resp.status,
        Some(200),
        "picked up from the group: {}",
        resp.raw
    );
}
