//! The state every handler shares.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use engine::Engine;
use store::Store;

use crate::auth::throttle::LoginThrottle;

/// Tunables of the web module.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, whatever the activity.
    pub session_absolute: Duration,
    /// Largest form body accepted (bytes).
    pub max_form_bytes: usize,
    /// Users per page of the user list.
    pub page_size: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_idle: Duration::from_secs(2 * 3600),
            session_absolute: Duration::from_secs(12 * 3600),
            max_form_bytes: 256 * 1024,
            page_size: 20,
        }
    }
}

/// Shared state: the database, the engine (live state), the sign-in
/// throttle and the settings. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    engine: Option<Arc<Engine>>,
    throttle: Mutex<LoginThrottle>,
    settings: Settings,
}

impl AppState {
    /// State for a running engine: its database and its live state.
    pub fn for_engine(engine: Arc<Engine>) -> AppState {
        let store = engine.ctx().store.clone();
        AppState::new(store, Some(engine), Settings::default())
    }

    /// State from parts. Without an engine (tests of the pages), the live
    /// parts answer "engine not running" (503 on the API).
    pub fn new(store: Store, engine: Option<Arc<Engine>>, settings: Settings) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                store,
                engine,
                throttle: Mutex::new(LoginThrottle::new()),
                settings,
            }),
        }
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The engine, when one runs in this process.
    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.inner.engine.as_ref()
    }

    /// The sign-in throttle (a poisoned lock is recovered: the limiter's
    /// state is always consistent between calls).
    pub fn throttle(&self) -> MutexGuard<'_, LoginThrottle> {
        self.inner
            .throttle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }
}
