//! The agent desk (/desk) with a desk phone: the voice toolbar logs in at
//! an extension with its password, goes ready, sees the queue caller's
//! number pushed to the page while the phone rings (the phone is asked to
//! answer by itself), shows the call and its timer, and hangs it up from
//! the page. Everything on the page arrives over the push channel: the
//! test never reloads.

use std::sync::Arc;

use crate::driver::{run_on, server_name, BrowserKind, BrowserOptions};
use crate::flows;
use crate::harness::Server;
use crate::ua::{sdp, Rtp, Ua, STEP};

const PW: &str = "desk-Pw-1001";

/// The server's grace for a vanished desk (web::desk::ws::GRACE).
const GRACE: std::time::Duration = std::time::Duration::from_secs(15);

/// Queue "support" on 9400 with agent 1001 (logged out until the desk
/// logs it in).
const QUEUE: &str = "[apps]\nqueues = { \"9400\" = \"support\" }\n\n\
    [[callcenter.queues]]\nname = \"support\"\nstrategy = \"longest-idle-agent\"\n\n\
    [[callcenter.agents]]\nid = \"1001\"\ncontact = \"1001\"\n\n\
    [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1001\"\n";

browser_tests!(an_agent_logs_the_desk_in_goes_ready_sees_the_caller_and_hangs_up_from_the_page);
async fn an_agent_logs_the_desk_in_goes_ready_sees_the_caller_and_hangs_up_from_the_page(
    browser: BrowserKind,
) {
    let server = Arc::new(
        Server::builder(&server_name(browser, "desk_phone"))
            .extensions("1000-1001", PW)
            .config(QUEUE)
            .start(),
    );
    run_on(
        browser,
        server,
        "desk_phone",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            let mut phone = Ua::new("1001", PW, t.server.sip_addr()).await;
            assert_eq!(phone.register(3600).await.status, Some(200));

            b.goto("/desk").await;
            b.wait_visible("#desk-login").await;
            b.wait_text("#desk-link", "Live").await;
            // A wrong password is refused with the reason, in the page.
            b.fill("desk-extension", "1001").await;
            b.fill("desk-password", "not-it").await;
            b.click("desk-login-btn").await;
            b.wait_text("#desk-login-error", "wrong extension or password")
                .await;
            b.fill("desk-password", PW).await;
            b.click("desk-login-btn").await;
            b.wait_visible("#desk-toolbar").await;
            b.wait_text("#desk-ext", "1001").await;
            b.wait_text("#agent-status", "Not ready").await;
            b.mark_same_page().await;

            b.click("btn-ready").await;
            b.wait_text("#agent-status", "Ready").await;
            b.wait_text("#count-online", "1").await;

            // A caller dials the queue; the desk phone rings with an
            // auto-answer request, and the page shows who is calling.
            let mut caller = Ua::new("1000", PW, t.server.sip_addr()).await;
            let caller_rtp = Rtp::bind(t.server.ports.media_port(0)).await;
            let phone_rtp = Rtp::bind(t.server.ports.media_port(1)).await;
            let offer = sdp(caller_rtp.port, "sendrecv");
            let calling = tokio::spawn(async move {
                let (resp, dialog) = caller.invite("9400", &offer).await;
                (caller, resp, dialog)
            });
            let inc = phone.wait_invite(STEP).await.expect("the desk phone rings");
            let call_info = inc.invite.header("Call-Info").unwrap_or_default();
            assert!(call_info.contains("answer-after=0"), "{call_info:?}");
            b.wait_visible("#desk-offer").await;
            let offer_text = b.text("#desk-offer").await;
            assert!(
                offer_text.contains("1000") && offer_text.contains("support"),
                "{offer_text:?}"
            );
            b.wait_text("#agent-state", "Ringing").await;

            let dialog = phone.answer(&inc, &sdp(phone_rtp.port, "sendrecv")).await;
            b.wait_visible("#desk-call").await;
            b.wait_text("#call-party", "1000").await;
            b.wait_hidden("#desk-offer").await;
            b.wait_text("#agent-state", "On a queue call").await;
            b.wait_text("#count-in-service", "1").await;
            let timer = b.text("#call-timer").await;
            assert!(timer.starts_with("00:"), "{timer:?}");

            // Hang up from the page: the phone and the caller get BYE.
            b.click("btn-hangup").await;
            phone.expect_request("BYE", &dialog.call_id, "").await;
            let (mut caller, resp, caller_dialog) = calling.await.expect("the caller's task");
            assert_eq!(resp.status, Some(200), "{}", resp.raw);
            let caller_dialog = caller_dialog.expect("the caller's dialog");
            caller
                .expect_request("BYE", &caller_dialog.call_id, "")
                .await;
            b.wait_hidden("#desk-call").await;
            b.wait_text("#count-in-service", "0").await;
            assert!(b.same_page().await, "the page was reloaded or left");

            // Not ready with a reason, then log out: the agent is Logged Out.
            b.click("btn-not-ready").await;
            b.wait_text("#agent-status", "Not ready").await;
            b.click("btn-desk-logout").await;
            b.wait_visible("#desk-login").await;
            let (_, body) = t.server.http_get("/api/queues").expect("queues");
            assert!(body.contains("Logged Out"), "{body}");
        },
    )
    .await
}

