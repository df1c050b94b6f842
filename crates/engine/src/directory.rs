//! The extensions the engine knows, cached in memory (read on every REGISTER and
//! INVITE) and refreshed from the database when its change counter moves, so
//! edits from the CLI or the web apply without a restart.

use dashmap::DashMap;
use std::sync::Arc;
use store::{Extension, Store};

/// In-memory copy of the extensions table.
#[derive(Clone, Default)]
pub struct Directory {
    map: Arc<DashMap<String, Arc<Extension>>>,
    version: Arc<std::sync::atomic::AtomicI64>,
}

impl Directory {
    /// Look an extension up by number.
    pub fn get(&self, number: &str) -> Option<Arc<Extension>> {
        self.map.get(number).map(|e| e.value().clone())
    }

    /// Number of extensions.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Reload if the database's change counter moved; returns the numbers removed.
    pub async fn refresh(&self, store: &Store) -> Result<Option<Vec<String>>, store::StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let v = store.config_version("extensions").await?;
        if v == self.version.load(SeqCst) && !self.map.is_empty() {
            return Ok(None);
        }
        let all = store.list_extensions().await?;
        let fresh: std::collections::HashSet<&str> =
            all.iter().map(|e| e.number.as_str()).collect();
        let removed: Vec<String> = self
            .map
            .iter()
            .filter(|e| !fresh.contains(e.key().as_str()))
            .map(|e| e.key().clone())
            .collect();
        for r in &removed {
            self.map.remove(r);
        }
        for e in all {
            self.map.insert(e.number.clone(), Arc::new(e));
        }
        self.version.store(v, SeqCst);
        Ok(Some(removed))
    }
}
