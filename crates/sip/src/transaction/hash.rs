//! Digests of the keys the layer's indexes are keyed by.
//!
//! The matching keys (Via branch, sent-by, method; Call-ID and CSeq for the
//! ACK of a 2xx) are a few dozen bytes. Rather than keeping them as map keys,
//! hashed with std's SipHash and compared with `memcmp` through a pointer on
//! every probe (a cache miss each, plus the hashing, in the profile of a
//! registrar), the indexes ([`super::index`]) map a keyed 64-bit digest of the
//! key to transaction ids, and a hit is confirmed against the key the
//! transaction keeps, so a digest collision never matches the wrong
//! transaction. The digest is FxHash-shaped, a word at a time, with the folded
//! multiply of rustc-hash 2 and foldhash as the mixing step (a plain FxHash
//! multiply only carries differences upwards, so keys differing in the high
//! bytes of a word, like `z9hG4bK1…` and `z9hG4bK2…`, would share buckets).
//!
//! HashDoS: the keys hold strings from the network, so a peer that knew the
//! seed could pick branches whose digests collide and lengthen the probes. That
//! is an accepted trade-off here, as in most SIP stacks: the seed is random per
//! layer, every such message costs the attacker a datagram, the inbound rate
//! per source is bounded upstream, and colliding keys cost probes, never a
//! wrong match.

/// rustc-hash 2's multiplier.
const K: u64 = 0xf135_7aea_2e62_a9c5;

/// The 128-bit product of `a` and `b`, its halves xored.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// A keyed digest of a key.
pub(crate) type Digest = u64;

/// Digests keys with a seed chosen at random per layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyHasher {
    seed: u64,
}

impl Default for KeyHasher {
    fn default() -> Self {
        KeyHasher {
            seed: fastrand::u64(..),
        }
    }
}

impl KeyHasher {
    /// The digest of `key`.
    pub(crate) fn digest(&self, key: &[u8]) -> Digest {
        let mut h = fold(self.seed ^ key.len() as u64, K);
        let mut chunks = key.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            h = fold(h ^ u64::from_le_bytes(word), K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The length went in first, so zero padding is unambiguous.
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            h = fold(h ^ u64::from_le_bytes(word), K);
        }
        fold(h, K ^ self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn transaction_digest_spreads_and_distinguishes() {
        let k = KeyHasher::default();
        assert_eq!(k.digest(b"z9hG4bK-1"), k.digest(b"z9hG4bK-1"));
        assert_ne!(k.digest(b"z9hG4bK-1"), k.digest(b"z9hG4bK-2"));
        assert_ne!(k.digest(b"ab"), k.digest(b"ab\0"));
        assert_ne!(k.digest(b""), k.digest(b"\0"));
        assert_ne!(
            k.digest(b"z9hG4bK-1"),
            KeyHasher::default().digest(b"z9hG4bK-1")
        );
        // Low bits (the index's home slot) and high bits both vary for keys
        // differing in one byte, wherever it is: 2000 random values would take
        // about 1970 of 65536 values.
        let keys: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("z9hG4bK{i}").into_bytes())
            .chain((0..1000).map(|i| format!("{i}z9hG4bK.example.com").into_bytes()))
            .collect();
        for shift in [0, 24, 48] {
            let values: HashSet<u64> = keys
                .iter()
                .map(|key| (k.digest(key) >> shift) & 0xffff)
                .collect();
            assert!(values.len() >= 1900, "bits {shift}..: {}", values.len());
        }
    }
}