browser_tests!(a_ready_agent_whose_desk_is_gone_past_the_grace_is_put_on_break);
/// The desk's page goes away (here: the agent navigates elsewhere; a
/// network drop or a closed tab is the same to the server) while the agent
/// is Ready: a reload within the grace keeps them Ready, staying away past
/// it puts them on break, so no queue call rings an empty seat.
async fn a_ready_agent_whose_desk_is_gone_past_the_grace_is_put_on_break(browser: BrowserKind) {
    let server = Arc::new(
        Server::builder(&server_name(browser, "desk_grace"))
            .extensions("1000-1001", PW)
            .config(QUEUE)
            .start(),
    );
    run_on(
        browser,
        server,
        "desk_grace",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            b.goto("/desk").await;
            b.fill("desk-extension", "1001").await;
            b.fill("desk-password", PW).await;
            b.click("desk-login-btn").await;
            b.wait_text("#agent-status", "Not ready").await;
            b.click("btn-ready").await;
            b.wait_text("#agent-status", "Ready").await;
            let status = || {
                let (_, body) = t.server.http_get("/api/queues").expect("queues");
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                v["agents"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["id"] == "1001")
                    .and_then(|a| a["status"].as_str().map(str::to_string))
                    .unwrap_or_default()
            };
            // A reload: the desk is back at once, with the true state, and
            // the agent is still Ready once the grace of the closed page
            // has passed (a slow machine only delays a break, so this
            // cannot fail for slowness).
            b.goto("/desk").await;
            b.wait_text("#agent-status", "Ready").await;
            b.wait_text("#desk-link", "Live").await;
            tokio::time::sleep(GRACE + std::time::Duration::from_secs(3)).await;
            assert_eq!(status(), "Available", "a reload is not a departure");
            // Gone: the agent leaves the desk's page.
            b.goto("/").await;
            b.until("the agent put on break after the grace", async || {
                (status() == "On Break").then_some(())
            })
            .await;
            assert_eq!(
                t.server.metric("switchboard_desk_connections", ""),
                0.0,
                "no desk left connected"
            );
            // Back at the desk, the page shows it.
            b.goto("/desk").await;
            b.wait_text("#agent-status", "Not ready").await;
        },
    )
    .await
}

