//! Browser tests: the real `switchboard` binary (started by the e2e harness on
//! free loopback ports with a temporary data dir) driven through a headless
//! browser by its WebDriver. Every test runs twice, as `NAME::chromium` and
//! `NAME::firefox` (see [`browser_tests!`]):
//!
//! - Chromium through chromedriver (Debian packages `chromium` and
//!   `chromium-driver`);
//! - Firefox ESR (Debian package `firefox-esr`) through geckodriver, which
//!   Debian does not package: `cargo install geckodriver --locked`; found on
//!   PATH or in ~/.cargo/bin.
//!
//! `tests/run` installs what is missing. Every test starts its own server,
//! WebDriver and browser, so tests run in parallel. On failure the test saves
//! a screenshot and the page's HTML under `tests/artifacts/` and prints the
//! tail of the server log. `cargo test --test browser ::firefox` runs the
//! Firefox half only.

/// Runs each browser test `async fn NAME(browser: BrowserKind)` in every
/// browser: makes the tests `NAME::chromium` and `NAME::firefox`, each of which
/// starts its own server, WebDriver and browser. Write it above the function:
///
/// ```ignore
/// browser_tests!(a_token_made_in_the_page_works_until_revoked);
/// async fn a_token_made_in_the_page_works_until_revoked(browser: BrowserKind) {
///     run(browser, "api_token", BrowserOptions::default(), |t| async move { ... }).await
/// }
/// ```
macro_rules! browser_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn chromium() {
                    super::$name($crate::driver::BrowserKind::Chromium).await
                }

                #[tokio::test]
                async fn firefox() {
                    super::$name($crate::driver::BrowserKind::Firefox).await
                }
            }
        )+
    };
}

// The e2e harness is shared, not copied; this crate uses only part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
// SIPp runs (the registration test), shared with the e2e tests likewise.
#[allow(dead_code)]
#[path = "../e2e/sipp.rs"]
mod sipp;
// The in-repo SIP user agent (the JsSIP test's caller, the desk's phone
// and its callers), shared likewise.
#[allow(dead_code)]
#[path = "../e2e/ua.rs"]
mod ua;

mod driver;
mod flows;
mod netns;

mod account;
mod campaigns;
mod crm;
mod departments;
mod desk;
mod desk_calls;
mod extensions;
mod import_more;
mod ivr;
mod jssip;
mod language;
mod layout;
mod media;
mod records;
mod registrations;
mod reports;
mod tokens;
mod users;
