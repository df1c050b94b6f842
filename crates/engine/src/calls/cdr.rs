//! The CDR writer: one task that batches call records into one transaction
//! (single-row commits would not keep up with 1,500 calls/s) and retries on
//! database errors, so no record is lost while the process lives.
//!
//! So that none is lost when the process dies either, an answered call's row
//! is written at answer, in progress, and completed in place at the end
//! (same `call_uid`); every `heartbeat` the rows in progress get their "last
//! seen" time refreshed, and the next start ends them at that time
//! ([`store::Store::close_in_progress_cdrs`], cause `SERVER_RESTART`).

use crate::base::events::{Event, EventBus};
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

/// Where the writer keeps what it cannot hold in memory while the database
/// is away, and how much it holds in memory first.
#[derive(Clone, Debug)]
pub struct Backlog {
    /// Rows kept in memory while writes fail; beyond this, rows go to the
    /// journal file.
    pub max_in_memory: usize,
    /// The journal: one JSON row per line, appended while the database is
    /// away and written to it (then removed) once it is back, also at the
    /// next start.
    pub journal: std::path::PathBuf,
}

/// Run until `stop` fires (or every sender is gone), then write what is queued.
/// `heartbeat` is how often the rows of calls in progress are touched. Each
/// batch written is announced on `events` ([`Event::RecordsStored`], with the
/// parties of its complete calls).
///
/// While the database is away (a server restart, a lost connection) calls go
/// on: their rows wait in memory, up to `backlog.max_in_memory`, then in the
/// journal file, and are written when a retry succeeds (every 0.1 s at
/// first, backing off to 5 s). `/metrics` shows the backlog.
pub async fn run(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Cdr>,
    metrics: Arc<Metrics>,
    events: EventBus,
    heartbeat: Duration,
    backlog: Backlog,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut w = Writer {
        store,
        metrics,
        events,
        backlog,
        batch: Batch::default(),
        open: HashSet::new(),
        failing: false,
        delay: RETRY_FIRST,
        journal_rows: 0,
        queued: 0,
    };
    // A journal left by a run that stopped while the database was away.
    w.journal_rows = journal::count(&w.backlog.journal);
    w.publish_backlog();
    let mut tick = tokio::time::interval(heartbeat.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let retry = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(retry);
    loop {
        w.queued = rx.len();
        w.publish_backlog();
        let first = tokio::select! {
            m = rx.recv() => m,
            _ = tick.tick() => {
                if !w.failing {
                    touch(&w.store, &w.open, &w.metrics).await;
                }
                continue;
            }
            _ = &mut retry, if w.failing || w.journal_rows > 0 => {
                w.flush().await;
                retry.as_mut().reset(tokio::time::Instant::now() + w.delay);
                continue;
            }
            _ = &mut stop => None,
        };
        let Some(first) = first else { break };
        w.push(first);
        // Gather what else is already queued, and a little more, before committing.
        let gather = tokio::time::sleep(Duration::from_millis(50));
        tokio::pin!(gather);
        while w.batch.len() < BATCH || w.failing {
            tokio::select! {
                m = rx.recv() => match m { Some(c) => w.push(c), None => break },
                _ = &mut gather => break,
            }
        }
        if !w.failing {
            w.flush().await;
            retry.as_mut().reset(tokio::time::Instant::now() + w.delay);
        }
    }
    while let Ok(c) = rx.try_recv() {
        w.push(c);
    }
    w.flush().await;
    if w.failing {
        // Stopping with the database away: what is in memory goes to the
        // journal, which the next start writes.
        let rows = std::mem::take(&mut w.batch.rows);
        w.batch.by_uid.clear();
        w.spill(rows);
    }
}

/// How long one write may take before it counts as failed: a database that
/// went away can leave a write waiting for a connection for much longer (the
/// pool keeps trying to connect), and meanwhile records would only pile up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The first retry delay after a failed write; doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest wait between retries while the database is away.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The writer's state across batches.
struct Writer {
    store: Store,
    metrics: Arc<Metrics>,
    /// Where written batches are announced.
    events: EventBus,
    backlog: Backlog,
    batch: Batch,
    /// The call_uids of the rows this process wrote in progress and has not
    /// completed yet: no heartbeat write while there are none.
    open: HashSet<String>,
    /// The last write failed: rows are kept until a retry succeeds.
    failing: bool,
    delay: Duration,
    /// Rows in the journal file.
    journal_rows: u64,
    /// Rows still in the channel, as of the last look.
    queued: usize,
}

impl Writer {
    fn push(&mut self, cdr: Cdr) {
        self.batch.push(cdr);
        self.bound();
        self.publish_backlog();
    }

    /// While writes fail, keeps at most `max_in_memory` rows in memory.
    fn bound(&mut self) {
        if self.failing && self.batch.len() > self.backlog.max_in_memory {
            // Keep the newest in memory (their calls may still complete them);
            // the oldest go to disk.
            let over = self.batch.len() - self.backlog.max_in_memory;
            let rows: Vec<Cdr> = self.batch.rows.drain(..over).collect();
            self.batch.by_uid = self
                .batch
                .rows
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.call_uid.clone().map(|u| (u, i)))
                .collect();
            self.spill(rows);
        }
    }

    /// Appends rows to the journal; should even that fail, they stay in
    /// memory (unbounded then: losing records is worse).
    fn spill(&mut self, rows: Vec<Cdr>) {
        if rows.is_empty() {
            return;
        }
        match journal::append(&self.backlog.journal, &rows) {
            Ok(()) => {
                self.journal_rows += rows.len() as u64;
                tracing::warn!(
                    "database away: {} CDRs kept in {}",
                    self.journal_rows,
                    self.backlog.journal.display()
                );
            }
            Err(e) => {
                tracing::error!(
                    "cannot write the CDR journal {}: {e}; keeping {} rows in memory",
                    self.backlog.journal.display(),
                    rows.len()
                );
                for r in rows {
                    self.batch.push(r);
                }
            }
        }
        self.publish_backlog();
    }

    fn publish_backlog(&self) {
        self.metrics.cdr_backlog.store(
            self.batch.len() as u64 + self.journal_rows + self.queued as u64,
            Relaxed,
        );
        self.metrics
            .cdr_journal_rows
            .store(self.journal_rows, Relaxed);
    }

    /// Writes the journal (oldest first) and then the batch; one attempt
    /// each. On failure the rows stay and `failing` is set.
    async fn flush(&mut self) {
        if self.journal_rows > 0 && !self.replay_journal().await {
            return self.failed();
        }
        if self.batch.rows.is_empty() {
            self.recovered();
            return;
        }
        match write_once(&self.store, &self.batch.rows).await {
            Ok(()) => {
                for row in &self.batch.rows {
                    match (&row.call_uid, row.in_progress) {
                        (Some(uid), true) => {
                            self.open.insert(uid.clone());
                        }
                        (Some(uid), false) => {
                            self.open.remove(uid);
                        }
                        (None, _) => {}
                    }
                }
                committed(&self.metrics, &self.batch.rows);
                announce(&self.events, &self.batch.rows);
                self.batch.rows.clear();
                self.batch.by_uid.clear();
                self.recovered();
            }
            Err(e) => {
                if !self.failing {
                    tracing::error!(
                        "writing {} CDRs failed, keeping them: {e}",
                        self.batch.len()
                    );
                }
                self.failed();
            }
        }
        self.publish_backlog();
    }

    fn failed(&mut self) {
        self.metrics.cdr_write_errors.fetch_add(1, Relaxed);
        if self.failing {
            self.delay = (self.delay * 2).min(RETRY_MAX);
        }
        self.failing = true;
        self.bound();
    }

    fn recovered(&mut self) {
        if self.failing {
            tracing::info!("the database is back: CDR backlog written");
        }
        self.failing = false;
        self.delay = RETRY_FIRST;
    }

    /// Writes the journal's rows in batches and removes it; false when the
    /// database refused (the journal stays as it was: rows already written
    /// are written again, which the upsert makes harmless).
    async fn replay_journal(&mut self) -> bool {
        // Read a batch at a time: a long outage can leave more rows on disk
        // than the memory bound allows.
        let mut reader = match journal::Reader::open(&self.backlog.journal) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(
                    "cannot read the CDR journal {}: {e}; it is left in place",
                    self.backlog.journal.display()
                );
                self.journal_rows = 0;
                return true;
            }
        };
        let mut written = 0usize;
        loop {
            let chunk = match reader.next_chunk(BATCH) {
                Ok(c) if c.is_empty() => break,
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(
                        "reading the CDR journal {} failed after {written} rows: {e}; it is left in place",
                        self.backlog.journal.display()
                    );
                    self.journal_rows = 0;
                    return true;
                }
            };
            if let Err(e) = write_once(&self.store, &chunk).await {
                tracing::warn!("writing the CDR journal failed, will retry: {e}");
                return false;
            }
            written += chunk.len();
            committed(&self.metrics, &chunk);
        }
        if let Err(e) = std::fs::remove_file(&self.backlog.journal) {
            tracing::error!(
                "the CDR journal {} was written but cannot be removed: {e}",
                self.backlog.journal.display()
            );
        }
        tracing::info!("{written} CDRs from the journal written");
        self.journal_rows = 0;
        true
    }
}

