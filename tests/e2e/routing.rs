//! Routing rules end to end (`[[callcenter.routes]]`): a regex rule with a
//! capture reaching an extension, an inbound rule outside its office hours
//! playing the after-hours prompt, a queue rule, and `switchboard route test`.

use std::time::Duration;

use crate::harness::Server;
use crate::ua::{sdp, sdp_media, Rtp, Ua, STEP};

/// A queue "support" with agent 1001, and three rules:
/// - "ext8": `8XXXX` rings extension XXXX;
/// - "hotline": 62620668 goes to 1001 in office hours, which are only
///   2000-01-01 09:00-10:00 (so never now): otherwise the "goodbye" prompt;
/// - "support line": 400 is the queue.
const ROUTES: &str = r#"
[[callcenter.queues]]
name = "support"

[[callcenter.agents]]
id = "1001"
contact = "1001"

[[callcenter.tiers]]
queue = "support"
agent = "1001"

[[callcenter.routes]]
name = "ext8"
pattern = '^8(\d{4})$'
kind = { type = "basic", target = "$1" }

[[callcenter.routes]]
name = "hotline"
pattern = "62620668"
[callcenter.routes.kind]
type = "inbound"
target = "1001"
after_hours = { prompt = "goodbye" }
[callcenter.routes.kind.schedule]
holidays = [{ date = "2000-01-01", hours = ["09:00-10:00"] }]

[[callcenter.routes]]
name = "support line"
pattern = "400"
kind = { type = "queue", queue = "support" }
"#;

fn start(name: &str) -> Server {
    Server::builder(name)
        .extensions("1000-1002", "secret")
        .config(ROUTES)
        .start()
}

#[tokio::test]
async fn a_regex_rule_sends_8xxxx_to_extension_xxxx() {
    let server = start("routing_regex");
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;

    let offer = sdp(a_rtp.port, "sendrecv");
    let (call, answered) = tokio::join!(caller.invite("81001", &offer), async {
        let inc = callee.wait_invite(STEP).await.expect("1001 rings");
        callee.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await
    });
    let (resp, dialog) = call;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut dialog = dialog.unwrap();
    assert_eq!(caller.bye(&mut dialog).await.status, Some(200));
    callee.expect_request("BYE", &answered.call_id, "").await;

    // 8XXXX with no such extension: 404.
    let (resp, _) = caller.invite("81009", &offer).await;
    assert_eq!(resp.status, Some(404), "{}", resp.raw);
    let cdrs = server.wait_cdrs(2).await;
    assert!(cdrs.iter().any(|c| c.callee == "81001"), "{cdrs:?}");
}

#[tokio::test]
async fn an_inbound_rule_outside_office_hours_plays_its_prompt_and_hangs_up() {
    let server = start("routing_after_hours");
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("62620668", &sdp(rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let dialog = dialog.unwrap();
    let media = sdp_media(&dialog.remote_sdp).expect("SDP answer");
    // Symmetric RTP: our packets tell the server where we are.
    rtp.send(media, 5, 7).await;
    // The prompt plays, then the server hangs up.
    caller.expect_request("BYE", &dialog.call_id, "").await;
    assert!(
        rtp.received() >= 10,
        "only {} RTP packets of the prompt arrived",
        rtp.received()
    );
    let cdr = server.wait_cdrs(1).await.remove(0);
    assert_eq!(cdr.callee, "62620668");
    assert_eq!(cdr.hangup_by, "system", "{cdr:?}");
}

#[tokio::test]
async fn a_queue_rule_puts_the_caller_in_the_queue() {
    let server = start("routing_queue");
    let mut agent = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    let (code, body) = server
        .http_post("/api/agents/1001/status?status=available")
        .unwrap();
    assert_eq!(code, 200, "{body}");

    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("400", &sdp(rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "the queue answers: {}", resp.raw);
    let mut dialog = dialog.unwrap();
    let inc = agent.wait_invite(STEP).await.expect("the agent rings");
    // The caller gives up while the agent rings: the agent's call is cancelled.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(caller.bye(&mut dialog).await.status, Some(200));
    agent.expect_cancel(&inc).await;
}

#[tokio::test]
async fn route_test_explains_the_winning_rule() {
    let server = start("routing_cli");
    let out = server.cli(&["route", "test", "81001"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("rule \"ext8\" wins: ring extension 1001"),
        "{text}"
    );
    assert!(text.contains("Result: ring extension 1001."), "{text}");

    // In the hotline's only office hour, its target; otherwise the prompt.
    let out = server.cli(&["route", "test", "62620668", "--at", "2000-01-01 09:30"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("rule \"hotline\" wins: route internal number 1001"),
        "{text}"
    );
    assert!(text.contains("Result: ring extension 1001."), "{text}");
    let out = server.cli(&["route", "test", "62620668"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Result: play \"goodbye\", then hang up."),
        "{text}"
    );

    // A bad --at is refused.
    let out = server.cli(&["route", "test", "400", "--at", "noon"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--at"));
}

#[tokio::test]
async fn route_test_without_rules_shows_the_built_in_routing() {
    let server = Server::builder("routing_cli_none")
        .extensions("1000", "secret")
        .start();
    for (number, result) in [
        ("1000", "Result: ring extension 1000."),
        ("9196", "Result: the echo application."),
        ("81000", "Result: 404 Not Found."),
    ] {
        let out = server.cli(&["route", "test", number]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("No routing rules are configured"), "{text}");
        assert!(text.contains(result), "{number}: {text}");
    }
}
