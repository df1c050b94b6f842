//! Media resources: a prompt uploaded through the page is listed and plays
//! in the browser's <audio> element, which the server feeds the WAV bytes.

use std::sync::Arc;

use crate::driver::{by_test, run_on, server_name, BrowserKind, BrowserOptions};
use crate::flows;
use crate::harness::{self, Server};

/// The <audio> element of the media file "welcome-prompt", in scripts.
const AUDIO: &str = "document.querySelector('[data-test=\"media-audio-welcome-prompt\"]')";

browser_tests!(an_uploaded_prompt_is_listed_and_plays_in_the_browser);
async fn an_uploaded_prompt_is_listed_and_plays_in_the_browser(browser: BrowserKind) {
    // Uploads go to a directory of this run, not the default media/prompts
    // of the working tree.
    let uploads = harness::artifacts().join("uploads").join(format!(
        "{}-{}",
        server_name(browser, "media_upload_play"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&uploads);
    let server = Arc::new(
        Server::builder(&server_name(browser, "media_upload_play"))
            .config(&format!(
                "[media]\nuploads_dir = {:?}",
                uploads.display().to_string()
            ))
            .start(),
    );
    run_on(
        browser,
        server,
        "media_upload_play",
        BrowserOptions::default(),
        |t| async move {
            let b = &t.browser;
            flows::admin_first_sign_in(b).await;
            let wav = harness::root().join("sounds/en/welcome.wav");
            let wav_bytes = std::fs::read(&wav).expect("read sounds/en/welcome.wav");

            b.click_nav("menu-voice-media").await;
            b.wait_path("/voice/media").await;
            b.wait_text("h1", "Media resources").await;
            b.wait_visible("#media-empty").await;

            // Upload: a name and a real WAV file.
            b.fill_field("name", "welcome-prompt").await;
            b.choose_file("#f-file", &wav).await;
            b.click_nav("btn-upload").await;
            b.wait_path("/voice/media").await;
            b.wait_text("#flash", "“welcome-prompt” uploaded.").await;

            // Listed, with its duration and size.
            let row = by_test("media-row-welcome-prompt");
            b.wait_visible(&row).await;
            assert!(!b.exists("#media-empty").await);
            assert_eq!(b.text("#media-count").await, "Media files (1)");
            let duration = b
                .text(&format!("{row} [data-test=\"media-duration\"]"))
                .await;
            assert!(
                duration.chars().any(|c| c.is_ascii_digit() && c != '0'),
                "duration shown: {duration:?}"
            );
            let size_title = b
                .eval(&format!(
                "return {AUDIO}.closest('tr').querySelector('[data-test=\"media-size\"]').title"
            ))
                .await;
            assert_eq!(size_title, wav_bytes.len().to_string());

            // The served bytes are the WAV uploaded, as audio.
            let served = b
                .eval(&format!(
                    "return fetch({AUDIO}.src).then(function (r) {{\
                   return r.arrayBuffer().then(function (buf) {{\
                     var head = new Uint8Array(buf.slice(0, 12));\
                     return [r.status, r.headers.get('content-type'), buf.byteLength,\
                       String.fromCharCode.apply(null, head.slice(0, 4)),\
                       String.fromCharCode.apply(null, head.slice(8, 12))];\
                   }});\
                 }})"
                ))
                .await;
            assert_eq!(
                served,
                serde_json::json!([200, "audio/wav", wav_bytes.len(), "RIFF", "WAVE"])
            );

            // The player loads it (metadata: a duration) and plays it.
            b.eval(&format!(
                "{AUDIO}.preload = 'auto'; {AUDIO}.load(); return null"
            ))
            .await;
            let duration = b
                .until("the <audio> element to load the prompt", async || {
                    let state = b
                        .eval(&format!(
                            "var a = {AUDIO};\
                         return [a.readyState, a.duration, a.error ? a.error.code : null]"
                        ))
                        .await;
                    assert!(state[2].is_null(), "the player failed: {state}");
                    let ready = state[0].as_u64()?;
                    let duration = state[1].as_f64()?;
                    (ready >= 1 && duration.is_finite() && duration > 0.0).then_some(duration)
                })
                .await;
            let expected = {
                let reader = hound::WavReader::open(&wav).expect("read the WAV header");
                f64::from(reader.duration()) / f64::from(reader.spec().sample_rate)
            };
            assert!(
                (duration - expected).abs() < 0.1,
                "the player says {duration} s, the file has {expected} s"
            );
            let started = b
                .eval(&format!(
                    "return {AUDIO}.play().then(function () {{ return 'playing'; }},\
                   function (e) {{ return 'refused: ' + e; }})"
                ))
                .await;
            assert_eq!(started, "playing");
            b.until("the prompt to play", async || {
                let played = b
                    .eval(&format!(
                        "var a = {AUDIO}; return a.currentTime > 0 || a.ended"
                    ))
                    .await;
                (played == serde_json::Value::Bool(true)).then_some(())
            })
            .await;
            // Stored where this server was told to.
            let stored = std::fs::read_dir(&uploads)
                .expect("the uploads dir")
                .filter_map(|e| e.ok())
                .count();
            assert_eq!(stored, 1, "files in {}", uploads.display());
        },
    )
    .await
}