browser_tests!(a_browser_phone_answers_a_queue_call_with_audio_both_ways);
/// The desk's browser phone: the agent signs in with "Browser phone" (a
/// WebRTC-enabled extension), the page registers it over SIP on WebSocket,
/// a queue caller rings it with Answer and Reject in the page, the agent
/// answers from the page, and audio crosses both ways: the caller's PCMU
/// reaches the browser (decrypted by its DTLS-SRTP stack) and the browser's
/// microphone (a fake tone) reaches the caller as PCMU, through the
/// server's WebRTC leg (ICE-lite, DTLS-SRTP, Opus or G.711 transcoded).
/// Firefox gathers no loopback ICE candidate, so it runs in a network
/// namespace of the test's own and the server binds to the veth pair's
/// address that namespace reaches ([`crate::netns`]).
async fn a_browser_phone_answers_a_queue_call_with_audio_both_ways(browser: BrowserKind) {
    let netns = (browser == BrowserKind::Firefox).then(|| Arc::new(crate::netns::Netns::create()));
    let mut builder = Server::builder(&server_name(browser, "desk_webrtc"))
        .extensions("1000-1001", PW)
        .config(QUEUE);
    if let Some(n) = &netns {
        builder = builder.bind(n.host_ip);
    }
    let server = builder.start();
    flows::edit_extension(&server, "1001", |e| {
        e.webrtc = true;
        // Calls answered at 1001 are recorded, in stereo: caller left.
        e.record = true;
    })
    .await;
    // The browser's microphone: a 1 kHz tone.
    let tone = crate::harness::artifacts().join(format!("tone-1k-{}.wav", std::process::id()));
    write_tone(&tone, 1000.0);
    let server = Arc::new(server);
    run_on(
        browser,
        server,
        "desk_webrtc",
        BrowserOptions {
            fake_media: true,
            // Chromium's microphone; Firefox's fake one is a 1 kHz tone too.
            fake_audio: Some(tone),
            netns,
            ..BrowserOptions::default()
        },
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            flows::desk_login_with_browser_phone(b, "1001", PW).await;
            b.wait_text("#phone-status", "Browser phone ready").await;
            b.click("btn-ready").await;
            b.wait_text("#agent-status", "Ready").await;

            // The caller: plain SIP and PCMU from one UDP socket.
            let media = std::net::UdpSocket::bind(("127.0.0.1", t.server.ports.media_port(0)))
                .expect("caller media socket");
            media
                .set_read_timeout(Some(std::time::Duration::from_millis(200)))
                .expect("timeout");
            let offer = sdp(media.local_addr().expect("addr").port(), "sendrecv");
            let mut caller = Ua::new("1000", PW, t.server.sip_addr()).await;
            let calling = tokio::spawn(async move {
                let (resp, dialog) = caller.invite("9400", &offer).await;
                (caller, resp, dialog)
            });
            b.wait_visible("#btn-answer").await;
            b.wait_visible("#btn-reject").await;
            let offer_text = b.text("#desk-offer").await;
            assert!(offer_text.contains("1000"), "{offer_text:?}");
            b.click("btn-answer").await;
            let (mut caller, resp, dialog) = tokio::time::timeout(STEP, calling)
                .await
                .expect("the caller is answered in time")
                .expect("the caller's task");
            assert_eq!(resp.status, Some(200), "{}", resp.raw);
            let dialog = dialog.expect("the caller's dialog");
            let server_media = crate::ua::sdp_media(&resp.body).expect("media in the answer");
            b.wait_visible("#desk-call").await;
            b.wait_visible("#btn-mute").await;

            // 4 s of PCMU from the caller; count what comes back.
            let sender = media.try_clone().expect("clone");
            let send = std::thread::spawn(move || {
                for i in 0..200u32 {
                    let mut pkt = vec![0x80, 0];
                    pkt.extend_from_slice(&(i as u16).to_be_bytes());
                    pkt.extend_from_slice(&(i * 160).to_be_bytes());
                    pkt.extend_from_slice(&0x1234_5678u32.to_be_bytes());
                    // A 500 Hz square wave, loud enough to be heard.
                    pkt.extend((0..160).map(|n| if (n / 8) % 2 == 0 { 0x20 } else { 0xa0 }));
                    let _ = sender.send_to(&pkt, server_media);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            });
            let recv = tokio::task::spawn_blocking(move || {
                let mut buf = [0u8; 2048];
                let mut got = 0u32;
                let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
                while std::time::Instant::now() < until {
                    if let Ok((n, _)) = media.recv_from(&mut buf) {
                        if n > 12 && buf[0] & 0xc0 == 0x80 && buf[1] & 0x7f == 0 {
                            got += 1;
                        }
                    }
                }
                got
            });
            let from_browser = recv.await.expect("receiver");
            send.join().expect("sender");
            let phone_log = b.eval("return window.switchboardPhone.log;").await;
            assert!(
                from_browser >= 50,
                "the browser's microphone reached the caller: {from_browser} PCMU packets; \
                 the phone's log: {phone_log}"
            );
            let to_browser = b
                .eval_async(
                    "var done = arguments[arguments.length - 1];\
                     var s = window.switchboardPhone.session();\
                     s.connection.getStats().then(function (r) {\
                       var n = 0; r.forEach(function (x) {\
                         if (x.type === 'inbound-rtp' && x.kind === 'audio') { n = x.packetsReceived; }\
                       }); done(n); });",
                )
                .await;
            assert!(
                to_browser.as_u64().unwrap_or(0) >= 50,
                "the caller's audio reached the browser: {to_browser}"
            );

            // Hang up from the page: the caller gets BYE.
            b.click("btn-hangup").await;
            caller.expect_request("BYE", &dialog.call_id, "").await;
            b.wait_hidden("#desk-call").await;

            // The stereo recording: the caller's 500 Hz on the left, the
            // browser's 1 kHz tone on the right, each apart from the other.
            let cdr = t.server.wait_cdrs(1).await.remove(0);
            let path = cdr.recording_path.clone().expect("the call is recorded");
            let mut wav = hound::WavReader::open(&path).expect("a readable WAV");
            let spec = wav.spec();
            assert_eq!(spec.channels, 2, "{spec:?}");
            let rate = spec.sample_rate as f64;
            let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap_or(0)).collect();
            let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
            let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
            let (l5, l1k) = (power(&left, rate, 500.0), power(&left, rate, 1000.0));
            let (r5, r1k) = (power(&right, rate, 500.0), power(&right, rate, 1000.0));
            assert!(l5 > 100.0 * l1k, "left (caller): 500 Hz {l5:.1}, 1 kHz {l1k:.1}");
            assert!(r1k > 100.0 * r5, "right (browser): 500 Hz {r5:.1}, 1 kHz {r1k:.1}");
        },
    )
    .await
}

