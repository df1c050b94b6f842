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

mod driver;
mod flows;

mod account;
mod departments;
mod language;
mod layout;
mod tokens;
mod users;
