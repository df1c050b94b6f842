//! The CDR writer: one task that batches call records into one transaction
//! (single-row commits would not keep up with 1,500 calls/s) and retries on
//! database errors, so no record is lost while the process lives.
//!
//! So that none is lost when the process dies either, an answered call's row
//! is written at answer, in progress, and completed in place at the end
//! (same `call_uid`); every `heartbeat` the rows in progress get their "last
//! seen" time refreshed, and the next start ends them at that time
//! ([`store::Store::close_in_progress_cdrs`], cause `SERVER_RESTART`).

use crate::base::metrics::Metrics;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use store::{Cdr, Store};
use tokio::sync::mpsc;

/// Rows written per transaction at most.
const BATCH: usize = 1000;

/// A fresh `call_uid`: 128 random bits, so ids of calls of different runs
/// (and of a crashed run's rows) never collide.
pub(crate) fn new_call_uid() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// Rows waiting for the next transaction. Several writes of one call (its
/// answer and its end, when the call is shorter than a batch) collapse into
/// the last one, so short calls still cost one row write.
#[derive(Default)]
struct Batch {
    rows: Vec<Cdr>,
    /// Index in `rows` of each call_uid.
    by_uid: HashMap<String, usize>,
}

impl Batch {
    fn push(&mut self, cdr: Cdr) {
        match cdr.call_uid.clone() {
            Some(uid) => match self.by_uid.get(&uid) {
                Some(&i) => self.rows[i] = cdr,
                None => {
                    self.by_uid.insert(uid, self.rows.len());
                    self.rows.push(cdr);
                }
            },
            None => self.rows.push(cdr),
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Run until `stop` fires (or every sender is gone), then write what is queued.
/// `heartbeat` is how often the rows of calls in progress are touched.
pub async fn run(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Cdr>,
    metrics: Arc<Metrics>,
    heartbeat: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut batch = Batch::default();
    // The call_uids of the rows this process wrote in progress and has not
    // completed yet: no heartbeat write while there are none.
    let mut open: HashSet<String> = HashSet::new();
    let mut tick = tokio::time::interval(heartbeat.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let first = tokio::select! {
            m = rx.recv() => m,
            _ = tick.tick() => {
                touch(&store, &open, &metrics).await;
                continue;
            }
            _ = &mut stop => None,
        };
        let Some(first) = first else { break };
        batch.push(first);
        // Gather what else is already queued, and a little more, before committing.
        let gather = tokio::time::sleep(Duration::from_millis(50));
        tokio::pin!(gather);
        while batch.len() < BATCH {
            tokio::select! {
                m = rx.recv() => match m { Some(c) => batch.push(c), None => break },
                _ = &mut gather => break,
            }
        }
        write(&store, &mut batch, &mut open, &metrics).await;
    }
    while let Ok(c) = rx.try_recv() {
        batch.push(c);
    }
    write(&store, &mut batch, &mut open, &metrics).await;
}

/// Writes the batch, retrying until the database takes it.
async fn write(store: &Store, batch: &mut Batch, open: &mut HashSet<String>, metrics: &Metrics) {
    let mut delay = Duration::from_millis(100);
    while !batch.rows.is_empty() {
        match store.upsert_cdrs(&batch.rows).await {
            Ok(()) => {
                let mut ended = 0;
                for row in &batch.rows {
                    match (&row.call_uid, row.in_progress) {
                        (Some(uid), true) => {
                            open.insert(uid.clone());
                        }
                        (uid, false) => {
                            ended += 1;
                            if let Some(uid) = uid {
                                open.remove(uid);
                            }
                        }
                        (None, true) => {}
                    }
                }
                metrics.cdrs_written.fetch_add(ended, Relaxed);
                batch.rows.clear();
                batch.by_uid.clear();
            }
            Err(e) => {
                metrics.cdr_write_errors.fetch_add(1, Relaxed);
                tracing::error!("writing {} CDRs failed, retrying: {e}", batch.len());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Notes that the calls in progress are still up. A failure is only logged:
/// the next tick tries again, and meanwhile the rows keep an older time.
async fn touch(store: &Store, open: &HashSet<String>, metrics: &Metrics) {
    if open.is_empty() {
        return;
    }
    let now = i64::try_from(crate::base::context::now_ms()).unwrap_or(i64::MAX);
    if let Err(e) = store.touch_in_progress_cdrs(now).await {
        metrics.cdr_write_errors.fetch_add(1, Relaxed);
        tracing::warn!("refreshing {} CDRs in progress failed: {e}", open.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(uid: Option<&str>, in_progress: bool) -> Cdr {
        Cdr {
            call_uid: uid.map(str::to_string),
            in_progress,
            ..Cdr::default()
        }
    }

    #[test]
    fn a_call_answered_and_ended_within_one_batch_is_one_row() {
        let mut batch = Batch::default();
        batch.push(row(Some("a"), true));
        batch.push(row(Some("b"), true));
        batch.push(row(None, false));
        batch.push(row(None, false));
        batch.push(row(Some("a"), false));
        let got: Vec<(Option<&str>, bool)> = batch
            .rows
            .iter()
            .map(|r| (r.call_uid.as_deref(), r.in_progress))
            .collect();
        assert_eq!(
            got,
            [
                (Some("a"), false),
                (Some("b"), true),
                (None, false),
                (None, false)
            ]
        );
    }

    #[test]
    fn call_uids_are_distinct() {
        let uids: HashSet<String> = (0..10_000).map(|_| new_call_uid()).collect();
        assert_eq!(uids.len(), 10_000);
        assert!(uids.iter().all(|u| u.len() == 32));
    }
}
