//! The CDR writer: one task that batches finished calls into one transaction
//! (single-row commits would not keep up with 1,500 calls/s) and retries on
//! database errors, so no record is lost while the process lives.

use crate::metrics::Metrics;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use store::{Cdr, Store};
use tokio::sync::mpsc;

/// Rows written per transaction at most.
const BATCH: usize = 1000;

/// Run until `stop` fires (or every sender is gone), then write what is queued.
pub async fn run(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Cdr>,
    metrics: Arc<Metrics>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut batch: Vec<Cdr> = Vec::with_capacity(BATCH);
    loop {
        let first = tokio::select! {
            m = rx.recv() => m,
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
        write(&store, &mut batch, &metrics).await;
    }
    while let Ok(c) = rx.try_recv() {
        batch.push(c);
    }
    write(&store, &mut batch, &metrics).await;
}

async fn write(store: &Store, batch: &mut Vec<Cdr>, metrics: &Metrics) {
    let mut delay = Duration::from_millis(100);
    while !batch.is_empty() {
        match store.insert_cdrs(batch).await {
            Ok(()) => {
                metrics.cdrs_written.fetch_add(batch.len() as u64, Relaxed);
                batch.clear();
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
