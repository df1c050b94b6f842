//! The call history in a real browser (issue 17): a call recorded by the
//! engine is listed on `/records/calls`, and the page's player loads its
//! recording, knows its length, and seeks into the middle of it. (The range
//! requests a player sends are checked byte for byte in the router test and
//! against the real engine's recording in the e2e test.)

use std::sync::Arc;

use crate::driver::{run_on, server_name, BrowserKind, BrowserOptions};
use crate::flows;
use crate::harness::Server;
use crate::ua::{sdp, sdp_media, Rtp, Ua, STEP};

/// The audio element's state: duration, seekable end, current time.
const PLAYER: &str = "var a = document.querySelector('[data-test=call-audio]');\
     return a ? {ready: a.readyState, duration: a.duration, \
     seekable: a.seekable.length ? a.seekable.end(a.seekable.length - 1) : 0, \
     at: a.currentTime, seeking: a.seeking, error: a.error ? a.error.code : 0} : null;";

/// A four-second call from 1000 to 1001, each sending a tone, recorded.
async fn recorded_call(server: &Server) {
    let mut callee = Ua::new("1001", "secret", server.sip_addr()).await;
    assert_eq!(callee.register(3600).await.status, Some(200));
    let mut caller = Ua::new("1000", "secret", server.sip_addr()).await;
    let a_rtp = Rtp::bind(server.ports.media_port(0)).await;
    let b_rtp = Rtp::bind(server.ports.media_port(1)).await;
    let (offer, answer) = (sdp(a_rtp.port, "sendrecv"), sdp(b_rtp.port, "sendrecv"));
    let ((resp, a_dialog), b_dialog) = tokio::join!(caller.invite("1001", &offer), async {
        let inc = callee
            .wait_invite(STEP)
            .await
            .expect("callee got no INVITE");
        callee.answer(&inc, &answer).await
    });
    assert_eq!(resp.status, Some(200), "{}", resp.raw);
    let mut a_dialog = a_dialog.expect("a dialog");
    let a_relay = sdp_media(&a_dialog.remote_sdp).expect("SDP to the caller");
    let b_relay = sdp_media(&b_dialog.remote_sdp).expect("SDP to the callee");
    tokio::join!(
        a_rtp.send_tone(a_relay, 0, 500.0, 4000, 0xA),
        b_rtp.send_tone(b_relay, 0, 1500.0, 4000, 0xB)
    );
    assert_eq!(caller.bye(&mut a_dialog).await.status, Some(200));
    server.wait_cdrs(1).await;
}

browser_tests!(a_recording_plays_and_seeks_in_the_call_history);
async fn a_recording_plays_and_seeks_in_the_call_history(browser: BrowserKind) {
    let name = "records_play";
    let dir = crate::harness::artifacts().join("recordings").join(format!(
        "{}-{}",
        server_name(browser, name),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Arc::new(
        Server::builder(&server_name(browser, name))
            .extensions("1000-1001", "secret")
            .config(&format!(
                "[recording]\nenabled = true\nlayout = \"stereo\"\nrate = 8000\ndir = \"{}\"\n",
                dir.display()
            ))
            .start(),
    );
    recorded_call(&server).await;
    run_on(browser, server, name, BrowserOptions::default(), |t| async move {
        let b = &t.browser;
        flows::admin_first_sign_in(b).await;
        b.click_nav("menu-records-calls").await;
        b.wait_path("/records/calls").await;
        b.wait_visible("[data-test=call-row]").await;
        // The caller with its display name.
        assert!(b.text("[data-test=call-caller]").await.starts_with("1000"));
        assert_eq!(b.text("[data-test=call-callee]").await, "1001");
        // Load the recording: its length is the call's.
        b.eval("var a = document.querySelector('[data-test=call-audio]'); a.preload = 'auto'; a.load(); return true;")
            .await;
        let (duration, seekable) = b
            .until("the recording's metadata", async || {
                let v = b.eval(PLAYER).await;
                assert_eq!(v["error"], 0, "the player failed: {v}");
                let d = v["duration"].as_f64()?;
                (v["ready"].as_i64()? >= 1 && d.is_finite() && d > 0.0)
                    .then(|| (d, v["seekable"].as_f64().unwrap_or(0.0)))
            })
            .await;
        assert!((3.0..=6.0).contains(&duration), "duration {duration} s");
        // Seekable to the end.
        assert!(seekable >= duration - 0.1, "seekable to {seekable} of {duration} s");
        let target = (duration / 2.0 * 10.0).round() / 10.0;
        b.eval(&format!(
            "document.querySelector('[data-test=call-audio]').currentTime = {target}; return true;"
        ))
        .await;
        let at = b
            .until("the seek", async || {
                let v = b.eval(PLAYER).await;
                let at = v["at"].as_f64()?;
                (!v["seeking"].as_bool().unwrap_or(true) && at > 0.0).then_some(at)
            })
            .await;
        assert!((at - target).abs() < 0.25, "sought {target} s, at {at} s");
    })
    .await;
}
