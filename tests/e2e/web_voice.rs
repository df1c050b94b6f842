//! The voice-platform pages on the real binary, driven like a browser:
//! extensions created with the batch form register at once, the
//! registered-extensions page streams the new registration to the open page
//! (server-sent events), a number added to the blacklist page is refused on
//! its next call, and bad input changes nothing.

use std::time::{Duration, Instant};

use crate::harness::Server;
use crate::ua::{sdp, Ua};
use crate::web_client::{element_text, text, Browser};

/// The extension form as the page sends it, for the numbers `numbers`.
fn extension_form(numbers: &str, password: &str) -> String {
    format!(
        "numbers={numbers}&password={password}&display_name=&kind=direct&target=\
         &auto_answer=off&pickup_group=&gateway="
    )
}

#[tokio::test]
async fn extensions_made_in_the_page_register_and_stream_live_to_the_registrations_page() {
    let server = Server::builder("web_voice_regs")
        .extensions("1000-1001", "secret")
        .start();
    let b = Browser::admin(&server);

    // A batch of three, all or none; a batch overlapping it is refused,
    // naming the taken number, and creates nothing.
    let (status, resp) = b.post("/voice/extensions", &extension_form("1500-1502", "pw-1500"));
    assert_eq!(status, 303, "{resp}");
    let (status, page) = b.post("/voice/extensions", &extension_form("1502-1503", "pw-1500"));
    assert!(status == 400 || status == 409, "{status}: {page}");
    let err = element_text(&page, "error-numbers").expect("an error next to the numbers");
    assert!(text(&err).contains("1502"), "{err}");
    assert!(
        !text(&err).contains("1503"),
        "only the taken number is named: {err}"
    );
    let (_, list) = b.get("/voice/extensions?q=1503");
    assert!(!list.contains(">1503<"), "{list}");

    // The live part of the registrations page, as the page's script opens it.
    let mut events = b.events("/voice/registrations?fragment=1&stream=1");
    assert!(events.head.starts_with("HTTP/1.0 200"), "{}", events.head);
    assert!(
        events
            .head
            .to_ascii_lowercase()
            .contains("text/event-stream"),
        "{}",
        events.head
    );
    let first = events
        .next("part", Instant::now() + Duration::from_secs(20))
        .expect("the first part at once");
    assert!(!first.contains("1501"), "{first}");

    // A new extension registers without a restart; the open stream
    // sends the table with it.
    let mut phone = Ua::new("1501", "pw-1500", server.sip_addr()).await;
    assert_eq!(phone.register(3600).await.status, Some(200));
    let deadline = Instant::now() + Duration::from_secs(30);
    let shown = loop {
        let part = events
            .next("part", deadline)
            .expect("a part with the new registration");
        if part.contains("1501") {
            break part;
        }
    };
    assert!(shown.contains("data-test=\"reg-row-1501\""), "{shown}");

    // The stream needs the sign-in: without the cookie it is refused.
    let (status, resp) = crate::web_client::raw(
        &server,
        "GET /voice/registrations?fragment=1&stream=1 HTTP/1.0\r\nHost: x\r\n\r\n",
    );
    assert_eq!(status, 303, "{resp}");
}

#[tokio::test]
async fn a_number_blacklisted_in_the_page_is_refused_on_its_next_call() {
    let server = Server::builder("web_voice_lists")
        .extensions("1000-1001", "secret")
        .start();
    let b = Browser::admin(&server);
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;

    // A bad value is refused next to the field and adds nothing.
    let (status, page) = b.post("/voice/lists/blacklist", "values=12ab%3B&note=");
    assert_eq!(status, 400, "{page}");
    assert!(element_text(&page, "error-values").is_some(), "{page}");

    let (status, resp) = b.post("/voice/lists/blacklist", "values=1000&note=spam");
    assert_eq!(status, 303, "{resp}");
    let (resp, _) = caller.invite("1001", &sdp(40_000, "sendrecv")).await;
    assert_eq!(resp.status, Some(603), "{}", resp.raw);

    // Removed in the page: the next call goes through to the phone.
    let (status, resp) = b.post("/voice/lists/blacklist/remove", "one=1000");
    assert_eq!(status, 303, "{resp}");
    let call = tokio::spawn(async move {
        let (resp, _) = caller.invite("1001", &sdp(40_002, "sendrecv")).await;
        resp
    });
    let inc = callee
        .wait_invite(Duration::from_secs(10))
        .await
        .expect("the call reaches the phone");
    callee
        .respond(&inc.invite, 486, "Busy Here", Some(&inc.local_tag), "")
        .await;
    let resp = call.await.unwrap();
    assert_eq!(resp.status, Some(486), "{}", resp.raw);
}
