//! The desk's call buttons and the supervisor's floor view, in the page,
//! with desk phones (SIP user agents that answer what they are asked to):
//! - the keypad sends a key to the caller (RFC 4733);
//! - the toolbar holds (the caller hears music) and retrieves, brings a
//!   third party in (3-way) and drops it, consults a colleague and
//!   completes the transfer, transfers blind, and sends a caller to the
//!   satisfaction survey;
//! - a supervisor sees the agent's row change live, listens to the agent's
//!   call from a click (the supervisor's phone is rung and answers by
//!   itself), switches to whisper, and forces the agent's status.
//!
//! Who hears whom in each mode is measured in the e2e tests
//! (`transfer::an_agent_consults...`, `webrtc::a_supervisors_browser...`).

use std::sync::Arc;

use crate::driver::{run_on, server_name, BrowserKind, BrowserOptions};
use crate::flows;
use crate::harness::Server;
use crate::ua::{g711_decode, sdp, Dialog, Rtp, Ua, STEP};

const PW: &str = "desk-Pw-1001";

/// Queue "support" on 9400 with agent 1001.
const QUEUE: &str = "[apps]\nqueues = { \"9400\" = \"support\" }\n\n\
    [[callcenter.queues]]\nname = \"support\"\nstrategy = \"longest-idle-agent\"\n\n\
    [[callcenter.agents]]\nid = \"1001\"\ncontact = \"1001\"\n\n\
    [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1001\"\n";

/// A server with extensions 1000-1004 and the queue, named for `browser`.
fn queue_server(browser: BrowserKind, name: &str) -> Server {
    Server::builder(&server_name(browser, name))
        .extensions("1000-1004", PW)
        .config(QUEUE)
        .start()
}

/// Waits until the floor's row of `agent` shows `status`.
async fn until_row_status(b: &crate::driver::Browser, agent: &str, status: &str) {
    let script = format!(
        "var r = document.querySelector(\"[data-test='floor-row-{agent}']\");\
         return r && r.getAttribute('data-status');"
    );
    b.until(
        &format!("the row of {agent} to show {status}"),
        async || {
            let v = b.eval(&script).await;
            (v.as_str() == Some(status)).then_some(())
        },
    )
    .await;
}

/// Logs the page's toolbar in at `ext` with a desk phone.
async fn desk_login(b: &crate::driver::Browser, ext: &str) {
    b.goto("/desk").await;
    b.wait_text("#desk-link", "Live").await;
    b.fill("desk-extension", ext).await;
    b.fill("desk-password", PW).await;
    b.click("desk-login-btn").await;
    b.wait_visible("#desk-toolbar").await;
    b.wait_text("#desk-ext", ext).await;
}

/// A caller (1000) dials the queue; the agent's desk phone answers. The
/// caller's UA, dialog and RTP, the agent's dialog.
async fn queue_call(server: &Server, phone: &mut Ua, port: u16) -> (Ua, Dialog, Rtp, Dialog) {
    let mut caller = Ua::new("1000", PW, server.sip_addr()).await;
    let rtp = Rtp::bind(server.ports.media_port(port)).await;
    let offer = sdp(rtp.port, "sendrecv");
    let calling = tokio::spawn(async move {
        let (resp, dialog) = caller.invite("9400", &offer).await;
        (caller, resp, dialog)
    });
    let inc = phone.wait_invite(STEP).await.expect("the desk phone rings");
    let agent = phone
        .answer(&inc, &sdp(server.ports.media_port(port + 1), "sendrecv"))
        .await;
    let (caller, resp, dialog) = calling.await.expect("the caller's task");
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    (caller, dialog.expect("the caller's dialog"), rtp, agent)
}

/// The live calls joined to another, as (joined to, mode).
fn joined(server: &Server) -> Vec<(u64, String)> {
    let calls: serde_json::Value =
        serde_json::from_str(&server.api_calls()).expect("the live calls");
    calls
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let j = c["joined"].as_array()?;
            Some((j[0].as_u64()?, j[1].as_str()?.to_string()))
        })
        .collect()
}

