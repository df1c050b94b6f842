//! The call-center admin pages on the real binary, driven like a browser
//! (session cookie, CSRF field, form posts): a queue built in the pages
//! rings the agent imported into it, a routing rule added in the page
//! routes the next call (and the tester says so), editing a queue keeps its
//! waiting caller, and bad input (invalid regex, unknown queue, IVR loop,
//! missing extension) is refused next to the field.

use std::time::{Duration, Instant};

use crate::harness::Server;
use crate::ua::{sdp, Rtp, Ua, STEP};
use crate::web_client::{element_text, enc, header, Browser};

/// The queue form with every default, as the page sends it, plus `extra`
/// (later values of the same name do not override: give each once).
fn queue_form(name: &str, strategy: &str, exit_keys: &str, max_wait: u32) -> String {
    format!(
        "name={name}&strategy={strategy}&ring-timeout=60&ring-progressively-delay=10\
         &moh-sound=&announce-sound=&announce-frequency=0&time-base-score=queue\
         &max-wait-time={max_wait}&max-wait-time-with-no-agent=0\
         &max-wait-time-with-no-agent-time-reached=5&exit-keys={}\
         &tier-rule-wait-second=0&tier-rule-no-agent-no-wait=1&discard-abandoned-after=60\
         &agent-no-answer-status={}&skip-agents-with-external-calls=1&record-template=",
        enc(exit_keys),
        enc("On Break")
    )
}