/// A 10 s mono 48 kHz WAV of a sine at `hz` (Chromium loops it).
fn write_tone(path: &std::path::Path, hz: f64) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create the tone");
    for n in 0..480_000u32 {
        let v = (2.0 * std::f64::consts::PI * hz * f64::from(n) / 48_000.0).sin() * 12_000.0;
        w.write_sample(v as i16).expect("write the tone");
    }
    w.finalize().expect("finish the tone");
}

/// The power of `hz` in `x` (Goertzel over the whole signal, normalised).
fn power(x: &[i16], rate: f64, hz: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * hz / rate).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - k * s1 * s2) / (x.len().max(1) as f64).powi(2)
}

browser_tests!(the_screen_pop_shows_the_callers_history_and_my_figures_count_each_call);
/// Screen pop and "my figures today": a direct call from 1000 to the
/// agent's desk phone pops 1000 up on answer (no earlier calls yet) and,
/// once it ended and its record is written, the agent's figures count it
/// (pushed, never polled). Then 1000 calls the queue: the offer pops 1000
/// up with that earlier call in its history; the pop closes and reopens
/// from the toolbar; the queue call counts in the figures too.
async fn the_screen_pop_shows_the_callers_history_and_my_figures_count_each_call(
    browser: BrowserKind,
) {
    let server = Arc::new(
        Server::builder(&server_name(browser, "desk_pop"))
            .extensions("1000-1001", PW)
            .config(QUEUE)
            .start(),
    );
    run_on(
        browser,
        server,
        "desk_pop",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            let mut phone = Ua::new("1001", PW, t.server.sip_addr()).await;
            assert_eq!(phone.register(3600).await.status, Some(200));
            b.goto("/desk").await;
            b.fill("desk-extension", "1001").await;
            b.fill("desk-password", PW).await;
            b.click("desk-login-btn").await;
            b.wait_text("#agent-status", "Not ready").await;
            b.wait_visible("#desk-today").await;
            b.wait_text("#today-answered", "0").await;
            b.wait_text("#today-missed", "0").await;
            b.mark_same_page().await;

            // 1000 calls the agent's extension; answered, the pop shows
            // 1000, who never called before.
            let caller = Ua::new("1000", PW, t.server.sip_addr()).await;
            let caller_rtp = Rtp::bind(t.server.ports.media_port(0)).await;
            let phone_rtp = Rtp::bind(t.server.ports.media_port(1)).await;
            let offer = sdp(caller_rtp.port, "sendrecv");
            let calling = tokio::spawn(async move {
                let mut caller = caller;
                let (resp, dialog) = caller.invite("1001", &offer).await;
                (caller, resp, dialog)
            });
            let inc = phone.wait_invite(STEP).await.expect("the desk phone rings");
            let dialog = phone.answer(&inc, &sdp(phone_rtp.port, "sendrecv")).await;
            b.wait_visible("#desk-pop").await;
            b.wait_text("#pop-number", "1000").await;
            b.wait_visible("#pop-empty").await;
            b.wait_text("#pop-calls", "0").await;
            let (mut caller, resp, caller_dialog) = calling.await.expect("the caller's task");
            assert_eq!(resp.status, Some(200), "{}", resp.raw);
            let mut caller_dialog = caller_dialog.expect("the caller's dialog");
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            assert_eq!(caller.bye(&mut caller_dialog).await.status, Some(200));
            phone.expect_request("BYE", &dialog.call_id, "").await;
            b.wait_hidden("#desk-call").await;
            // Its record written, the server says so and the page reads
            // the figures again: one call answered.
            b.wait_text("#today-answered", "1").await;
            assert_eq!(b.text("#today-missed").await, "0");
            assert!(b.same_page().await, "the page was reloaded or left");

            // Ready; 1000 calls the queue: the offer pops 1000 up with the
            // earlier call (to 1001) in its history.
            b.click("btn-pop-close").await;
            b.wait_hidden("#desk-pop").await;
            b.click("btn-ready").await;
            b.wait_text("#agent-status", "Ready").await;
            let offer = sdp(caller_rtp.port, "sendrecv");
            let calling = tokio::spawn(async move {
                let (resp, dialog) = caller.invite("9400", &offer).await;
                (caller, resp, dialog)
            });
            let inc = phone.wait_invite(STEP).await.expect("the desk phone rings");
            b.wait_visible("#desk-offer").await;
            b.wait_visible("#desk-pop").await;
            b.wait_text("#pop-number", "1000").await;
            b.wait_text("#pop-calls", "1").await;
            b.wait_visible("[data-test=\"pop-row\"]").await;
            let row = b.text("[data-test=\"pop-row\"]").await;
            assert!(row.contains("1001"), "the earlier call, to 1001: {row:?}");
            let rows = b
                .eval("return document.querySelectorAll('[data-test=\"pop-row\"]').length")
                .await;
            assert_eq!(rows, 1, "one earlier call");
            let more = b
                .eval("return document.getElementById('pop-more').getAttribute('href')")
                .await;
            assert_eq!(more, "/desk/history?number=1000");
            b.wait_text("#pop-last-answered", "20").await;

            // Answered (the pop is read again, still 1000); the caller hangs up.
            let dialog = phone.answer(&inc, &sdp(phone_rtp.port, "sendrecv")).await;
            b.wait_visible("#desk-call").await;
            b.wait_text("#call-party", "1000").await;
            b.wait_text("#pop-number", "1000").await;
            let (mut caller, resp, caller_dialog) = calling.await.expect("the caller's task");
            assert_eq!(resp.status, Some(200), "{}", resp.raw);
            let mut caller_dialog = caller_dialog.expect("the caller's dialog");
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            assert_eq!(caller.bye(&mut caller_dialog).await.status, Some(200));
            phone.expect_request("BYE", &dialog.call_id, "").await;
            b.wait_hidden("#desk-call").await;
            b.wait_text("#today-answered", "2").await;

            // Closed, then reopened from the toolbar for the last caller:
            // read again, so with the queue call too once its record is
            // written (the CDR writer's batch; nothing tells the agent's
            // desk of a record about the caller and the queue).
            b.click("btn-pop-close").await;
            b.wait_hidden("#desk-pop").await;
            b.click("btn-pop").await;
            b.wait_visible("#desk-pop").await;
            b.wait_text("#pop-number", "1000").await;
            b.until("the reopened pop to count both calls", async || {
                b.click("btn-pop").await;
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                (b.text("#pop-calls").await == "2").then_some(())
            })
            .await;
            assert!(b.same_page().await, "the page was reloaded or left");

            // The same figures from the endpoint, talk time counted.
            let f = b
                .eval(
                    "return fetch('/desk/today', {credentials: 'same-origin'})\
                     .then(function (r) { return r.json(); })",
                )
                .await;
            assert_eq!(f["answered"], 2, "{f}");
            assert_eq!(f["queue_answered"], 1, "{f}");
            assert!(f["talk_secs"].as_i64().unwrap_or(0) >= 2, "{f}");
        },
    )
    .await
}
