//! The state every handler shares.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use engine::Engine;
use store::Store;

use crate::auth::throttle::LoginThrottle;
use crate::metrics::WebMetrics;

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
    /// Whether the SMS gateway may be on a loopback, link-local or cloud
    /// metadata address (`web.sms_allow_private_targets`; tests with a
    /// gateway on 127.0.0.1).
    pub sms_allow_private_targets: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_idle: Duration::from_secs(2 * 3600),
            session_absolute: Duration::from_secs(12 * 3600),
            max_form_bytes: 256 * 1024,
            page_size: 20,
            sms_allow_private_targets: false,
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
    metrics: Arc<WebMetrics>,
    /// The name shown in the header and titles (system setting).
    site_name: RwLock<String>,
    /// The agent desks' push hub (idle until the engine's is started).
    desk: RwLock<Arc<crate::desk::hub::DeskHub>>,
    /// Where each user's voice toolbar is logged in.
    desk_logins: crate::desk::Logins,
    /// The data dir when there is no engine (tests): attachments go there.
    data_dir: RwLock<Option<std::path::PathBuf>>,
    /// The recordings directory when there is no engine (tests).
    recordings_dir: RwLock<Option<std::path::PathBuf>>,
}

impl AppState {
    /// State for a running engine: its database and its live state.
    pub fn for_engine(engine: Arc<Engine>) -> AppState {
        let store = engine.ctx().store.clone();
        let settings = Settings {
            sms_allow_private_targets: engine.ctx().cfg.web.sms_allow_private_targets,
            ..Settings::default()
        };
        AppState::new(store, Some(engine), settings)
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
                metrics: Arc::default(),
                site_name: RwLock::new(
                    crate::pages::system::settings::DEFAULT_SITE_NAME.to_string(),
                ),
                desk: RwLock::new(crate::desk::hub::DeskHub::idle()),
                desk_logins: crate::desk::Logins::default(),
                data_dir: RwLock::new(None),
                recordings_dir: RwLock::new(None),
            }),
        }
    }

    /// The data dir (`server.data_dir`; attachments live under it): the
    /// engine's, or the one set with [`AppState::set_data_dir`].
    pub fn data_dir(&self) -> Option<std::path::PathBuf> {
        if let Some(e) = &self.inner.engine {
            return Some(e.ctx().cfg.server.data_dir.clone());
        }
        self.inner
            .data_dir
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sets the data dir of a state without an engine (tests).
    pub fn set_data_dir(&self, dir: std::path::PathBuf) {
        *self
            .inner
            .data_dir
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(dir);
    }

    /// Where the engine writes recordings (`recording.dir`): the engine's,
    /// or the one set with [`AppState::set_recordings_dir`]. Recordings are
    /// served from under it only.
    pub fn recordings_dir(&self) -> Option<std::path::PathBuf> {
        if let Some(e) = &self.inner.engine {
            return Some(e.ctx().cfg.recording.dir.clone());
        }
        self.inner
            .recordings_dir
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Where the engine writes voicemail (`voicemail.dir`): the engine's,
    /// or, without one (tests), `voicemail` beside the recordings
    /// directory set with [`AppState::set_recordings_dir`].
    pub fn voicemail_dir(&self) -> Option<std::path::PathBuf> {
        if let Some(e) = &self.inner.engine {
            return Some(e.ctx().cfg.voicemail.dir.clone());
        }
        self.recordings_dir()
            .and_then(|r| r.parent().map(|p| p.join("voicemail")))
    }

    /// Sets the recordings directory of a state without an engine (tests).
    pub fn set_recordings_dir(&self, dir: std::path::PathBuf) {
        *self
            .inner
            .recordings_dir
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(dir);
    }

    /// The agent desks' push hub.
    pub fn desk(&self) -> Arc<crate::desk::hub::DeskHub> {
        self.inner
            .desk
            .read()
            .map(|h| h.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Puts the engine's desk hub in place (at start-up).
    pub fn set_desk(&self, hub: Arc<crate::desk::hub::DeskHub>) {
        match self.inner.desk.write() {
            Ok(mut h) => *h = hub,
            Err(e) => *e.into_inner() = hub,
        }
    }

    /// Where users' voice toolbars are logged in.
    pub fn desk_logins(&self) -> &crate::desk::Logins {
        &self.inner.desk_logins
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

    /// The web module's counters (shared with the HTTP listener).
    pub fn metrics(&self) -> &Arc<WebMetrics> {
        &self.inner.metrics
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The name shown in the header and titles.
    pub fn site_name(&self) -> String {
        match self.inner.site_name.read() {
            Ok(n) => n.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Changes the name shown (after the setting was saved).
    pub fn set_site_name(&self, name: &str) {
        match self.inner.site_name.write() {
            Ok(mut n) => *n = name.to_string(),
            Err(poisoned) => *poisoned.into_inner() = name.to_string(),
        }
    }

    /// Reads the stored system settings that the web module keeps in
    /// memory (the site name).
    pub async fn load_settings(&self) {
        match self.store().settings().await {
            Ok(s) => {
                if let Some(name) = s.get("system.name").filter(|n| !n.is_empty()) {
                    self.set_site_name(name);
                }
            }
            Err(e) => tracing::warn!("system settings not read: {e}"),
        }
    }
}