/// Waits until the live calls joined to another are `want`.
async fn until_joined(server: &Server, want: &[&str]) {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let modes: Vec<String> = joined(server).into_iter().map(|(_, m)| m).collect();
        if modes.iter().map(String::as_str).eq(want.iter().copied()) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "joined calls {modes:?}, wanted {want:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

browser_tests!(the_toolbar_holds_brings_in_consults_transfers_and_sends_to_the_survey);
async fn the_toolbar_holds_brings_in_consults_transfers_and_sends_to_the_survey(
    browser: BrowserKind,
) {
    let server = Arc::new(queue_server(browser, "desk_calls"));
    run_on(
        browser,
        server,
        "desk_calls",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            let server = &t.server;
            flows::admin_first_sign_in(b).await;
            let mut phone = Ua::new("1001", PW, server.sip_addr()).await;
            assert_eq!(phone.register(3600).await.status, Some(200));
            let mut mate = Ua::new("1004", PW, server.sip_addr()).await;
            assert_eq!(mate.register(3600).await.status, Some(200));
            desk_login(b, "1001").await;
            b.click("btn-ready").await;
            b.wait_text("#agent-status", "Ready").await;

            // Call 1: hold, 3-way, consult and complete.
            let (mut caller, mut caller_dialog, caller_rtp, agent_leg) =
                queue_call(server, &mut phone, 0).await;
            b.wait_visible("#desk-call").await;
            // The screen pop of the answered call opens a ticket tied to
            // this call (its SIP Call-ID), so the ticket shows its record.
            let want = caller_dialog.call_id.clone();
            b.until("the pop's new-ticket link names the call", async || {
                let call = b
                    .eval(
                        "var a = document.getElementById('pop-new-ticket'); \
                         return new URL(a.href, location.href).searchParams.get('call') || ''",
                    )
                    .await;
                (call.as_str() == Some(want.as_str())).then_some(())
            })
            .await;
            // The keypad: a key pressed reaches the caller as RFC 4733.
            b.click_css("[data-test='key-5']").await;
            let deadline = std::time::Instant::now() + STEP;
            while caller_rtp.received_pt(101) == 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no telephone-event reached the caller"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            b.click("btn-hold").await;
            let music = g711_decode(0, &caller_rtp.wait_payload(0, 3200, STEP).await);
            assert!(
                media::audio::level_dbov(&music) > -45.0,
                "the held caller hears music: {:.1} dBov",
                media::audio::level_dbov(&music)
            );
            b.click("btn-retrieve").await;

            // 3-way: 1004 is rung (not asked to answer by itself), answers
            // and joins; "drop" lets it go.
            b.fill("desk-number", "1004").await;
            b.click("btn-conference").await;
            let inc = mate.wait_invite(STEP).await.expect("1004 rings");
            let info = inc.invite.header("Call-Info").unwrap_or_default();
            assert!(!info.contains("answer-after"), "{info:?}");
            let mate_leg = mate
                .answer(&inc, &sdp(server.ports.media_port(2), "sendrecv"))
                .await;
            until_joined(server, &["conference"]).await;
            b.click("btn-drop").await;
            mate.expect_request("BYE", &mate_leg.call_id, "").await;
            until_joined(server, &[]).await;

            // Consult 1004, then complete: the agent's phone is released,
            // the caller stays with 1004.
            b.click("btn-consult").await;
            let inc = mate.wait_invite(STEP).await.expect("1004 rings again");
            let mate_leg = mate
                .answer(&inc, &sdp(server.ports.media_port(2), "sendrecv"))
                .await;
            until_joined(server, &["consult"]).await;
            b.click("btn-complete").await;
            phone.expect_request("BYE", &agent_leg.call_id, "").await;
            b.wait_hidden("#desk-call").await;
            caller.bye(&mut caller_dialog).await;
            mate.expect_request("BYE", &mate_leg.call_id, "").await;

            // Call 2: a blind transfer to 1004.
            b.wait_text("#agent-status", "Ready").await;
            let (_caller, _caller_dialog, _rtp, agent_leg) =
                queue_call(server, &mut phone, 4).await;
            b.wait_visible("#desk-call").await;
            b.fill("desk-number", "1004").await;
            b.click("btn-transfer").await;
            phone.expect_request("BYE", &agent_leg.call_id, "").await;
            let inc = mate
                .wait_invite(STEP)
                .await
                .expect("1004 rings for the transfer");
            let _leg = mate
                .answer(&inc, &sdp(server.ports.media_port(6), "sendrecv"))
                .await;
            b.wait_hidden("#desk-call").await;

            // Call 3: sent to the survey, where the caller presses 3.
            let (mut caller, mut caller_dialog, _rtp, agent_leg) =
                queue_call(server, &mut phone, 8).await;
            b.wait_visible("#desk-call").await;
            b.click("btn-survey").await;
            phone.expect_request("BYE", &agent_leg.call_id, "").await;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let r = caller
                .info(
                    &mut caller_dialog,
                    "application/dtmf-relay",
                    "Signal=3\r\nDuration=100\r\n",
                )
                .await;
            assert_eq!(r.status, Some(200), "{}", r.raw);
            caller
                .expect_request("BYE", &caller_dialog.call_id, "")
                .await;
            let surveys = server
                .store()
                .await
                .surveys_for_call(&caller_dialog.call_id)
                .await
                .expect("read the surveys");
            assert_eq!(surveys.len(), 1, "{surveys:?}");
            assert_eq!(surveys[0].score, 3);
        },
    )
    .await
}

