//! The voice platform's lists, as calls use them: the trunk profile's
//! access list (who may send INVITEs to 5080), the blacklist (callers whose
//! calls are refused) and the number pool (outside caller-ID numbers). The
//! database holds them ([`store::VoiceList`]); the config file's
//! `[trunk] acl` seeds the access list on first run. Changes are checked
//! here, written, and applied at once; a change written by another process
//! is picked up by the refresh loop through the `voice` change counter.

use crate::base::acl::{Acl, Cidr};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use store::{Store, VoiceList};

/// What calls check, replaced whole on every change.
#[derive(Clone, Debug, Default)]
pub struct Lists {
    /// Networks allowed on the trunk profile.
    pub acl: Acl,
    /// Refused caller numbers.
    pub blacklist: HashSet<String>,
    /// Outside caller-ID numbers.
    pub number_pool: Vec<String>,
}

impl Lists {
    /// Is a call from `number` refused?
    pub fn blacklisted(&self, number: &str) -> bool {
        !number.is_empty() && self.blacklist.contains(number)
    }
}

/// The lists in force, and the change counter they were read at.
#[derive(Default)]
pub struct VoiceLists {
    current: RwLock<Arc<Lists>>,
    version: std::sync::atomic::AtomicI64,
}

/// A value a list cannot hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListError {
    /// The value at fault.
    pub value: String,
    /// Why.
    pub message: String,
}

impl std::fmt::Display for ListError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "'{}': {}", self.value, self.message)
    }
}

impl std::error::Error for ListError {}

/// Checks `value` for `list` and returns it as stored (trimmed; a network
/// in its written form).
pub fn check_value(list: VoiceList, value: &str) -> Result<String, ListError> {
    let v = value.trim();
    let err = |message: String| ListError {
        value: v.to_string(),
        message,
    };
    match list {
        VoiceList::Acl => Cidr::parse(v).map(|_| v.to_string()).map_err(err),
        VoiceList::Blacklist | VoiceList::NumberPool | VoiceList::Dnc => {
            if v.is_empty() || v.len() > 32 {
                return Err(err("a number has 1 to 32 characters".into()));
            }
            if let Some(bad) = v
                .chars()
                .enumerate()
                .find(|(i, c)| !(c.is_ascii_digit() || "*#".contains(*c) || (*i == 0 && *c == '+')))
            {
                return Err(err(format!(
                    "'{}' is not allowed in a number (digits, * and #, + first)",
                    bad.1
                )));
            }
            Ok(v.to_string())
        }
    }
}

impl VoiceLists {
    /// The lists in force (cheap: a shared pointer).
    pub fn get(&self) -> Arc<Lists> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn set(&self, lists: Lists) {
        let lists = Arc::new(lists);
        match self.current.write() {
            Ok(mut g) => *g = lists,
            Err(poisoned) => *poisoned.into_inner() = lists,
        }
    }