#[tokio::test]
async fn a_queue_built_in_the_pages_keeps_its_caller_on_edit_and_rings_the_imported_agent() {
    let server = Server::builder("web_cc_queue")
        .extensions("1000-1002", "secret")
        .start();
    let b = Browser::admin(&server);

    // Bad settings are refused next to the field the engine names.
    let (status, page) = b.post("/voice/queues", &queue_form("support", "ring-all", "1x", 0));
    assert_eq!(status, 400, "{page}");
    let err = element_text(&page, "error-exit-keys").expect("exit-keys error");
    assert!(err.contains("not a phone key"), "{err}");
    let (_, list) = b.get("/voice/queues");
    assert!(
        list.contains("data-test=\"queues-empty\""),
        "nothing created"
    );

    // Create the queue in the page.
    let (status, resp) = b.post("/voice/queues", &queue_form("support", "ring-all", "", 0));
    assert_eq!(status, 303, "{resp}");
    assert_eq!(
        header(&resp, "location"),
        Some("/voice/queues/support?done=created")
    );
    let (status, page) = b.get("/voice/queues/support");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-test=\"tiers-empty\""));
    assert!(
        page.contains("data-test=\"import-option-ext:1001\""),
        "{page}"
    );

    // Import extension 1001 as an agent of the queue (multi-select).
    let (status, resp) = b.post(
        "/voice/queues/support/import",
        &format!("agents={}&level=1&position=1", enc("ext:1001")),
    );
    assert_eq!(status, 303, "{resp}");
    let (_, page) = b.get("/voice/queues/support");
    assert!(page.contains("data-test=\"tier-row-1001\""), "{page}");

    // A queue rule for number 9400: an unknown queue and an invalid regex
    // are refused next to their fields and change nothing.
    let rule = |pattern: &str, queue: &str| {
        format!(
            "name=support-line&order=10&pattern={}&type=queue&queue={queue}&enabled=1",
            enc(pattern)
        )
    };
    let (status, page) = b.post("/voice/routes", &rule("9400", "nosuch"));
    assert_eq!(status, 400, "{page}");
    let err = element_text(&page, "error-queue").expect("queue error");
    assert!(err.contains("unknown queue 'nosuch'"), "{err}");
    let (status, page) = b.post("/voice/routes", &rule(r"^(94\d", "support"));
    assert_eq!(status, 400, "{page}");
    let err = element_text(&page, "error-pattern").expect("pattern error");
    assert!(err.contains("not a valid regular expression"), "{err}");
    assert!(err.contains("^(94\\d"), "{err}");
    let (_, list) = b.get("/voice/routes");
    assert!(list.contains("data-test=\"rules-empty\""));
    let (status, resp) = b.post("/voice/routes", &rule("9400", "support"));
    assert_eq!(status, 303, "{resp}");

    // The tester says which rule matches and where the call goes.
    let (status, page) = b.get("/voice/routes?number=9400");
    assert_eq!(status, 200);
    assert!(
        page.contains("data-test=\"tester-winner\" data-rule=\"support-line\""),
        "{page}"
    );
    let route = element_text(&page, "tester-route").expect("route");
    assert_eq!(route, "queue \"support\"");
    let (_, page) = b.get("/voice/routes?number=9401");
    assert!(page.contains("data-test=\"tester-no-winner\""));

    // A caller dials 9400 (the rule added in the page) and waits: the agent
    // is logged out.
    let mut agent = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(agent.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let (resp, dialog) = caller.invite("9400", &sdp(a_rtp.port, "sendrecv")).await;
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let dialog = dialog.expect("caller dialog");
    a_rtp.wait_payload(0, 1600, STEP).await;
    let deadline = Instant::now() + STEP;
    loop {
        let (_, page) = b.get("/voice/queues/support");
        if element_text(&page, "queue-waiting").as_deref() == Some("1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the caller never showed as waiting"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Edit the queue while the caller waits: saved live, the caller stays.
    let (status, resp) = b.post(
        "/voice/queues/support",
        &queue_form("ignored", "longest-idle-agent", "*", 0),
    );
    assert_eq!(status, 303, "{resp}");
    let location = header(&resp, "location").unwrap_or_default().to_string();
    assert_eq!(location, "/voice/queues/support?done=saved&waiting=1");
    let (_, page) = b.get(&location);
    assert!(page.contains("data-test=\"flash\""), "{page}");
    assert_eq!(element_text(&page, "queue-waiting").as_deref(), Some("1"));
    let (_, list) = b.get("/voice/queues");
    assert!(
        list.contains("data-strategy=\"longest-idle-agent\""),
        "{list}"
    );

    // Make the agent available in the page: the waiting caller rings them.
    let (status, resp) = b.post("/voice/queues/agents/1001/status", "status=Available");
    assert_eq!(status, 303, "{resp}");
    let inc = agent
        .wait_invite(STEP)
        .await
        .expect("the imported agent rings for the waiting caller");
    let (_, page) = b.get("/voice/queues/agents/1001");
    assert!(page.contains("data-status=\"available\""), "{page}");
    let mut b_dialog = agent.answer(&inc, &sdp(b_rtp.port, "sendrecv")).await;
    assert_eq!(agent.bye(&mut b_dialog).await.status, Some(200));
    caller.expect_request("BYE", &dialog.call_id, "").await;

    // The queue cannot be deleted while a rule routes to it: the page says why.
    let (status, page) = b.post("/voice/queues/support/delete", "");
    assert_eq!(status, 409, "{page}");
    let err = element_text(&page, "form-error").expect("refusal");
    assert!(err.contains("routing rule \"support-line\""), "{err}");
}

#[tokio::test]
async fn an_ivr_loop_and_a_missing_extension_are_refused_next_to_the_entry() {
    let server = Server::builder("web_cc_ivr")
        .extensions("1000-1003", "secret")
        .start();
    let b = Browser::admin(&server);
    let menu = |id: &str, entries: &[(&str, &str, &str)]| {
        let mut body = format!(
            "id={id}&name=&greet_long=welcome&greet_short=&invalid_sound=&exit_sound=\
             &transfer_sound=&confirm_sound=&timeout_ms=10000&inter_digit_timeout_ms=\
             &max_failures=3&max_timeouts=&digit_len=0&confirm_key=&confirm_attempts=3"
        );
        for (digits, kind, value) in entries {
            body.push_str(&format!(
                "&entry_label=&entry_digits={}&entry_type={kind}&entry_value={}&entry_arg=",
                enc(digits),
                enc(value)
            ));
        }
        // The blank rows the page always sends.
        body.push_str("&entry_label=&entry_digits=&entry_type=extension&entry_value=&entry_arg=");
        body
    };
    let (status, resp) = b.post("/voice/ivr", &menu("main", &[("1", "extension", "1001")]));
    assert_eq!(status, 303, "{resp}");
    let (status, resp) = b.post("/voice/ivr", &menu("sub", &[("9", "back", "")]));
    assert_eq!(status, 303, "{resp}");
    let (status, resp) = b.post(
        "/voice/ivr/main",
        &menu(
            "main",
            &[("1", "extension", "1001"), ("2", "submenu", "sub")],
        ),
    );
    assert_eq!(status, 303, "{resp}");

    // The tree shows sub under main's entry 2 (and not as a root).
    let (_, tree) = b.get("/voice/ivr");
    let entry = tree
        .find("data-test=\"entry-node-main-2\"")
        .unwrap_or_else(|| panic!("entry 2 missing: {tree}"));
    let sub = tree.find("data-test=\"menu-node-sub\"").expect("sub node");
    assert!(sub > entry, "sub is drawn under main's entry 2");
    assert_eq!(tree.matches("data-test=\"menu-node-sub\"").count(), 1);

    // A loop back to main is refused next to the entry, naming it.
    let (status, page) = b.post(
        "/voice/ivr/sub",
        &menu("sub", &[("9", "back", ""), ("1", "submenu", "main")]),
    );
    assert_eq!(status, 400, "{page}");
    let err = element_text(&page, "error-entry-1").expect("entry error");
    assert!(err.contains("loops back"), "{err}");
    assert!(err.contains("IVR menu 'sub'"), "{err}");

    // An entry to a missing extension: refused on that row.
    let (status, page) = b.post(
        "/voice/ivr/main",
        &menu(
            "main",
            &[
                ("1", "extension", "1001"),
                ("2", "submenu", "sub"),
                ("3", "extension", "7777"),
            ],
        ),
    );
    assert_eq!(status, 400, "{page}");
    let err = element_text(&page, "error-entry-2").expect("entry error");
    assert!(err.contains("7777"), "{err}");

    // A missing greeting prompt: refused next to the prompt field.
    let body = menu(
        "main",
        &[("1", "extension", "1001"), ("2", "submenu", "sub")],
    )
    .replace("greet_short=&", "greet_short=no_such_prompt&");
    let (status, page) = b.post("/voice/ivr/main", &body);
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("data-test=\"error-greet_short\""), "{page}");

    // Nothing of the refused changes was kept.
    let (_, page) = b.get("/voice/ivr/sub");
    assert!(
        page.contains("name=\"entry_digits\" value=\"\" id=\"f-entry-1-digits\""),
        "sub kept only its entry 9: {page}"
    );

    // sub cannot be removed while main leads to it.
    let (status, page) = b.post("/voice/ivr/sub/delete", "");
    assert_eq!(status, 409, "{page}");
    let err = element_text(&page, "form-error").expect("refusal");
    assert!(err.contains("IVR menu 'main' entry 2"), "{err}");
}