browser_tests!(a_supervisor_watches_the_floor_listens_whispers_and_sets_an_agents_status);
async fn a_supervisor_watches_the_floor_listens_whispers_and_sets_an_agents_status(
    browser: BrowserKind,
) {
    let server = Arc::new(queue_server(browser, "desk_supervisor"));
    run_on(
        browser,
        server,
        "desk_supervisor",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            let server = &t.server;
            // The administrator supervises, from a desk phone at 1002.
            flows::admin_first_sign_in(b).await;
            let mut sup_phone = Ua::new("1002", PW, server.sip_addr()).await;
            assert_eq!(sup_phone.register(3600).await.status, Some(200));
            let mut phone = Ua::new("1001", PW, server.sip_addr()).await;
            assert_eq!(phone.register(3600).await.status, Some(200));
            desk_login(b, "1002").await;
            b.wait_visible("#desk-floor").await;
            b.wait_visible("[data-test='floor-row-1001']").await;
            b.mark_same_page().await;

            // The agent goes ready (from the API, as another desk would):
            // the row follows without a reload.
            let (code, body) = server
                .http_post("/api/agents/1001/status?status=available")
                .expect("agent status");
            assert_eq!(code, 200, "{body}");
            until_row_status(b, "1001", "Available").await;

            // A queue call: the row shows it, with the buttons to join.
            let (_caller, _dialog, _rtp, _agent_leg) = queue_call(server, &mut phone, 0).await;
            b.wait_visible("[data-test='floor-listen-1001']").await;
            b.click_css("[data-test='floor-listen-1001']").await;
            let inc = sup_phone
                .wait_invite(STEP)
                .await
                .expect("the supervisor's phone rings");
            let info = inc.invite.header("Call-Info").unwrap_or_default();
            assert!(info.contains("answer-after=0"), "{info:?}");
            let _sup_leg = sup_phone
                .answer(&inc, &sdp(server.ports.media_port(4), "sendrecv"))
                .await;
            until_joined(server, &["listen"]).await;
            b.click_css("[data-test='floor-whisper-1001']").await;
            until_joined(server, &["whisper"]).await;

            // Forcing a status: the agent is put on break.
            b.click_css("[data-test='floor-status-not_ready-1001']")
                .await;
            until_row_status(b, "1001", "On Break").await;
            assert!(b.same_page().await, "the page was reloaded or left");
        },
    )
    .await
}

