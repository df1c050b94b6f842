//! The layer's key indexes: digest of a key → transaction ids.
//!
//! At a registrar's load the index holds half a million keys, far more than
//! the caches, so every operation on it is a cache miss or two; with std's
//! `HashMap` (SwissTable) the control bytes and the bucket are in different
//! places, two misses per insert, lookup or removal, which made most of the
//! cost of creating and expiring a transaction. This is a plain open-addressing
//! table with linear probing whose 16-byte slots hold the tag (the key's
//! digest, never 0) next to the id, so an operation usually touches one cache
//! line, and removal shifts entries back instead of leaving tombstones.
//!
//! It is a multimap: entries with the same digest may coexist, and lookups ask
//! the caller which of the ids under a digest really has the key (the
//! transaction keeps its key), so a digest collision never matches the wrong
//! transaction. Probe lengths rely on the digests being unpredictable to peers
//! (see [`super::hash`]). The load stays between 1/8 and 1/2, so memory follows
//! the number of live transactions both ways.

use super::TxId;

/// A slot: `tag` 0 means empty.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    tag: u64,
    id: u64,
}

/// The smallest table allocated.
const MIN_CAPACITY: usize = 64;

/// Open-addressing multimap from key digests to transaction ids.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Empty, or a power of two at least [`MIN_CAPACITY`] long.
    slots: Vec<Slot>,
    len: usize,
}

/// Tags are digests with 0 taken for "empty".
fn tag(digest: u64) -> u64 {
    digest.max(1)
}

impl Index {
    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, tag: u64) -> usize {
        // Digests are uniformly random, so their low bits will do.
        tag as usize & self.mask()
    }

    /// The id under `digest` for which `is` holds, if any.
    pub(crate) fn find(&self, digest: u64, mut is: impl FnMut(TxId) -> bool) -> Option<TxId> {
        if self.len == 0 {
            return None;
        }
        let tag = tag(digest);
        let mask = self.mask();
        let mut i = self.home(tag);
        loop {
            let slot = self.slots[i];
            if slot.tag == 0 {
                return None;
            }
            if slot.tag == tag && is(TxId(slot.id)) {
                return Some(TxId(slot.id));
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `id` under `digest`, replacing (and returning) an id under the same
    /// digest for which `same` holds.
    pub(crate) fn insert(
        &mut self,
        digest: u64,
        id: TxId,
        mut same: impl FnMut(TxId) -> bool,
    ) -> Option<TxId> {
        if 2 * (self.len + 1) > self.slots.len() {
            self.resize((2 * self.slots.len()).max(MIN_CAPACITY));
        }
        let tag = tag(digest);
        let mask = self.mask();
        let mut i = self.home(tag);
        loop {
            let slot = &mut self.slots[i];
            if slot.tag == 0 {
                *slot = Slot { tag, id: id.0 };
                self.len += 1;
                return None;
            }
            if slot.tag == tag && same(TxId(slot.id)) {
                let old = slot.id;
                slot.id = id.0;
                return Some(TxId(old));
            }
            i = (i + 1) & mask;
        }
    }

    /// Removes `id` from under `digest`; whether it was there.
    pub(crate) fn remove(&mut self, digest: u64, id: TxId) -> bool {
        if self.len == 0 {
            return false;
        }
        let tag = tag(digest);
        let mask = self.mask();
        let mut hole = self.home(tag);
        loop {
            let slot = self.slots[hole];
            if slot.tag == 0 {
                return false;
            }
            if slot.tag == tag && slot.id == id.0 {
                break;
            }
            hole = (hole + 1) & mask;
        }
        // Backward shift: pull later entries of the run into the hole when
        // their home is not between the hole and them.
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let slot = self.slots[j];
            if slot.tag == 0 {
                break;
            }
            let home = self.home(slot.tag);
            let distance_to_home = j.wrapping_sub(home) & mask;
            let distance_to_hole = j.wrapping_sub(hole) & mask;
            if distance_to_home >= distance_to_hole {
                self.slots[hole] = slot;
                hole = j;
            }
        }
        self.slots[hole] = Slot::default();
        self.len -= 1;
        if self.slots.len() > MIN_CAPACITY && 8 * self.len < self.slots.len() {
            self.resize(self.slots.len() / 2);
        }
        true
    }

    fn resize(&mut self, capacity: usize) {
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); capacity]);
        let mask = self.mask();
        for slot in old.into_iter().filter(|s| s.tag != 0) {
            let mut i = self.home(slot.tag);
            while self.slots[i].tag != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn transaction_index_matches_a_model() {
        // Few distinct digests, so runs are long, wrap around and collide.
        let mut rng = fastrand::Rng::with_seed(7);
        let mut index = Index::default();
        let mut model: HashMap<u64, (u64, u64)> = HashMap::new();
        for n in 0..200_000u64 {
            let id = rng.u64(0..400);
            let digest = if rng.bool() {
                rng.u64(0..8)
            } else {
                rng.u64(..) | 0xffff_0000
            };
            match rng.u8(0..3) {
                0 | 1 => {
                    if let Some(&(d, _)) = model.get(&id) {
                        assert!(index.remove(d, TxId(id)));
                        model.remove(&id);
                    } else {
                        assert_eq!(index.insert(digest, TxId(id), |_| false), None);
                        model.insert(id, (digest, n));
                    }
                }
                _ => {
                    assert!(!index.remove(digest ^ 0x5555, TxId(1000 + id)));
                }
            }
            assert_eq!(index.len(), model.len());
            if n % 1000 == 0 {
                for (&id, &(d, _)) in &model {
                    assert_eq!(index.find(d, |x| x == TxId(id)), Some(TxId(id)));
                }
            }
        }
        // Replacing keeps one entry.
        let mut index = Index::default();
        index.insert(5, TxId(1), |_| false);
        assert_eq!(
            index.insert(5, TxId(2), |old| old == TxId(1)),
            Some(TxId(1))
        );
        assert_eq!(index.len(), 1);
        assert_eq!(index.find(5, |_| true), Some(TxId(2)));
        assert!(index.remove(5, TxId(2)));
        assert!(index.is_empty());
    }
}