/// Counts the complete rows among `rows`, just committed, and how long each
/// took from its call's end (rows of calls in progress are not counted).
fn committed(metrics: &Metrics, rows: &[Cdr]) {
    let now = i64::try_from(crate::base::context::now_ms()).unwrap_or(i64::MAX);
    let mut ended = 0;
    for row in rows.iter().filter(|r| !r.in_progress) {
        ended += 1;
        let ms = u64::try_from(now.saturating_sub(row.end_at)).unwrap_or(0);
        metrics.cdr_write_latency.observe(Duration::from_millis(ms));
    }
    metrics.cdrs_written.fetch_add(ended, Relaxed);
}

/// Tells the event bus's subscribers whose complete calls were just written.
fn announce(events: &EventBus, rows: &[Cdr]) {
    events.publish(|| {
        let mut parties: Vec<String> = rows
            .iter()
            .filter(|r| !r.in_progress)
            .flat_map(|r| [r.caller.clone(), r.callee.clone()])
            .filter(|p| !p.is_empty())
            .collect();
        parties.sort_unstable();
        parties.dedup();
        Event::RecordsStored { parties }
    });
}

/// One attempt at writing `rows`, bounded by [`WRITE_TIMEOUT`] (a dropped
/// write is rolled back).
async fn write_once(store: &Store, rows: &[Cdr]) -> Result<(), String> {
    match tokio::time::timeout(WRITE_TIMEOUT, store.upsert_cdrs(rows)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer from the database within {WRITE_TIMEOUT:?}"
        )),
    }
}