/// A TCP proxy in front of the server's HTTP port that the test can cut
/// (every connection dropped, new ones refused) and restore: the page's
/// network going away and coming back.
struct Cable {
    port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Cable {
    async fn to(server_port: u16) -> Cable {
        use std::sync::atomic::Ordering::SeqCst;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let up2 = up.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let mut cuts = cuts.clone();
                // Only a cut after this connection was made ends it.
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", server_port)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Cable { port, up, cut }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

browser_tests!(a_desk_whose_network_drops_reconnects_and_shows_the_true_state);
/// The page's network goes away (a proxy between the browser and the
/// server drops every connection and refuses new ones): the desk says it
/// is offline; meanwhile the agent's status changes on the server; when the
/// network is back the desk reconnects by itself and shows the status the
/// server has now, without a reload.
async fn a_desk_whose_network_drops_reconnects_and_shows_the_true_state(browser: BrowserKind) {
    let server = Arc::new(queue_server(browser, "desk_drop"));
    let cable = Cable::to(server.http_port).await;
    run_on(
        browser,
        server,
        "desk_drop",
        BrowserOptions::default(),
        |t| async move {
            flows::admin_first_sign_in(&t.browser).await;
            // From now on the page talks to the server through the cable
            // (same host, so the same session cookie).
            let mut b = t.browser.clone();
            b.base = format!("http://127.0.0.1:{}", cable.port);
            let b = &b;
            desk_login(b, "1001").await;
            b.click("btn-ready").await;
            b.wait_text("#agent-status", "Ready").await;
            b.mark_same_page().await;

            cable.cut();
            b.wait_text("#desk-link", "Offline").await;
            // While the desk is away (well within the 15 s grace): the
            // agent is put on break elsewhere.
            let (code, body) = t
                .server
                .http_post("/api/agents/1001/status?status=on_break")
                .expect("agent status");
            assert_eq!(code, 200, "{body}");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            assert_eq!(b.text("#agent-status").await, "Ready", "nothing reached it");

            cable.restore();
            b.wait_text("#desk-link", "Live").await;
            b.wait_text("#agent-status", "Not ready").await;
            assert!(b.same_page().await, "the page was reloaded or left");
        },
    )
    .await
}

browser_tests!(two_tabs_of_one_desk_show_the_same_state_and_ring_one_phone);
/// The desk open in two tabs with the browser phone: one phone registers
/// (the tab that logged in; the other tab has no credentials and a Web
/// Lock besides), both tabs follow the agent's state and the offer, only
/// one tab shows Answer, and a button pressed in either acts once.
async fn two_tabs_of_one_desk_show_the_same_state_and_ring_one_phone(browser: BrowserKind) {
    let server = queue_server(browser, "desk_tabs");
    flows::edit_extension(&server, "1001", |e| e.webrtc = true).await;
    let server = Arc::new(server);
    run_on(
        browser,
        server,
        "desk_tabs",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            flows::desk_login_with_browser_phone(b, "1001", PW).await;
            let first = b.tab().await;
            let second = b.new_tab().await;
            b.goto("/desk").await;
            b.wait_text("#desk-link", "Live").await;
            b.wait_visible("#desk-toolbar").await;
            b.wait_text("#desk-ext", "1001").await;

            // Ready pressed in the second tab: both show it.
            b.click("btn-ready").await;
            b.wait_text("#agent-status", "Ready").await;
            b.switch_tab(&first).await;
            b.wait_text("#agent-status", "Ready").await;
            let (_, regs) = t
                .server
                .http_get("/api/registrations")
                .expect("registrations");
            let regs: serde_json::Value = serde_json::from_str(&regs).expect("JSON");
            let phones = regs
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["user"] == "1001")
                .count();
            assert_eq!(phones, 1, "one phone: {regs}");

            // A caller: both tabs show the offer; the phone rings in the
            // first tab only.
            let mut caller = Ua::new("1000", PW, t.server.sip_addr()).await;
            let rtp = Rtp::bind(t.server.ports.media_port(0)).await;
            let offer = sdp(rtp.port, "sendrecv");
            let _calling = tokio::spawn(async move {
                let r = caller.invite("9400", &offer).await;
                (caller, r)
            });
            b.wait_visible("#desk-offer").await;
            b.wait_visible("#btn-answer").await;
            b.switch_tab(&second).await;
            b.wait_visible("#desk-offer").await;
            assert!(
                !b.exists("#btn-answer:not([hidden])").await,
                "the second tab has no phone ringing"
            );
            // Rejected from the first tab: the offer ends in both.
            b.switch_tab(&first).await;
            b.click("btn-reject").await;
            b.wait_hidden("#btn-answer").await;
            b.switch_tab(&second).await;
            b.wait_hidden("#desk-offer").await;
        },
    )
    .await
}
