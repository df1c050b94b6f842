//! Telling a process that settings changed, without it polling every area.
//!
//! Every write to a configuration area (extensions, call-center settings,
//! voice-platform lists) bumps the area's counter in `config_versions` in
//! the same transaction. On PostgreSQL that transaction also sends
//! `NOTIFY switchboard_settings, 'AREA'`, which the server delivers to every
//! listening connection when (and only if) it commits: [`Store::watch_settings`]
//! listens and forwards each one. SQLite has no notifications: there the
//! watch reads the counters every [`SETTINGS_POLL_INTERVAL`] (one small
//! query) and reports those that moved, so the caller sees one behaviour on
//! both backends.

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions, Postgres};
use tokio::sync::mpsc;

use crate::db::Db;
use crate::{Backends, Store, StoreError};

/// The PostgreSQL notification channel the store sends settings changes on
/// (the payload is the area's name, e.g. `"callcenter"`).
pub const SETTINGS_CHANNEL: &str = "switchboard_settings";

/// How often the SQLite watch reads the change counters.
pub const SETTINGS_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long the PostgreSQL watch waits before listening again after losing
/// its connection (doubling up to [`MAX_RECONNECT_DELAY`]).
const RECONNECT_DELAY: Duration = Duration::from_millis(250);

/// The longest wait between two attempts to listen again.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// Changes a watch reports before its reader takes them; beyond that the
/// watch waits for the reader (a reader that reloads everything on
/// [`SettingsChange::Resync`] can never fall far behind).
const QUEUE: usize = 64;

/// What a [`SettingsWatch`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsChange {
    /// The settings of this area changed: [`crate::EXTENSIONS_VERSION`],
    /// [`crate::CALLCENTER_VERSION`] or [`crate::VOICE_VERSION`] (or an
    /// area added later).
    Changed(String),
    /// Changes may have been missed (the connection to PostgreSQL was lost
    /// and is listening again): reload every area.
    Resync,
}

/// A stream of settings changes from [`Store::watch_settings`]. Dropping it
/// stops the background task (and on PostgreSQL closes its connection).
#[derive(Debug)]
pub struct SettingsWatch {
    rx: mpsc::Receiver<SettingsChange>,
    task: tokio::task::JoinHandle<()>,
}

impl SettingsWatch {
    /// The next change; `None` once the store is closed.
    pub async fn recv(&mut self) -> Option<SettingsChange> {
        self.rx.recv().await
    }
}

impl Drop for SettingsWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Store {
    /// Starts watching for settings changes made by any process using this
    /// database (this one included). On PostgreSQL a dedicated connection
    /// LISTENs (changes arrive as their transactions commit); on SQLite the
    /// counters are read every [`SETTINGS_POLL_INTERVAL`]. Changes made
    /// before this call are not reported.
    ///
    /// Fails if the first LISTEN (or the first read of the counters) fails;
    /// afterwards a lost PostgreSQL connection is re-established in the
    /// background and reported as [`SettingsChange::Resync`].
    pub async fn watch_settings(&self) -> Result<SettingsWatch, StoreError> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = match &self.db {
            Backends::Postgres(db) => {
                let listener = listen(db).await?;
                tokio::spawn(run_listener(db.clone(), listener, tx))
            }
            Backends::Sqlite(_) => {
                let first = self.config_versions().await?;
                tokio::spawn(run_poller(self.clone(), first, tx))
            }
        };
        Ok(SettingsWatch { rx, task })
    }
}

/// A connection LISTENing on [`SETTINGS_CHANNEL`], with `db`'s connect
/// options but outside its pool (a listener holds its connection for good:
/// taken from the pool, it would leave one fewer for the queries).
async fn listen(db: &Db<Postgres>) -> Result<PgListener, StoreError> {
    let own = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*db.pool.connect_options()).clone());
    let mut listener = PgListener::connect_with(&own)
        .await
        .map_err(crate::db::db_err("listening for settings changes"))?;
    listener
        .listen(SETTINGS_CHANNEL)
        .await
        .map_err(crate::db::db_err("listening for settings changes"))?;
    Ok(listener)
}

/// Forwards notifications until the reader goes away or the store is
/// closed. A lost connection is replaced by a new LISTEN (the old one's
/// notifications are gone), then [`SettingsChange::Resync`] is sent.
async fn run_listener(
    db: Db<Postgres>,
    mut listener: PgListener,
    tx: mpsc::Sender<SettingsChange>,
) {
    loop {
        let received = tokio::select! {
            _ = tx.closed() => return,
            _ = db.pool.close_event() => return,
            r = listener.try_recv() => r,
        };
        match received {
            Ok(Some(n)) => {
                if tx
                    .send(SettingsChange::Changed(n.payload().to_string()))
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Ok(None) => tracing::warn!("settings listener lost its connection to PostgreSQL"),
            Err(e) => tracing::warn!(error = %e, "settings listener failed"),
        }
        let mut delay = RECONNECT_DELAY;
        listener = loop {
            if db.pool.is_closed() {
                return;
            }
            tokio::select! {
                _ = tx.closed() => return,
                _ = db.pool.close_event() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            match listen(&db).await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::debug!(error = %e, "settings listener: PostgreSQL not back yet");
                    delay = (delay * 2).min(MAX_RECONNECT_DELAY);
                }
            }
        };
        tracing::info!("settings listener listening again");
        if tx.send(SettingsChange::Resync).await.is_err() {
            return;
        }
    }
}

/// Reads the counters every [`SETTINGS_POLL_INTERVAL`] and reports those
/// that moved (or appeared) since the last read.
async fn run_poller(
    store: Store,
    mut last: BTreeMap<String, i64>,
    tx: mpsc::Sender<SettingsChange>,
) {
    let mut tick = tokio::time::interval(SETTINGS_POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            _ = tick.tick() => {}
        }
        let now = match store.config_versions().await {
            Ok(v) => v,
            Err(e) => {
                // A closed store ends the watch; anything else (a busy
                // file) is tried again at the next tick.
                if store.is_closed() {
                    return;
                }
                tracing::debug!(error = %e, "settings poll failed");
                continue;
            }
        };
        for (area, version) in &now {
            if last.get(area) != Some(version)
                && tx
                    .send(SettingsChange::Changed(area.clone()))
                    .await
                    .is_err()
            {
                return;
            }
        }
        last = now;
    }
}

impl Store {
    /// Whether [`Store::close`] was called (on this handle or a clone).
    pub fn is_closed(&self) -> bool {
        match &self.db {
            Backends::Sqlite(db) => db.pool.is_closed(),
            Backends::Postgres(db) => db.pool.is_closed(),
        }
    }
}
