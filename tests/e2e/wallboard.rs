//! The floor's live pages end to end (issue 17, manual 11.1 / 11.2): a real
//! server with a queue, its agents as the in-repo UA. The wallboard's
//! stream, its fragment and `GET /api/agents/live` show the waiting caller,
//! the longest wait and each agent's state as they change; the missed-call
//! list shows a caller who gave up; the traffic monitor counts the calls.

use std::time::{Duration, Instant};

use crate::harness::Server;
use crate::ua::{sdp, Rtp, Ua, STEP};
use crate::web_client::{element_text, Browser};

/// Queue "support" on 9400 with agents 1001 and 1002.
const CONFIG: &str = "[apps]\nqueues = { \"9400\" = \"support\" }\n\n\
    [[callcenter.queues]]\nname = \"support\"\nstrategy = \"longest-idle-agent\"\n\n\
    [[callcenter.agents]]\nid = \"1001\"\ncontact = \"1001\"\n\n\
    [[callcenter.agents]]\nid = \"1002\"\ncontact = \"1002\"\n\n\
    [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1001\"\n\n\
    [[callcenter.tiers]]\nqueue = \"support\"\nagent = \"1002\"\n";

fn post(server: &Server, path: &str) {
    let (code, body) = server.http_post(path).unwrap();
    assert_eq!(code, 200, "POST {path}: {body}");
}

fn live(server: &Server) -> serde_json::Value {
    let (code, body) = server.http_get("/api/agents/live").unwrap();
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_default()
}

fn agent<'v>(live: &'v serde_json::Value, id: &str) -> &'v serde_json::Value {
    live["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == id))
        .unwrap_or(&serde_json::Value::Null)
}

/// The `data-tile` of agent `id`'s tile in a wallboard fragment.
fn tile_of(page: &str, id: &str) -> Option<String> {
    let at = page.find(&format!("data-test=\"wall-tile\" data-agent=\"{id}\""))?;
    let rest = &page[at..];
    let start = rest.find("data-tile=\"")? + "data-tile=\"".len();
    let end = rest[start..].find('"')? + start;
    Some(rest[start..end].to_string())
}