    /// Reads the lists from `store` if its `voice` counter moved since the
    /// last read (or `force`). A stored value that no longer parses is
    /// skipped with a warning rather than dropping the whole list.
    pub async fn refresh(&self, store: &Store, force: bool) -> Result<bool, store::StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let v = store.config_version(store::VOICE_VERSION).await?;
        if !force && v == self.version.load(SeqCst) {
            return Ok(false);
        }
        let mut lists = Lists::default();
        let mut nets = Vec::new();
        for e in store.list_entries(VoiceList::Acl).await? {
            match Cidr::parse(&e.value) {
                Ok(c) => nets.push(c),
                Err(why) => tracing::warn!("access list entry skipped: {why}"),
            }
        }
        lists.acl = Acl::from_networks(nets);
        lists.blacklist = store
            .list_entries(VoiceList::Blacklist)
            .await?
            .into_iter()
            .map(|e| e.value)
            .collect();
        lists.number_pool = store
            .list_entries(VoiceList::NumberPool)
            .await?
            .into_iter()
            .map(|e| e.value)
            .collect();
        self.set(lists);
        self.version.store(v, SeqCst);
        Ok(true)
    }

    /// Loads the lists at start; on first run the access list is seeded
    /// from the config file's `[trunk] acl`.
    pub async fn load_at_start(&self, store: &Store, seed_acl: &[String]) -> anyhow::Result<()> {
        use anyhow::Context;
        let never_written = store
            .config_version(store::VOICE_VERSION)
            .await
            .context("reading the voice lists")?
            == 0;
        if never_written && !seed_acl.is_empty() {
            let entries = seed_acl
                .iter()
                .map(|v| {
                    check_value(VoiceList::Acl, v)
                        .map(|v| (v, "from the config file".to_string()))
                        .map_err(|e| anyhow::anyhow!("trunk.acl: {e}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            store
                .add_list_entries(VoiceList::Acl, &entries)
                .await
                .context("seeding the access list")?;
            tracing::info!(
                "access list seeded from the config file ({} networks)",
                entries.len()
            );
        }
        self.refresh(store, true)
            .await
            .context("reading the voice lists")?;
        Ok(())
    }

    /// Adds `(value, note)` pairs to `list` after checking every value (one
    /// bad value refuses all); returns the values added and those already
    /// there.
    pub async fn add(
        &self,
        store: &Store,
        list: VoiceList,
        entries: &[(String, String)],
    ) -> Result<store::AddReport, AddError> {
        let checked = entries
            .iter()
            .map(|(v, n)| check_value(list, v).map(|v| (v, n.trim().to_string())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(AddError::Invalid)?;
        let report = store
            .add_list_entries(list, &checked)
            .await
            .map_err(AddError::Store)?;
        self.refresh(store, true).await.map_err(AddError::Store)?;
        Ok(report)
    }

    /// Removes `value` from `list`; whether it was there.
    pub async fn remove(
        &self,
        store: &Store,
        list: VoiceList,
        value: &str,
    ) -> Result<bool, store::StoreError> {
        let removed = store.remove_list_entry(list, value).await?;
        self.refresh(store, true).await?;
        Ok(removed)
    }
}

/// Why values were not added.
#[derive(Debug)]
pub enum AddError {
    /// A value the list cannot hold (nothing was added).
    Invalid(ListError),
    /// The database failed.
    Store(store::StoreError),
}

impl std::fmt::Display for AddError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddError::Invalid(e) => e.fmt(f),
            AddError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AddError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_per_list() {
        assert_eq!(
            check_value(VoiceList::Acl, " 10.0.0.0/8 "),
            Ok("10.0.0.0/8".into())
        );
        assert!(check_value(VoiceList::Acl, "10.0.0.0/33").is_err());
        assert_eq!(
            check_value(VoiceList::Blacklist, "+8613800000000"),
            Ok("+8613800000000".into())
        );
        let e = check_value(VoiceList::NumberPool, "1380-000").unwrap_err();
        assert!(e.to_string().contains("'-' is not allowed"), "{e}");
        assert!(check_value(VoiceList::Blacklist, "").is_err());
        assert!(check_value(VoiceList::Blacklist, "1+2").is_err());
        assert!(check_value(VoiceList::Blacklist, &"1".repeat(33)).is_err());
    }

    #[tokio::test]
    async fn lists_are_seeded_once_checked_and_applied() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let lists = VoiceLists::default();
        lists
            .load_at_start(&store, &["127.0.0.0/8".to_string()])
            .await
            .unwrap();
        assert!(lists.get().acl.allows("127.0.0.5".parse().unwrap()));
        assert!(!lists.get().acl.allows("10.0.0.1".parse().unwrap()));
        let r = lists
            .add(
                &store,
                VoiceList::Blacklist,
                &[("13800000000".into(), "spam".into())],
            )
            .await
            .unwrap();
        assert_eq!(r.added, ["13800000000"]);
        assert!(lists.get().blacklisted("13800000000"));
        assert!(!lists.get().blacklisted(""));
        // One bad value refuses the batch.
        let bad = lists
            .add(
                &store,
                VoiceList::Blacklist,
                &[("139".into(), String::new()), ("x".into(), String::new())],
            )
            .await;
        assert!(matches!(bad, Err(AddError::Invalid(_))));
        assert!(!lists.get().blacklisted("139"));
        // A second start does not seed again: a removed network stays removed.
        assert!(lists
            .remove(&store, VoiceList::Acl, "127.0.0.0/8")
            .await
            .unwrap());
        let again = VoiceLists::default();
        again
            .load_at_start(&store, &["127.0.0.0/8".to_string()])
            .await
            .unwrap();
        assert!(!again.get().acl.allows("127.0.0.5".parse().unwrap()));
        assert!(again.get().blacklisted("13800000000"));
    }
}
