//! Queues end to end: callers dial a queue number, wait with music on hold,
//! and the queue service (ACD) offers them to registered agents by its
//! strategy; the agents are the in-repo test UA.

use std::time::{Duration, Instant};

use crate::harness::Server;
use crate::ua::{dominant_hz, g711_decode, sdp, sdp_media, Rtp, Ua, STEP};

/// A queue "support" on number 9400 with agents 1001 and 1002.
fn queue_config(strategy: &str, extra_queue: &str, extra_agent: &str) -> String {
    format!(
        "[apps]\nqueues = {{ \"9400\" = \"support\" }}\n\n\
         [[callcenter.queues]]\nname = \"support\"\nstrategy = \"{strategy}\"\n{extra_queue}\n\
         [[callcenter.agents]]\nid = \"1001\"\ncontact = \"1001\"\n{extra_agent}\n\
         [[callcenter.agents]]\nid = \"1002\"\ncontact = \"1002\"\n{extra_agent}\n\
         [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1001\"\n\
         [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1002\"\n"
    )
}

fn set_status(server: &Server, agent: &str, status: &str) {
    let (code, body) = server
        .http_post(&format!("/api/agents/{agent}/status?status={status}"))
        .unwrap();
    assert_eq!(code, 200, "{body}");
}

/// The live queue view: `agents[]` with id, status, state.
fn agent_field(server: &Server, agent: &str, field: &str) -> String {
    let (_, body) = server.http_get("/api/queues").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["id"] == agent)
        .map(|a| a[field].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + STEP;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn ring_all_rings_every_agent_and_exactly_one_wins() {
    let server = Server::builder("queue_ring_all")
        .extensions("1000-1002", "secret")
        .config(&queue_config("ring-all", "", ""))
        .start();
    let mut agent1 = Ua::new("1001", "secret", server.sip_addr()).await;
    let mut agent2 = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(agent1.register(3600).await.status, Some(200));
    assert_eq!(agent2.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");
    set_status(&server, "1002", "available");
    // Unknown statuses are refused with a message.
    let (code, body) = server
        .http_post("/api/agents/1001/status?status=dancing")
        .unwrap();
    assert_eq!(code, 400, "{body}");

    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut dialog = dialog.unwrap();
    let a_media = sdp_media(&dialog.remote_sdp).unwrap();

    // Both agents ring at once.
    let inc1 = agent1.wait_invite(STEP).await.expect("agent 1001 rings");
    let inc2 = agent2.wait_invite(STEP).await.expect("agent 1002 rings");
    // Meanwhile the caller hears music on hold.
    a_rtp.clear_payloads();
    let moh = g711_decode(0, &a_rtp.wait_payload(0, 3200, STEP).await);
    assert!(moh.len() >= 3200, "{} samples of music", moh.len());
    assert!(
        media::audio::level_dbov(&moh) > -45.0,
        "music on hold is audible"
    );

    // 1001 answers; 1002 is cancelled.
    let mut b_dialog = agent1.answer(&inc1, &sdp(b_rtp.port, "sendrecv")).await;
    agent2.expect_cancel(&inc2).await;
    let b_media = sdp_media(&b_dialog.remote_sdp).unwrap();
    a_rtp.clear_payloads();
    b_rtp.clear_payloads();
    tokio::join!(
        a_rtp.send_tone(a_media, 0, 600.0, 800, 1),
        b_rtp.send_tone(b_media, 0, 1100.0, 800, 2)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let at_a = g711_decode(0, &a_rtp.payload_bytes(0));
    let at_b = g711_decode(0, &b_rtp.payload_bytes(0));
    assert!(
        (dominant_hz(&at_a, 8000.0) - 1100.0).abs() <= 6.0,
        "caller hears the agent"
    );
    assert!(
        (dominant_hz(&at_b, 8000.0) - 600.0).abs() <= 6.0,
        "agent hears the caller"
    );
    assert_eq!(agent_field(&server, "1001", "state"), "In a queue call");
    assert_eq!(agent_field(&server, "1002", "state"), "Waiting");

    // The agent hangs up: the caller is told goodbye and released; the agent
    // is in wrap-up (not offered at once).
    assert_eq!(agent1.bye(&mut b_dialog).await.status, Some(200));
    caller.expect_request("BYE", &dialog.call_id, "").await;
    wait_for("agent 1001 back to Waiting", || {
        agent_field(&server, "1001", "state") == "Waiting"
    })
    .await;
    let _ = &mut dialog;
    // Counted: one caller, two offers (ring-all), one answer, latencies observed.
    assert_eq!(server.metric("switchboard_queue_joined_total", ""), 1.0);
    assert_eq!(server.metric("switchboard_queue_offers_total", ""), 2.0);
    assert_eq!(server.metric("switchboard_queue_answered_total", ""), 1.0);
    assert_eq!(server.metric("switchboard_queue_abandoned_total", ""), 0.0);
    assert_eq!(
        server.metric("switchboard_queue_offer_latency_seconds_count", ""),
        2.0
    );
    let log = server.log();
    assert!(
        log.contains("served in queue support by agent 1001"),
        "{}",
        server.log_tail(30)
    );

    // The queue records are in the database, linked to the caller's Call-ID.
    let store = server.store().await;
    let deadline = Instant::now() + STEP;
    let kinds = loop {
        let events = store.queue_events_for_call(&dialog.call_id).await.unwrap();
        let kinds: Vec<String> = events.iter().map(|e| e.kind.clone()).collect();
        if kinds.iter().any(|k| k == "ended") || Instant::now() > deadline {
            break kinds;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for want in ["joined", "offered", "answered", "ended"] {
        assert!(
            kinds.iter().any(|k| k == want),
            "no {want} record: {kinds:?}"
        );
    }
    assert_eq!(
        kinds.iter().filter(|k| *k == "offered").count(),
        2,
        "{kinds:?}"
    );
}

#[tokio::test]
async fn agent_status_survives_a_restart() {
    let mut server = Server::builder("queue_restart")
        .extensions("1000-1002", "secret")
        .config(&queue_config("ring-all", "", ""))
        .start();
    set_status(&server, "1001", "on_break");
    set_status(&server, "1002", "available");
    assert_eq!(agent_field(&server, "1001", "status"), "On Break");
    server.stop();
    server.restart();
    assert_eq!(agent_field(&server, "1001", "status"), "On Break");
    assert_eq!(agent_field(&server, "1002", "status"), "Available");
}

#[tokio::test]
async fn an_agent_who_never_answers_is_penalised_and_put_on_break() {
    let server = Server::builder("queue_no_answer")
        .extensions("1000-1002", "secret")
        .config(&queue_config(
            "longest-idle-agent",
            "ring-timeout = 2\n",
            "max-no-answer = 1\nno-answer-delay-time = 1\n",
        ))
        .start();
    let mut agent1 = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(agent1.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");

    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut dialog = dialog.unwrap();
    // The agent rings and never answers: after the ring timeout the offer is
    // cancelled, and with max-no-answer = 1 the agent goes On Break.
    let inc = agent1.wait_invite(STEP).await.expect("agent rings");
    agent1.expect_cancel(&inc).await;
    wait_for("agent 1001 on break", || {
        agent_field(&server, "1001", "status") == "On Break"
    })
    .await;
    // The caller still waits; hanging up leaves the queue cleanly.
    assert_eq!(caller.bye(&mut dialog).await.status, Some(200));
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(
        (cdr.callee.as_str(), cdr.hangup_by.as_str()),
        ("9400", "caller")
    );
}

#[tokio::test]
async fn a_sipp_caller_presses_1_in_the_ivr_over_rfc4733_and_reaches_the_queue_agent() {
    let config = format!(
        "{}\n[[callcenter.ivr]]\nid = \"main\"\ngreet_long = \"welcome\"\ninvalid_sound = \"invalid\"\n\n\
         [[callcenter.ivr.entries]]\ndigits = \"1\"\ntype = \"app\"\nname = \"queue\"\narg = \"support\"\n\n\
         [[callcenter.ivr.entries]]\ndigits = \"2\"\ntype = \"extension\"\nnumber = \"1002\"\n",
        queue_config("longest-idle-agent", "", "")
    )
    .replace("[apps]\n", "[apps]\nivr = { \"9500\" = \"main\" }\n");
    let server = Server::builder("ivr_to_queue")
        .extensions("1000-1002", "secret")
        .config(&config)
        .start();
    let mut agent = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");
    let b_rtp = Rtp::bind(server.ports.media_port(0)).await;
    // SIPp plays the RFC 4733 captures of 1, 5 and 9 after the answer: "1"
    // (typed over the greeting) picks the queue, the rest are keys in the queue.
    let uac = crate::sipp::Sipp::new("uac-ivr-queue", "uac_dtmf_pcap")
        .remote(server.sip_addr())
        .users(&[("1000", "secret")])
        .service("9500")
        .media("127.0.0.1", server.ports.media_port(1))
        .pause_ms(5000)
        .spawn();
    let inc = agent
        .wait_invite(STEP)
        .await
        .expect("the queue's agent rings");
    let b_dialog = agent.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await;
    assert_eq!(agent_field(&server, "1001", "state"), "In a queue call");
    // SIPp hangs up after its pause; the agent's leg is hung up too.
    agent.expect_request("BYE", &b_dialog.call_id, "").await;
    uac.wait().await.assert_success(1);
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.callee, "9500", "{cdr:?}");
    assert_eq!(server.metric("switchboard_dtmf_digits_total", ""), 3.0);
}

#[test]
fn an_ivr_entry_to_a_missing_extension_is_refused_at_start_naming_menu_and_entry() {
    let config = "[apps]\nivr = { \"9500\" = \"main\" }\n\n\
         [[callcenter.ivr]]\nid = \"main\"\ngreet_long = \"welcome\"\n\n\
         [[callcenter.ivr.entries]]\ndigits = \"3\"\ntype = \"extension\"\nnumber = \"4444\"\n";
    let server = Server::builder("ivr_refused")
        .extensions("1000", "secret")
        .config(config);
    let out = server.check_config();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("'main'") && text.contains("'3'") && text.contains("4444"),
        "{text}"
    );
}

#[tokio::test]
async fn after_the_agent_hangs_up_the_caller_rates_the_call_and_the_score_is_stored() {
    let server = Server::builder("queue_survey")
        .extensions("1000-1002", "secret")
        .config(&queue_config("longest-idle-agent", "survey = true\n", ""))
        .start();
    let mut agent = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut dialog = dialog.unwrap();
    let inc = agent.wait_invite(STEP).await.expect("agent rings");
    let mut b_dialog = agent.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(agent.bye(&mut b_dialog).await.status, Some(200));
    // The survey prompt plays; the caller presses 2 (neutral).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = caller
        .info(
            &mut dialog,
            "application/dtmf-relay",
            "Signal=2\r\nDuration=100\r\n",
        )
        .await;
    assert_eq!(r.status, Some(200), "{}", r.raw);
    caller.expect_request("BYE", &dialog.call_id, "").await;
    let store = server.store().await;
    let surveys = store.surveys_for_call(&dialog.call_id).await.unwrap();
    assert_eq!(surveys.len(), 1, "{surveys:?}");
    assert_eq!(surveys[0].score, 2);
    assert_eq!(surveys[0].agent.as_deref(), Some("1001"));
    assert_eq!(surveys[0].queue.as_deref(), Some("support"));
}

#[tokio::test]
async fn an_agent_logs_in_at_an_extension_gets_auto_answer_offers_is_announced_and_ends_wrap_up() {
    let server = Server::builder("queue_agent_ops")
        .extensions("1000-1002", "secret")
        .config(&queue_config(
            "longest-idle-agent",
            "announce-agent = true\n",
            "auto-answer = true\nwrap-up-time = 30\n",
        ))
        .start();
    // A wrong password is refused; the right one logs agent 1001 in at 1002.
    let (code, body) = server
        .http_post("/api/agents/1001/login?extension=1002&password=nope")
        .unwrap();
    assert_eq!(code, 403, "{body}");
    let (code, body) = server
        .http_post("/api/agents/1001/login?extension=1002&password=secret")
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let mut desk = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(desk.register(3600).await.status, Some(200));
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;

    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let _dialog = dialog.unwrap();
    let a_media = sdp_media(&_dialog.remote_sdp).unwrap();
    // The offer rings the extension the agent logged in at, asking it to
    // answer by itself.
    let inc = desk
        .wait_invite(STEP)
        .await
        .expect("the agent's desk phone rings");
    let call_info = inc
        .invite
        .header("Call-Info")
        .unwrap_or_default()
        .to_string();
    assert!(call_info.contains("answer-after=0"), "{}", inc.invite.raw);
    let mut b_dialog = desk.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await;
    let b_media = sdp_media(&b_dialog.remote_sdp).unwrap();
    // First the caller hears who answers (speech), not the agent.
    a_rtp.clear_payloads();
    b_rtp.send_tone(b_media, 0, 1100.0, 600, 5).await;
    let intro = g711_decode(0, &a_rtp.wait_payload(0, 3200, STEP).await);
    assert!(
        media::audio::level_dbov(&intro) > -45.0,
        "the announcement is audible"
    );
    assert!(
        (dominant_hz(&intro, 8000.0) - 1100.0).abs() > 20.0,
        "the caller hears the announcement, not the agent yet"
    );
    // Then they talk.
    let deadline = Instant::now() + STEP;
    let mut round = 0;
    loop {
        round += 1;
        a_rtp.clear_payloads();
        tokio::join!(
            b_rtp.send_tone(b_media, 0, 1100.0, 500, 10 + round),
            a_rtp.send_tone(a_media, 0, 600.0, 500, 20 + round)
        );
        let heard = g711_decode(0, &a_rtp.wait_payload(0, 2000, STEP).await);
        if (dominant_hz(&heard, 8000.0) - 1100.0).abs() <= 6.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the caller never got to the agent"
        );
    }
    // The agent hangs up and is in wrap-up (30 s): a new caller waits ...
    assert_eq!(desk.bye(&mut b_dialog).await.status, Some(200));
    let mut caller2 = Ua::new("1000", "secret", server.sip_addr()).await;
    let c_rtp = Rtp::bind(server.ports.media_port(2)).await;
    let offer2 = sdp(c_rtp.port, "sendrecv");
    let (resp2, _) = caller2.invite("9400", &offer2).await;
    assert_eq!(resp2.status, Some(200), "{}", resp2.raw);
    assert!(
        desk.recv_where(Duration::from_millis(1500), |m| m.method.as_deref()
            == Some("INVITE"))
            .await
            .is_none(),
        "offered during wrap-up"
    );
    // ... until the agent says the after-call work is done.
    let (code, body) = server.http_post("/api/agents/1001/wrapup_done").unwrap();
    assert_eq!(code, 200, "{body}");
    desk.wait_invite(STEP)
        .await
        .expect("offered once wrap-up is done");
}

#[tokio::test]
async fn a_caller_hanging_up_while_the_agent_rings_ends_cleanly_with_records_and_no_leaks() {
    let server = Server::builder("queue_hangup_ringing")
        .extensions("1000-1002", "secret")
        .config(&queue_config("ring-all", "", ""))
        .start();
    let mut agent = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut dialog = dialog.unwrap();
    let inc = agent.wait_invite(STEP).await.expect("agent rings");
    // The caller gives up while the agent's phone rings.
    assert_eq!(caller.bye(&mut dialog).await.status, Some(200));
    agent.expect_cancel(&inc).await;
    wait_for("agent back to Waiting", || {
        agent_field(&server, "1001", "state") == "Waiting"
    })
    .await;
    // One CDR, an "abandoned" record with the reason, and every port back.
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(
        (cdr.callee.as_str(), cdr.hangup_by.as_str()),
        ("9400", "caller")
    );
    let store = server.store().await;
    let deadline = Instant::now() + STEP;
    loop {
        let events = store.queue_events_for_call(&dialog.call_id).await.unwrap();
        let abandoned = events.iter().find(|e| e.kind == "abandoned");
        if let Some(e) = abandoned {
            assert_eq!(e.reason.as_deref(), Some("BREAK_OUT"), "{events:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no abandoned record: {events:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for("all media ports released", || {
        server.metric("switchboard_rtp_ports_in_use", "") == 0.0
    })
    .await;
    assert_eq!(server.metric("switchboard_active_calls", ""), 0.0);
    assert_eq!(server.metric("switchboard_queue_abandoned_total", ""), 1.0);
}

#[tokio::test]
async fn the_agent_blind_transfers_the_caller_with_refer_and_the_caller_talks_to_the_target() {
    let server = Server::builder("queue_refer")
        .extensions("1000-1002", "secret")
        .config(&queue_config(
            "longest-idle-agent",
            "",
            "wrap-up-time = 0\n",
        ))
        .start();
    let mut agent = Ua::new("1001", "secret", server.sip_addr()).await;
    let mut target = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    assert_eq!(target.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let t_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let dialog = dialog.unwrap();
    let a_media = sdp_media(&dialog.remote_sdp).unwrap();
    let inc = agent.wait_invite(STEP).await.expect("agent rings");
    let b_rtp_port = server.ports.media_port(2);
    let mut b_dialog = agent.answer(&inc, &sdp(b_rtp_port, "sendrecv")).await;

    // The agent transfers the caller to 1002: 202 and a NOTIFY saying 100
    // Trying; the target rings; once it answers, the agent hears 200 (RFC
    // 3515 sipfrag) and its leg is released.
    let host = server.sip_addr().ip();
    let r = agent
        .refer(&mut b_dialog, &format!("sip:1002@{host}"))
        .await;
    assert_eq!(r.status, Some(202), "{}", r.raw);
    let notify = agent.expect_request("NOTIFY", &b_dialog.call_id, "").await;
    assert!(notify.body.contains("SIP/2.0 100"), "{}", notify.raw);
    let inc = target
        .wait_invite(STEP)
        .await
        .expect("the transfer target rings");
    let mut t_dialog = target.answer(&inc, &sdp(t_rtp.port, "sendrecv")).await;
    let notify = agent
        .recv_where(STEP, |m| {
            m.method.as_deref() == Some("NOTIFY") && m.body.contains("SIP/2.0 200")
        })
        .await
        .expect("a NOTIFY with the target's 200");
    assert!(
        notify
            .header("Subscription-State")
            .is_some_and(|v| v.starts_with("terminated")),
        "{}",
        notify.raw
    );
    agent.respond(&notify, 200, "OK", None, "").await;
    agent.expect_request("BYE", &b_dialog.call_id, "").await;

    // The caller talks to the target.
    let t_media = sdp_media(&t_dialog.remote_sdp).unwrap();
    a_rtp.clear_payloads();
    tokio::join!(
        a_rtp.send_tone(a_media, 0, 600.0, 800, 7),
        t_rtp.send_tone(t_media, 0, 1300.0, 800, 8)
    );
    let at_a = g711_decode(0, &a_rtp.wait_payload(0, 3200, STEP).await);
    let at_t = g711_decode(0, &t_rtp.wait_payload(0, 3200, STEP).await);
    assert!(
        (dominant_hz(&at_a, 8000.0) - 1300.0).abs() <= 6.0,
        "caller hears the target"
    );
    assert!(
        (dominant_hz(&at_t, 8000.0) - 600.0).abs() <= 6.0,
        "target hears the caller"
    );
    // The agent is free again; the target hangs up and the caller is released.
    wait_for("agent 1001 back to Waiting", || {
        agent_field(&server, "1001", "state") == "Waiting"
    })
    .await;
    assert_eq!(target.bye(&mut t_dialog).await.status, Some(200));
    caller.expect_request("BYE", &dialog.call_id, "").await;
}

#[tokio::test]
async fn the_agent_sends_the_caller_to_the_survey() {
    let server = Server::builder("queue_send_survey")
        .extensions("1000-1002", "secret")
        .config(&queue_config("longest-idle-agent", "", ""))
        .start();
    let mut agent = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut dialog = dialog.unwrap();
    let inc = agent.wait_invite(STEP).await.expect("agent rings");
    let b_dialog = agent
        .answer(&inc, &sdp(server.ports.media_port(1), "sendrecv"))
        .await;
    let id = server.live_call_id("app", "queue");
    let (code, body) = server
        .http_post(&format!("/api/calls/{id}/survey"))
        .unwrap();
    assert_eq!(code, 200, "{body}");
    // The agent's leg ends; the caller is asked and presses 3.
    agent.expect_request("BYE", &b_dialog.call_id, "").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = caller
        .info(
            &mut dialog,
            "application/dtmf-relay",
            "Signal=3\r\nDuration=100\r\n",
        )
        .await;
    assert_eq!(r.status, Some(200), "{}", r.raw);
    caller.expect_request("BYE", &dialog.call_id, "").await;
    let surveys = server
        .store()
        .await
        .surveys_for_call(&dialog.call_id)
        .await
        .unwrap();
    assert_eq!(surveys.len(), 1, "{surveys:?}");
    assert_eq!(
        (surveys[0].score, surveys[0].agent.as_deref()),
        (3, Some("1001"))
    );
}

#[tokio::test]
async fn extension_types_and_flags_route_record_and_auto_answer() {
    let dir = crate::harness::artifacts()
        .join("recordings")
        .join(format!("flags-{}", std::process::id()));
    let server = Server::builder("extension_flags")
        .extensions("1000", "secret")
        .config(&format!(
            "{}\n[recording]\ndir = \"{}\"\n",
            queue_config("longest-idle-agent", "", ""),
            dir.display()
        ))
        .start();
    for args in [
        &[
            "extension",
            "add",
            "1001",
            "--password",
            "secret",
            "--record",
            "--auto-answer",
            "all",
        ][..],
        &[
            "extension",
            "add",
            "1002",
            "--password",
            "secret",
            "--announce-agent-id",
            "--record",
        ][..],
        &[
            "extension",
            "add",
            "300",
            "--password",
            "unused1",
            "--type",
            "queue",
            "--target",
            "support",
        ][..],
        &[
            "extension",
            "add",
            "301",
            "--password",
            "unused2",
            "--type",
            "fax",
        ][..],
    ] {
        let out = server.cli(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if args.contains(&"fax") {
            assert!(
                !out.status.success() && text.contains("type must be"),
                "{text}"
            );
        } else {
            assert!(out.status.success(), "{text}");
        }
    }
    let out = server.cli(&["extension", "list"]);
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(list.contains("queue:support"), "{list}");
    assert!(list.contains("record,auto-answer=all"), "{list}");
    // 1001: auto-answer requested, and the call is recorded. The running
    // server picks new extensions up by itself (about a second).
    let mut phone = Ua::new("1001", "secret", server.sip_addr()).await;
    let deadline = Instant::now() + STEP;
    while phone.register(3600).await.status != Some(200) {
        assert!(Instant::now() < deadline, "1001 never became known");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let offer = sdp(a_rtp.port, "sendrecv");
    let ((resp, dialog), ()) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = phone.wait_invite(STEP).await.expect("1001 rings");
        let call_info = inc
            .invite
            .header("Call-Info")
            .unwrap_or_default()
            .to_string();
        assert!(call_info.contains("answer-after=0"), "{}", inc.invite.raw);
        phone
            .answer(&inc, &sdp(server.ports.media_port(1), "sendrecv"))
            .await;
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut dialog = dialog.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(caller.bye(&mut dialog).await.status, Some(200));
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert!(
        cdr.recording_path.is_some(),
        "recorded because of 1001's flag: {cdr:?}"
    );

    // 300 is a queue extension: its callers wait in "support".
    let mut agent = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    set_status(&server, "1002", "available");
    let q_rtp = Rtp::bind(server.ports.media_port(2)).await;
    let (resp, q_dialog) = caller.invite("300", &sdp(q_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "the queue answers: {}", resp.raw);
    let inc = agent
        .wait_invite(STEP)
        .await
        .expect("the queue's agent rings");
    // 1002's announce-agent-id flag: the caller first hears who answers,
    // although the queue itself does not announce.
    let b_rtp = Rtp::bind(server.ports.media_port(3)).await;
    let b_dialog = agent.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await;
    let b_media = sdp_media(&b_dialog.remote_sdp).unwrap();
    q_rtp.clear_payloads();
    b_rtp.send_tone(b_media, 0, 1100.0, 600, 5).await;
    let intro = g711_decode(0, &q_rtp.wait_payload(0, 3200, STEP).await);
    assert!(
        media::audio::level_dbov(&intro) > -45.0,
        "the announcement is audible"
    );
    assert!(
        (dominant_hz(&intro, 8000.0) - 1100.0).abs() > 20.0,
        "the caller hears the announcement, not the agent yet"
    );
    let mut q_dialog = q_dialog.unwrap();
    assert_eq!(caller.bye(&mut q_dialog).await.status, Some(200));
    // ... and 1002's record flag records the queue call.
    let cdrs = server.wait_cdrs(2).await;
    let queued = cdrs.iter().find(|c| c.callee == "300").expect("queue CDR");
    assert!(queued.recording_path.is_some(), "{queued:?}");
}

#[tokio::test]
async fn reloading_a_queue_keeps_its_waiting_caller_who_gets_the_new_settings() {
    let server = Server::builder("queue_reload")
        .extensions("1000-1002", "secret")
        .config(&queue_config("longest-idle-agent", "", ""))
        .start();
    // No agent is available: the caller waits.
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let dialog = dialog.unwrap();
    a_rtp.wait_payload(0, 1600, STEP).await;
    // The waiting-callers page (its live part) lists the caller in its queue.
    let web = crate::web_client::Browser::admin(&server);
    let deadline = Instant::now() + STEP;
    loop {
        let (code, page) = web.get("/records/waiting?fragment=1");
        assert_eq!(code, 200, "{page}");
        if page.contains("data-test=\"waiting-caller\">1000<") {
            assert!(page.contains("data-queue=\"support\""), "{page}");
            assert!(
                page.contains("id=\"waiting-count\" data-test=\"waiting-count\">1<"),
                "{page}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the caller is not listed: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Bad settings are refused with the field at fault, and change nothing.
    let (code, body) = server
        .http_put_json("/api/queues/support", r#"{"strategy": "loudest-agent"}"#)
        .unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("loudest-agent"), "{body}");
    let (code, body) = server
        .http_put_json("/api/queues/support", r#"{"name": "sales"}"#)
        .unwrap();
    assert_eq!(
        (code, body.contains("\"field\":\"name\"")),
        (400, true),
        "{body}"
    );
    // Reload with a 2 s max wait: the caller already waiting is not dropped
    // by the reload, and leaves with TIMEOUT under the new setting.
    let (code, body) = server
        .http_put_json("/api/queues/support", r#"{"max-wait-time": 2}"#)
        .unwrap();
    assert_eq!(code, 200, "{body}");
    caller.expect_request("BYE", &dialog.call_id, "").await;
    let store = server.store().await;
    let deadline = Instant::now() + STEP;
    loop {
        let events = store.queue_events_for_call(&dialog.call_id).await.unwrap();
        if let Some(e) = events.iter().find(|e| e.kind == "abandoned") {
            assert_eq!(e.reason.as_deref(), Some("TIMEOUT"), "{events:?}");
            assert_eq!(events.iter().filter(|e| e.kind == "joined").count(), 1);
            break;
        }
        assert!(Instant::now() < deadline, "no abandoned record: {events:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_agent_consults_a_colleague_then_transfers_the_caller_with_refer_replaces() {
    let server = Server::builder("queue_attended")
        .extensions("1000-1002", "secret")
        .config(&queue_config(
            "longest-idle-agent",
            "",
            "wrap-up-time = 0\n",
        ))
        .start();
    let mut agent = Ua::new("1001", "secret", server.sip_addr()).await;
    let mut colleague = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    assert_eq!(colleague.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let c_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let dialog = dialog.unwrap();
    let a_media = sdp_media(&dialog.remote_sdp).unwrap();
    let inc = agent.wait_invite(STEP).await.expect("agent rings");
    let mut leg1 = agent
        .answer(&inc, &sdp(server.ports.media_port(2), "sendrecv"))
        .await;

    // The agent consults 1002 on a second call ...
    let consult_offer = sdp(server.ports.media_port(3), "sendrecv");
    let ((r2, leg2), c_dialog) = tokio::join!(agent.invite("1002", &consult_offer), async {
        let inc = colleague
            .wait_invite(STEP)
            .await
            .expect("the colleague rings");
        colleague.answer(&inc, &sdp(c_rtp.port, "sendrecv")).await
    });
    assert_eq!(r2.status, Some(200), "{}", r2.raw);
    let leg2 = leg2.unwrap();
    let c_media = sdp_media(&c_dialog.remote_sdp).unwrap();
    // ... then transfers the caller to it: REFER with Replaces of leg 2.
    let host = server.sip_addr().ip();
    let target = format!(
        "sip:1002@{host}?Replaces={}%3Bto-tag%3Dx%3Bfrom-tag%3Dy",
        leg2.call_id
    );
    let r = agent.refer(&mut leg1, &target).await;
    assert_eq!(r.status, Some(202), "{}", r.raw);
    let trying = agent.expect_request("NOTIFY", &leg1.call_id, "").await;
    assert!(trying.body.contains("SIP/2.0 100"), "{}", trying.raw);
    let done = agent.expect_request("NOTIFY", &leg1.call_id, "").await;
    assert!(done.body.contains("SIP/2.0 200"), "{}", done.raw);
    agent.expect_request("BYE", &leg1.call_id, "").await;
    agent.expect_request("BYE", &leg2.call_id, "").await;

    // The caller and the colleague now talk.
    let deadline = Instant::now() + STEP;
    let mut round = 0;
    loop {
        round += 1;
        a_rtp.clear_payloads();
        c_rtp.clear_payloads();
        tokio::join!(
            a_rtp.send_tone(a_media, 0, 650.0, 600, 50 + round),
            c_rtp.send_tone(c_media, 0, 1350.0, 600, 60 + round)
        );
        let at_a = g711_decode(0, &a_rtp.wait_payload(0, 2400, STEP).await);
        let at_c = g711_decode(0, &c_rtp.wait_payload(0, 2400, STEP).await);
        if (dominant_hz(&at_a, 8000.0) - 1350.0).abs() <= 6.0
            && (dominant_hz(&at_c, 8000.0) - 650.0).abs() <= 6.0
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "caller and colleague never talked"
        );
    }
    wait_for("the agent free again", || {
        agent_field(&server, "1001", "state") == "Waiting"
    })
    .await;
    // The colleague hangs up: the caller's call ends too.
    let mut c_dialog = c_dialog;
    assert_eq!(colleague.bye(&mut c_dialog).await.status, Some(200));
    caller.expect_request("BYE", &dialog.call_id, "").await;
}

/// True if `hz` is within 20 dB of the strongest of `all` in `pcm`.
fn has_tone(pcm: &[i16], hz: f32, all: &[f32]) -> bool {
    let p = |f: f32| crate::ua::tone_power(pcm, 8000.0, f);
    let best = all.iter().map(|&f| p(f)).fold(0.0, f64::max);
    best > 0.0 && p(hz) * 100.0 > best
}

#[tokio::test]
async fn three_way_puts_the_caller_the_agent_and_a_colleague_in_one_call() {
    let server = Server::builder("queue_three_way")
        .extensions("1000-1002", "secret")
        .config(&queue_config("longest-idle-agent", "", ""))
        .start();
    let mut agent = Ua::new("1001", "secret", server.sip_addr()).await;
    let mut colleague = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    assert_eq!(colleague.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let c_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let g_rtp = Rtp::bind(server.ports.media_port(2)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let a_media = sdp_media(&dialog.unwrap().remote_sdp).unwrap();
    let inc = agent.wait_invite(STEP).await.expect("agent rings");
    let leg1 = agent.answer(&inc, &sdp(g_rtp.port, "sendrecv")).await;
    let g_media = sdp_media(&leg1.remote_sdp).unwrap();
    let consult_offer = sdp(server.ports.media_port(3), "sendrecv");
    let ((r2, _leg2), c_dialog) = tokio::join!(agent.invite("1002", &consult_offer), async {
        let inc = colleague
            .wait_invite(STEP)
            .await
            .expect("the colleague rings");
        colleague.answer(&inc, &sdp(c_rtp.port, "sendrecv")).await
    });
    assert_eq!(r2.status, Some(200), "{}", r2.raw);
    let c_media = sdp_media(&c_dialog.remote_sdp).unwrap();
    let calls: serde_json::Value = serde_json::from_str(&server.api_calls()).unwrap();
    let find = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        calls
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| pred(c))
            .and_then(|c| c["id"].as_u64())
            .expect("the call")
    };
    let queue_call = find(&|c| c["app"] == "queue");
    let consult = find(&|c| c["caller"] == "1001" && c["callee"] == "1002");
    let (code, body) = server
        .http_post(&format!("/api/calls/{queue_call}/three_way?with={consult}"))
        .unwrap();
    assert_eq!(code, 200, "{body}");
    // Everyone hears the two others.
    let tones = [500.0f32, 1000.0, 1500.0];
    let deadline = Instant::now() + STEP;
    let mut round = 0;
    loop {
        round += 1;
        for r in [&a_rtp, &g_rtp, &c_rtp] {
            r.clear_payloads();
        }
        tokio::join!(
            a_rtp.send_tone(a_media, 0, tones[0], 800, 70 + round),
            g_rtp.send_tone(g_media, 0, tones[1], 800, 80 + round),
            c_rtp.send_tone(c_media, 0, tones[2], 800, 90 + round)
        );
        let heard: Vec<Vec<i16>> = [&a_rtp, &g_rtp, &c_rtp]
            .iter()
            .map(|r| g711_decode(0, &r.payload_bytes(0)))
            .collect();
        let ok = (0..3).all(|i| {
            (0..3)
                .filter(|&j| j != i)
                .all(|j| has_tone(&heard[i], tones[j], &tones))
        });
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the three never all heard each other"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_queue_with_a_record_template_records_the_call_with_the_agent() {
    let dir = crate::harness::artifacts()
        .join("recordings")
        .join(format!("queue-{}", std::process::id()));
    let server = Server::builder("queue_record")
        .extensions("1000-1002", "secret")
        .config(&format!(
            "{}\n[recording]\ndir = \"{}\"\n",
            queue_config(
                "longest-idle-agent",
                "record-template = \"support_${caller}_${call_id}.wav\"\nmoh-sound = \"queue_wait\"\n",
                ""
            ),
            dir.display()
        ))
        .start();
    let mut agent = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut dialog = dialog.unwrap();
    // While waiting, the queue's own music (here a prompt) plays.
    let waiting = g711_decode(0, &a_rtp.wait_payload(0, 1600, STEP).await);
    assert!(
        media::audio::level_dbov(&waiting) > -45.0,
        "the queue's music is audible"
    );
    let inc = agent.wait_invite(STEP).await.expect("agent rings");
    let _b = agent
        .answer(&inc, &sdp(server.ports.media_port(1), "sendrecv"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(caller.bye(&mut dialog).await.status, Some(200));
    let cdr = server.wait_cdrs(1).await.remove(0);
    let path = cdr.recording_path.expect("the queue call is recorded");
    assert!(
        path.contains("support_1000_"),
        "named by the queue's template: {path}"
    );
}

#[tokio::test]
async fn two_agents_answering_a_ring_all_offer_at_once_one_wins_and_the_other_is_released() {
    let server = Server::builder("queue_race")
        .extensions("1000-1002", "secret")
        .config(&queue_config("ring-all", "", ""))
        .start();
    let mut agent1 = Ua::new("1001", "secret", server.sip_addr()).await;
    let mut agent2 = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(agent1.register(3600).await.status, Some(200));
    assert_eq!(agent2.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");
    set_status(&server, "1002", "available");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let (resp, _dialog) = caller
        .invite("9400", &sdp(server.ports.media_port(0), "sendrecv"))
        .await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let inc1 = agent1.wait_invite(STEP).await.expect("agent 1001 rings");
    let inc2 = agent2.wait_invite(STEP).await.expect("agent 1002 rings");
    // Both answer at the same instant.
    let offer1 = sdp(server.ports.media_port(1), "sendrecv");
    let offer2 = sdp(server.ports.media_port(2), "sendrecv");
    let (d1, d2) = tokio::join!(agent1.answer(&inc1, &offer1), agent2.answer(&inc2, &offer2));
    // Exactly one is in the call; the other's answer is hung up at once.
    let deadline = Instant::now() + STEP;
    let (winner, loser) = loop {
        let s1 = agent_field(&server, "1001", "state");
        let s2 = agent_field(&server, "1002", "state");
        match (s1.as_str(), s2.as_str()) {
            ("In a queue call", "Waiting") => break ((agent1, d1), (agent2, d2)),
            ("Waiting", "In a queue call") => break ((agent2, d2), (agent1, d1)),
            _ => {}
        }
        assert!(Instant::now() < deadline, "states {s1} / {s2}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (mut loser_ua, loser_dialog) = loser;
    loser_ua
        .expect_request("BYE", &loser_dialog.call_id, "")
        .await;
    let (_winner_ua, _) = winner;
    assert_eq!(server.metric("switchboard_queue_answered_total", ""), 1.0);
}

#[tokio::test]
async fn stopping_the_server_with_a_caller_in_the_queue_loses_no_record() {
    let mut server = Server::builder("queue_shutdown")
        .extensions("1000-1002", "secret")
        .config(&queue_config("longest-idle-agent", "", ""))
        .start();
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let dialog = dialog.unwrap();
    a_rtp.wait_payload(0, 800, STEP).await;
    // SIGTERM: the caller gets BYE, and the CDR and the queue record are
    // written before the process exits.
    let status = tokio::join!(
        async { server.stop() },
        caller.expect_request("BYE", &dialog.call_id, "")
    )
    .0;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    server.restart();
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.hangup_cause, "SYSTEM_SHUTDOWN", "{cdr:?}");
    let events = server
        .store()
        .await
        .queue_events_for_call(&dialog.call_id)
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"joined") && kinds.contains(&"abandoned"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn the_desk_dials_out_through_the_agents_phone() {
    let server = std::sync::Arc::new(
        Server::builder("click_to_dial")
            .extensions("1000-1002", "secret")
            .config(&queue_config("longest-idle-agent", "", ""))
            .start(),
    );
    let mut phone = Ua::new("1001", "secret", server.sip_addr()).await;
    let mut target = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(phone.register(3600).await.status, Some(200));
    // An agent with no registered phone cannot dial.
    let s = server.clone();
    let (code, body) = tokio::task::spawn_blocking(move || {
        s.http_post("/api/agents/1002/dial?number=1000&mode=refer")
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code, 409, "{body}");
    assert_eq!(target.register(3600).await.status, Some(200));
    // The desk asks the engine to dial 1002 for agent 1001.
    let s = server.clone();
    let request = tokio::task::spawn_blocking(move || {
        s.http_post("/api/agents/1001/dial?number=1002&mode=refer")
            .unwrap()
    });
    // The agent's phone gets a REFER to 1002, accepts it and places the call.
    let refer = phone
        .recv_where(STEP, |m| m.method.as_deref() == Some("REFER"))
        .await
        .expect("the phone is asked to call");
    assert!(
        refer
            .header("Refer-To")
            .unwrap_or_default()
            .contains("sip:1002@"),
        "{}",
        refer.raw
    );
    phone
        .respond(&refer, 202, "Accepted", Some("deskref"), "")
        .await;
    let (code, body) = request.await.unwrap();
    assert_eq!(code, 200, "{body}");
    let offer = sdp(server.ports.media_port(0), "sendrecv");
    let ((resp, _d), ()) = tokio::join!(phone.invite("1002", &offer), async {
        let inc = target.wait_invite(STEP).await.expect("the number rings");
        target
            .answer(&inc, &sdp(server.ports.media_port(1), "sendrecv"))
            .await;
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
}

#[tokio::test]
async fn the_desk_dials_out_by_ringing_the_agent_then_the_number() {
    let server = std::sync::Arc::new(
        Server::builder("originate")
            .extensions("1000-1002", "secret")
            .config(&queue_config("longest-idle-agent", "", ""))
            .start(),
    );
    let post = |path: &'static str| {
        let s = server.clone();
        tokio::task::spawn_blocking(move || s.http_post(path).unwrap())
    };
    let mut phone = Ua::new("1001", "secret", server.sip_addr()).await;
    let mut target = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(phone.register(3600).await.status, Some(200));
    assert_eq!(target.register(3600).await.status, Some(200));
    // Refused before any phone rings: not a number, an unknown one.
    let (code, body) = post("/api/agents/1001/dial?number=12ab").await.unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("not a number"), "{body}");
    let (code, body) = post("/api/agents/1001/dial?number=4321").await.unwrap();
    assert_eq!(code, 400, "{body}");

    // The agent's phone rings first, asked to answer by itself, showing the number.
    let request = post("/api/agents/1001/dial?number=1002");
    let inc = phone
        .wait_invite(STEP)
        .await
        .expect("the agent's phone rings");
    let info = inc.invite.header("Call-Info").unwrap_or_default();
    assert!(info.contains("answer-after=0"), "{}", inc.invite.raw);
    assert!(
        inc.invite
            .header("From")
            .unwrap_or_default()
            .contains("1002"),
        "{}",
        inc.invite.raw
    );
    let engine_a = sdp_media(&inc.invite.body).expect("our offer to the phone");
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let mut a_dialog = phone.answer(&inc, &sdp(a_rtp.port, "sendrecv")).await;
    let (code, body) = request.await.unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"call\""), "{body}");
    // Then the number rings, with the agent as the caller; the agent hears ringback.
    let inc_b = target.wait_invite(STEP).await.expect("the number rings");
    assert!(
        inc_b
            .invite
            .header("From")
            .unwrap_or_default()
            .contains("1001"),
        "{}",
        inc_b.invite.raw
    );
    let ringback = a_rtp.wait_payload(0, 1600, STEP).await;
    assert!(ringback.len() >= 1600, "the agent hears ringback");
    let engine_b = sdp_media(&inc_b.invite.body).expect("our offer to the number");
    let mut b_dialog = target.answer(&inc_b, &sdp(b_rtp.port, "sendrecv")).await;
    // Audio both ways through the engine.
    let before_b = b_rtp.received();
    let before_a = a_rtp.received();
    tokio::join!(
        a_rtp.send(engine_a, 25, 0xa1),
        b_rtp.send(engine_b, 25, 0xb1)
    );
    assert!(b_rtp.wait_received(before_b + 20, STEP).await >= before_b + 20);
    assert!(a_rtp.wait_received(before_a + 20, STEP).await >= before_a + 20);
    // The number hangs up: the agent's phone gets BYE, one answered CDR.
    assert_eq!(target.bye(&mut b_dialog).await.status, Some(200));
    phone.expect_request("BYE", &a_dialog.call_id, "").await;
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!((cdr.caller.as_str(), cdr.callee.as_str()), ("1001", "1002"));
    assert!(cdr.answer_at.is_some(), "{cdr:?}");
    assert_eq!(cdr.hangup_cause, "NORMAL_CLEARING", "{cdr:?}");
    let _ = &mut a_dialog;

    // A busy agent phone: the desk is told, and the attempt is recorded.
    let request = post("/api/agents/1001/dial?number=1002");
    let inc = phone
        .wait_invite(STEP)
        .await
        .expect("the agent's phone rings");
    phone
        .respond(&inc.invite, 486, "Busy Here", Some(&inc.local_tag), "")
        .await;
    let (code, body) = request.await.unwrap();
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("486"), "{body}");
    let cdrs = server.wait_cdrs(2).await;
    assert!(
        cdrs.iter()
            .any(|c| c.hangup_cause == "USER_BUSY" && c.caller == "1001"),
        "{cdrs:?}"
    );

    // The agent hangs up while the number rings: the number is cancelled.
    let request = post("/api/agents/1001/dial?number=1002");
    let inc = phone
        .wait_invite(STEP)
        .await
        .expect("the agent's phone rings");
    let mut a_dialog = phone.answer(&inc, &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(request.await.unwrap().0, 200);
    let inc_b = target.wait_invite(STEP).await.expect("the number rings");
    assert_eq!(phone.bye(&mut a_dialog).await.status, Some(200));
    target.expect_cancel(&inc_b).await;
    let cdrs = server.wait_cdrs(3).await;
    assert_eq!(cdrs.len(), 3, "{cdrs:?}");
    let s = server.clone();
    let active = tokio::task::spawn_blocking(move || {
        s.wait_metric("switchboard_active_calls", "", |v| v == 0.0, STEP)
    })
    .await
    .unwrap();
    assert_eq!(active, 0.0, "no call left behind");
}

#[tokio::test]
async fn queue_settings_live_in_the_database_and_the_file_is_imported_on_demand() {
    let mut server = Server::builder("queue_settings_db")
        .extensions("1000-1002", "secret")
        .config(&queue_config(
            "longest-idle-agent",
            "max-wait-time = 30",
            "",
        ))
        .start();
    let get = |s: &Server| {
        let (code, body) = s.http_get("/api/queues/support").unwrap();
        assert_eq!(code, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    // First run: the config file seeded the database.
    assert_eq!(get(&server)["max-wait-time"], 30);
    let (code, body) = server
        .http_put_json("/api/queues/support", r#"{"max-wait-time": 7}"#)
        .unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(get(&server)["max-wait-time"], 7);
    // A queue something routes to cannot be removed; the answer says what uses it.
    let (code, body) = server.http_delete("/api/queues/support").unwrap();
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("number 9400 in [apps] queues"), "{body}");
    let (code, _) = server.http_delete("/api/queues/nosuch").unwrap();
    assert_eq!(code, 404);
    let (code, _) = server.http_get("/api/queues/nosuch").unwrap();
    assert_eq!(code, 404);

    // The change survives a restart: the database, not the file, counts.
    server.stop();
    server.restart();
    assert_eq!(get(&server)["max-wait-time"], 7);

    // Importing the file (CLI, same database) applies to the running server.
    let out = server.cli(&["callcenter", "import"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 1 queues"));
    let deadline = Instant::now() + STEP;
    while get(&server)["max-wait-time"] != 30 {
        assert!(
            Instant::now() < deadline,
            "import not applied: {}",
            get(&server)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_sipp_desk_phone_with_auto_answer_takes_queue_calls_by_itself() {
    // The agent desk's "desk phone": offers ask the phone to answer by
    // itself, and a SIPp agent that insists on the request answers them.
    let server = Server::builder("queue_sipp_auto_answer")
        .extensions("1000-1002", "secret")
        .config(&queue_config(
            "longest-idle-agent",
            "",
            "auto-answer = true\nwrap-up-time = 0\n",
        ))
        .start();
    let uas_port = crate::harness::free_udp_port();
    crate::registrar::sipp_register(&server, "1001", uas_port).await;
    set_status(&server, "1001", "available");
    let uas = crate::sipp::Sipp::new("uas-auto-answer", "uas_auto_answer")
        .port(uas_port)
        .media("127.0.0.1", server.ports.media_port(0))
        .calls(3)
        .spawn();
    crate::calls::wait_bound(uas_port);
    // One caller at a time: each finds the agent free.
    crate::calls::caller(&server, "uac_call", "9400", server.ports.media_port(1))
        .calls(3)
        .rate(1.0)
        .pause_ms(300)
        .run()
        .await
        .assert_success(3);
    // Each of the three offers carried the request (SIPp fails a call
    // whose INVITE lacks it) and was answered at once.
    uas.wait().await.assert_success(3);
}

#[tokio::test]
async fn an_agent_transfers_a_queue_caller_to_another_queue() {
    // support (9400, agent 1001) and sales (9401, agent 1002).
    let config = "[apps]\nqueues = { \"9400\" = \"support\", \"9401\" = \"sales\" }\n\n\
        [[callcenter.queues]]\nname = \"support\"\nstrategy = \"longest-idle-agent\"\n\n\
        [[callcenter.queues]]\nname = \"sales\"\nstrategy = \"longest-idle-agent\"\n\n\
        [[callcenter.agents]]\nid = \"1001\"\ncontact = \"1001\"\nwrap-up-time = 0\n\n\
        [[callcenter.agents]]\nid = \"1002\"\ncontact = \"1002\"\nwrap-up-time = 0\n\n\
        [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1001\"\n\n\
        [[callcenter.tiers]]\nqueue = \"sales\"\nagent = \"1002\"\n";
    let server = Server::builder("queue_transfer_to_queue")
        .extensions("1000-1002", "secret")
        .config(config)
        .start();
    let mut first = Ua::new("1001", "secret", server.sip_addr()).await;
    let mut second = Ua::new("1002", "secret", server.sip_addr()).await;
    assert_eq!(first.register(3600).await.status, Some(200));
    assert_eq!(second.register(3600).await.status, Some(200));
    set_status(&server, "1001", "available");
    set_status(&server, "1002", "available");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let caller_to = sdp_media(&resp.body).expect("our address");
    let mut dialog = dialog.expect("the caller's dialog");
    let inc = first
        .wait_invite(STEP)
        .await
        .expect("support's agent rings");
    let first_leg = first
        .answer(&inc, &sdp(server.ports.media_port(1), "sendrecv"))
        .await;
    let id = server.live_call_id("app", "queue");

    // Transferred to sales: support's agent is released, sales' rings.
    let (code, body) = server
        .http_post(&format!("/api/calls/{id}/transfer?to=9401"))
        .unwrap();
    assert_eq!(code, 200, "{body}");
    first.expect_request("BYE", &first_leg.call_id, "").await;
    let inc = second.wait_invite(STEP).await.expect("sales' agent rings");
    let b_rtp = Rtp::bind(server.ports.media_port(2)).await;
    let _second_leg = second.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await;
    assert_eq!(agent_field(&server, "1002", "state"), "In a queue call");
    assert_eq!(agent_field(&server, "1001", "state"), "Waiting");
    // The caller reaches sales' agent.
    a_rtp.send(caller_to, 50, 0x1234).await;
    let deadline = Instant::now() + STEP;
    while b_rtp.received_pt(0) < 20 {
        assert!(
            Instant::now() < deadline,
            "the caller's audio reached sales"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    caller.bye(&mut dialog).await;
}