/// The journal file: JSON lines of [`Cdr`]. Blocking file I/O, only while
/// the database is away (the workspace's tokio build has no `fs`).
mod journal {
    use std::io::{BufRead, Write};
    use std::path::Path;
    use store::Cdr;

    pub(super) fn append(path: &Path, rows: &[Cdr]) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let mut out = std::io::BufWriter::new(file);
        for r in rows {
            serde_json::to_writer(&mut out, r)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        out.get_ref().sync_data()
    }

    /// Reads the journal's rows in order, a chunk at a time; a line that
    /// does not parse (a torn last write) is skipped with a warning.
    pub(super) struct Reader {
        lines: Option<std::io::Lines<std::io::BufReader<std::fs::File>>>,
        line_no: usize,
    }

    impl Reader {
        /// A reader of `path`; a missing file reads as empty.
        pub(super) fn open(path: &Path) -> std::io::Result<Reader> {
            let lines = match std::fs::File::open(path) {
                Ok(f) => Some(std::io::BufReader::new(f).lines()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            Ok(Reader { lines, line_no: 0 })
        }

        /// Up to `n` next rows; empty at the end.
        pub(super) fn next_chunk(&mut self, n: usize) -> std::io::Result<Vec<Cdr>> {
            let mut rows = Vec::new();
            let Some(lines) = self.lines.as_mut() else {
                return Ok(rows);
            };
            while rows.len() < n {
                let Some(line) = lines.next() else { break };
                let line = line?;
                self.line_no += 1;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Cdr>(&line) {
                    Ok(r) => rows.push(r),
                    Err(e) => tracing::warn!("CDR journal line {} skipped: {e}", self.line_no),
                }
            }
            Ok(rows)
        }
    }

    pub(super) fn count(path: &Path) -> u64 {
        std::fs::File::open(path)
            .map(|f| {
                std::io::BufReader::new(f)
                    .lines()
                    .map_while(Result::ok)
                    .filter(|l| !l.trim().is_empty())
                    .count() as u64
            })
            .unwrap_or(0)
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
    fn the_journal_reads_back_in_order_a_chunk_at_a_time_and_skips_a_torn_line() {
        let path = std::env::temp_dir().join(format!("cdr-journal-{}.jsonl", new_call_uid()));
        let rows: Vec<Cdr> = (0..5)
            .map(|i| row(Some(&format!("u{i}")), i % 2 == 0))
            .collect();
        journal::append(&path, &rows[..3]).unwrap();
        journal::append(&path, &rows[3..]).unwrap();
        // A write torn by a crash leaves half a line at the end.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"id\":nu"))
            .unwrap();
        assert_eq!(journal::count(&path), 6);
        let mut reader = journal::Reader::open(&path).unwrap();
        let first = reader.next_chunk(2).unwrap();
        let rest = reader.next_chunk(10).unwrap();
        assert_eq!(first, rows[..2]);
        assert_eq!(rest, rows[2..]);
        assert!(reader.next_chunk(10).unwrap().is_empty());
        std::fs::remove_file(&path).unwrap();
        // A missing journal reads as empty.
        let mut none = journal::Reader::open(&path).unwrap();
        assert!(none.next_chunk(10).unwrap().is_empty());
    }

    #[test]
    fn a_written_batch_is_announced_with_the_parties_of_its_complete_calls() {
        let bus = EventBus::new(8);
        let mut rx = bus.subscribe();
        let call = |caller: &str, callee: &str, in_progress: bool| Cdr {
            caller: caller.into(),
            callee: callee.into(),
            ..row(None, in_progress)
        };
        announce(
            &bus,
            &[
                call("1000", "1001", false),
                call("5551234", "1002", true),
                call("1001", "", false),
                call("1001", "2000", false),
            ],
        );
        let ev = rx.try_recv().expect("announced");
        let Event::RecordsStored { parties } = &*ev else {
            panic!("{ev:?}")
        };
        assert_eq!(parties, &["1000", "1001", "2000"], "a call still up is not");
    }

    #[test]
    fn call_uids_are_distinct() {
        let uids: HashSet<String> = (0..10_000).map(|_| new_call_uid()).collect();
        assert_eq!(uids.len(), 10_000);
        assert!(uids.iter().all(|u| u.len() == 32));
    }
}