/// Polls `cond` every 100 ms until it holds or [`STEP`] passed.
async fn eventually<T>(what: &str, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + STEP;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn wallboard_agents_and_missed_calls_follow_the_floor_live() {
    let server = Server::builder("wallboard")
        .extensions("1000-1002", "secret")
        .config(CONFIG)
        .start();
    let web = Browser::admin(&server);
    // The agent's phone registers; the agent logs in there and is put on
    // break, so the caller waits.
    let mut phone = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(phone.register(3600).await.status, Some(200));
    post(
        &server,
        "/api/agents/1001/login?extension=1001&password=secret",
    );
    post(&server, "/api/agents/1001/status?status=on_break");
    let mut stream = web.events("/records/wallboard?fragment=1&stream=1");
    assert!(stream.head.contains("text/event-stream"), "{}", stream.head);

    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let dialog = dialog.expect("the queue answers");

    // The stream shows the waiting caller and the agent not ready.
    let deadline = Instant::now() + STEP;
    loop {
        let part = stream
            .next("part", deadline)
            .expect("a wallboard update with the waiting caller");
        if element_text(&part, "wall-waiting").as_deref() == Some("1") {
            assert_eq!(
                tile_of(&part, "1001").as_deref(),
                Some("not_ready"),
                "{part}"
            );
            assert_eq!(tile_of(&part, "1002").as_deref(), Some("offline"), "{part}");
            break;
        }
    }
    // The longest wait grows in the fragment; the JSON agrees.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (code, part) = web.get("/records/wallboard?fragment=1");
    assert_eq!(code, 200, "{part}");
    let longest = element_text(&part, "wall-longest").unwrap_or_default();
    assert!(
        longest.starts_with("0:0") && longest != "0:00",
        "{longest}: {part}"
    );
    let v = live(&server);
    assert_eq!(v["waiting"], 1, "{v}");
    assert!(v["longest_wait_s"].as_u64() >= Some(1), "{v}");
    let a = agent(&v, "1001");
    assert_eq!(a["status"], "On Break", "{v}");
    assert_eq!(a["tile"], "not_ready", "{v}");
    assert_eq!(a["registered"], true, "{v}");
    assert_eq!(agent(&v, "1002")["registered"], false, "{v}");
    let (code, online) = server.http_get("/api/agents/live?online=1").unwrap();
    assert_eq!(code, 200);
    assert!(
        online.contains("\"1001\"") && !online.contains("\"1002\""),
        "{online}"
    );
    // The TV mode has no menu.
    let (code, tv) = web.get("/records/wallboard?tv=1");
    assert_eq!(code, 200);
    assert!(
        tv.contains("wall-tv") && !tv.contains("id=\"menu\""),
        "{tv}"
    );

    // Ready: the queue offers the caller; the agent answers and the
    // wallboard shows them talking within a second of the answer.
    post(&server, "/api/agents/1001/status?status=available");
    let inc = phone.wait_invite(STEP).await.expect("the agent rings");
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let mut b_dialog = phone.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await;
    let answered = Instant::now();
    let deadline = answered + STEP;
    loop {
        let part = stream.next("part", deadline).expect("the agent talking");
        if tile_of(&part, "1001").as_deref() == Some("talking") {
            assert_eq!(element_text(&part, "wall-waiting").as_deref(), Some("0"));
            break;
        }
    }
    let took = answered.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "talking shown after {took:?}"
    );
    let v = live(&server);
    assert_eq!(agent(&v, "1001")["tile"], "talking", "{v}");
    assert_eq!(agent(&v, "1001")["state"], "In a queue call", "{v}");
    assert_eq!(agent(&v, "1001")["caller"], "1000", "{v}");
    assert_eq!(phone.bye(&mut b_dialog).await.status, Some(200));
    caller.expect_request("BYE", &dialog.call_id, "").await;

    // The agents page counts the answered call in the agent's day once its
    // records are stored.
    eventually("the agent's call of the day", || {
        let (_, page) = web.get("/records/agents?fragment=1");
        let at = page.find("data-agent=\"1001\"")?;
        (element_text(&page[at..], "agent-calls").as_deref() == Some("1")).then_some(())
    })
    .await;

    // A second caller gives up while the agent is on break: a missed call.
    // Out of after-call work if the queue put the agent in it.
    let _ = server.http_post("/api/agents/1001/wrapup_done");
    post(&server, "/api/agents/1001/status?status=on_break");
    let (resp, gave_up) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut gave_up = gave_up.expect("the queue answers");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(caller.bye(&mut gave_up).await.status, Some(200));
    let page = eventually("the abandoned call in the missed list", || {
        let (code, page) = web.get("/records/missed");
        assert_eq!(code, 200, "{page}");
        page.contains(&format!("data-call-id=\"{}\"", gave_up.call_id))
            .then_some(page)
    })
    .await;
    assert!(
        !page.contains(&format!("data-call-id=\"{}\"", dialog.call_id)),
        "the answered call is not missed: {page}"
    );
    let at = page
        .find(&format!("data-call-id=\"{}\"", gave_up.call_id))
        .unwrap_or(0);
    assert_eq!(
        element_text(&page[at..], "missed-caller")
            .as_deref()
            .map(str::trim),
        Some("1000")
    );
    assert_eq!(
        element_text(&page[at..], "missed-queue").as_deref(),
        Some("support")
    );
    let waited = element_text(&page[at..], "missed-waited").unwrap_or_default();
    assert!(waited != "0 s", "{waited}");

    // The traffic monitor counts both calls, one missed, in this hour.
    eventually("today's traffic", || {
        let (code, page) = web.get("/records/traffic?fragment=1");
        assert_eq!(code, 200, "{page}");
        (element_text(&page, "traffic-total").as_deref() == Some("2")
            && element_text(&page, "traffic-missed").as_deref() == Some("1")
            && page.contains("<svg"))
        .then_some(())
    })
    .await;
}
