//! Uploaded audio files: `decode_bytes` must answer Ok or Err for any bytes,
//! never panic. symphonia has panicked on malformed files before, and
//! `decode_bytes` is meant to catch that itself: this target checks it does.
//!
//! libfuzzer-sys installs a panic hook that aborts on every panic, even one
//! that is going to be caught. Here the hook lets panics raised inside
//! `decode_bytes` unwind (printing each new panic location once, so caught
//! decoder panics show up in the log), and the target aborts with the
//! recorded message and backtrace only if one escapes `decode_bytes`.
//!
//! Seeds: tiny WAV files (see README.md); the corpus is not kept in the
//! repository.
#![no_main]
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, Once};

use libfuzzer_sys::fuzz_target;

thread_local! {
    /// Set while `decode_bytes` runs.
    static DECODING: Cell<bool> = const { Cell::new(false) };
    /// The last panic raised while decoding: message, location, backtrace.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let fuzzer_hook = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !DECODING.with(Cell::get) {
                return fuzzer_hook(info);
            }
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_else(|| "unknown location".into());
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let backtrace = std::backtrace::Backtrace::force_capture();
            let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
            if seen.get_or_insert_with(HashSet::new).insert(location.clone()) {
                eprintln!("media_file_decode: panic inside decode_bytes at {location}: {message}");
            }
            LAST_PANIC.with(|p| {
                *p.borrow_mut() = Some(format!("{message}\n  at {location}\n{backtrace}"))
            });
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    install_hook();
    DECODING.with(|d| d.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        media::audio_file::decode_bytes("fuzz.wav", data.to_vec(), 8000)
    }));
    DECODING.with(|d| d.set(false));
    match result {
        Ok(Ok(pcm)) => {
            assert_eq!(pcm.rate, 8000);
        }
        Ok(Err(e)) => {
            let _ = e.to_string();
        }
        Err(_) => {
            let what = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
            eprintln!("media_file_decode: a panic escaped decode_bytes: {what}");
            std::process::abort();
        }
    }
});
