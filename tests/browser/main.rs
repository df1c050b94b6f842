//! Browser tests: the real `switchboard` binary (started by the e2e harness on
//! free loopback ports with a temporary data dir) driven through headless
//! Chromium by chromedriver (Debian packages `chromium` and `chromium-driver`,
//! which `tests/run` installs when missing). Every test starts its own server,
//! chromedriver and browser, so tests run in parallel. On failure the test saves
//! a screenshot and the page's HTML under `tests/artifacts/` and prints the tail
//! of the server log.

// The e2e harness is shared, not copied; this crate uses only part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
// SIPp runs (the registration test), shared with the e2e tests likewise.
#[allow(dead_code)]
#[path = "../e2e/sipp.rs"]
mod sipp;

mod driver;
mod flows;

mod account;
mod departments;
mod extensions;
mod ivr;
mod language;
mod layout;
mod media;
mod registrations;
mod tokens;
mod users;
