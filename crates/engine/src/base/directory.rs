//! The extensions the engine knows, cached in memory (read on every REGISTER and
//! INVITE) and refreshed from the database when its change counter moves, so
//! edits from the CLI or the web apply without a restart.

use dashmap::DashMap;
use std::sync::Arc;
use store::{Extension, Store};

/// In-memory copy of the extensions table.
#[derive(Clone)]
pub struct Directory {
    map: Arc<DashMap<String, Arc<Extension>>>,
    /// The change counter last loaded; [`NOT_LOADED`] before the first load
    /// (so an empty table is loaded once, not on every refresh).
    version: Arc<std::sync::atomic::AtomicI64>,
}

/// The version of a directory never loaded (the counter starts at 0).
const NOT_LOADED: i64 = -1;

impl Default for Directory {
    fn default() -> Self {
        Directory {
            map: Arc::default(),
            version: Arc::new(std::sync::atomic::AtomicI64::new(NOT_LOADED)),
        }
    }
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
        if v == self.version.load(SeqCst) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reloads_only_when_the_change_counter_moves_even_when_empty() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let d = Directory::default();
        assert_eq!(d.refresh(&store).await.unwrap(), Some(vec![]));
        assert_eq!(d.refresh(&store).await.unwrap(), None, "empty, unchanged");
        let ext = Extension {
            number: "1001".into(),
            password: "secret".into(),
            enabled: true,
            ..Default::default()
        };
        store.add_extensions(&[ext]).await.unwrap();
        assert_eq!(d.refresh(&store).await.unwrap(), Some(vec![]));
        assert!(d.get("1001").is_some());
        assert_eq!(d.refresh(&store).await.unwrap(), None);
        store
            .remove_extensions(&["1001".to_string()])
            .await
            .unwrap();
        assert_eq!(
            d.refresh(&store).await.unwrap(),
            Some(vec!["1001".to_string()])
        );
        assert!(d.is_empty());
    }
}
