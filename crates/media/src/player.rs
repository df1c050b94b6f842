//! Playback of decoded files: a prompt, a sequence of prompts ("you are
//! caller number" + "three"), or music on hold looping forever.

use std::sync::Arc;

use crate::audio::{AudioSource, Fill};
use crate::audio_file::Pcm;

/// Why a playlist could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlayerError {
    /// An item was decoded at another rate than the player's. The player
    /// does not resample: files are decoded at the call's rate by
    /// [`crate::audio_file::AudioCache::load`], so a mismatch means the
    /// wrong cache entry was picked, which is better reported than hidden.
    #[error("playlist item {index} is at {item_rate} Hz but the call runs at {rate} Hz")]
    RateMismatch {
        /// Position of the item in the playlist (0-based).
        index: usize,
        /// The item's rate.
        item_rate: u32,
        /// The player's rate.
        rate: u32,
    },
    /// A player rate of 0 Hz.
    #[error("player rate must be above 0 Hz")]
    ZeroRate,
}

/// Plays a list of decoded items back to back, frame by frame, optionally
/// looping (music on hold).
///
/// Items join sample-exactly: the frame that crosses from one item to the
/// next holds the end of the first and the start of the second, with no
/// silence in between; when looping, the last item joins the first the same
/// way. Only the very end of a non-looping playlist is padded with silence.
#[derive(Debug, Clone)]
pub struct Player {
    items: Vec<Arc<Pcm>>,
    rate: u32,
    looped: bool,
    /// Index of the item playing now (== items.len() when past the end).
    item: usize,
    /// Next sample to play in that item.
    offset: usize,
    /// Samples played in the current pass through the playlist.
    played_in_pass: u64,
    /// Passes completed (only grows when looping).
    passes: u64,
    done: bool,
}

impl Player {
    /// A player for `items` at `rate` Hz. Every item must be at `rate`; an
    /// empty playlist (or one whose items are all empty) is finished at once,
    /// even when `looped`, as there is nothing to repeat.
    pub fn new(items: Vec<Arc<Pcm>>, rate: u32, looped: bool) -> Result<Self, PlayerError> {
        if rate == 0 {
            return Err(PlayerError::ZeroRate);
        }
        if let Some((index, item)) = items.iter().enumerate().find(|(_, p)| p.rate != rate) {
            return Err(PlayerError::RateMismatch {
                index,
                item_rate: item.rate,
                rate,
            });
        }
        let done = items.iter().all(|p| p.samples.is_empty());
        Ok(Self {
            items,
            rate,
            looped,
            item: 0,
            offset: 0,
            played_in_pass: 0,
            passes: 0,
            done,
        })
    }

    /// The rate the player produces.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// True once a non-looping playlist has played its last sample.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Time played in the current pass through the playlist, in
    /// milliseconds (back to 0 each time a looping playlist restarts).
    pub fn position_ms(&self) -> u64 {
        self.played_in_pass * 1000 / u64::from(self.rate)
    }

    /// Items not yet played to their end in the current pass, counting the
    /// one playing now (0 when done).
    pub fn remaining_items(&self) -> usize {
        if self.done || self.item >= self.items.len() {
            return 0;
        }
        let current_finished = self.offset >= self.items[self.item].samples.len();
        self.items.len() - self.item - usize::from(current_finished)
    }

    /// Times a looping playlist has wrapped around to its start.
    pub fn loops_completed(&self) -> u64 {
        self.passes
    }

    /// Total length of one pass through the playlist, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        let samples: u64 = self.items.iter().map(|p| p.samples.len() as u64).sum();
        samples * 1000 / u64::from(self.rate)
    }

    /// Moves past items that have nothing left to play, wrapping to the
    /// start when looping. Returns false at the end of a non-looping list.
    fn advance(&mut self) -> bool {
        while self.item < self.items.len() && self.offset >= self.items[self.item].samples.len() {
            self.item += 1;
            self.offset = 0;
        }
        if self.item < self.items.len() {
            return true;
        }
        if !self.looped {
            return false;
        }
        self.item = 0;
        self.offset = 0;
        self.played_in_pass = 0;
        self.passes += 1;
        // Not empty: `new` marked an all-empty playlist done, so this finds
        // an item with samples.
        while self.item < self.items.len() && self.items[self.item].samples.is_empty() {
            self.item += 1;
        }
        self.item < self.items.len()
    }
}

impl AudioSource for Player {
    fn fill(&mut self, out: &mut [i16]) -> Fill {
        if self.done {
            out.fill(0);
            return Fill::Done;
        }
        let mut written = 0;
        while written < out.len() {
            if !self.advance() {
                break;
            }
            let src = &self.items[self.item].samples[self.offset..];
            let n = src.len().min(out.len() - written);
            out[written..written + n].copy_from_slice(&src[..n]);
            written += n;
            self.offset += n;
            self.played_in_pass += n as u64;
        }
        // A list that ends exactly on a frame boundary is done with this
        // frame, which holds its last samples.
        if written < out.len() || (!self.looped && !self.advance()) {
            out[written..].fill(0);
            self.done = true;
            self.item = self.items.len();
            return Fill::Done;
        }
        Fill::More
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::frame_len;

    fn pcm(rate: u32, samples: Vec<i16>) -> Arc<Pcm> {
        Arc::new(Pcm { rate, samples })
    }

    /// Distinct, recognisable samples: item k holds k*1000 + i.
    fn ramp(k: i16, len: usize) -> Vec<i16> {
        (0..len).map(|i| k * 1000 + i as i16).collect()
    }

    fn drain(p: &mut Player, frame: usize, max_frames: usize) -> (Vec<i16>, usize) {
        let mut all = Vec::new();
        let mut buf = vec![0i16; frame];
        for n in 1..=max_frames {
            buf.fill(-1);
            let fill = p.fill(&mut buf);
            all.extend_from_slice(&buf);
            if fill == Fill::Done {
                return (all, n);
            }
        }
        panic!("player not done after {max_frames} frames");
    }

    #[test]
    fn items_are_concatenated_sample_exactly_and_the_end_is_padded() {
        let frame = frame_len(8000);
        let lens = [250usize, 7, 0, 333];
        let items: Vec<_> = lens
            .iter()
            .enumerate()
            .map(|(k, &n)| pcm(8000, ramp(k as i16 + 1, n)))
            .collect();
        let want: Vec<i16> = items.iter().flat_map(|p| p.samples.clone()).collect();
        let mut p = Player::new(items, 8000, false).unwrap();
        assert_eq!(p.remaining_items(), 4);
        assert_eq!(p.duration_ms(), 590 * 1000 / 8000);
        let (all, frames) = drain(&mut p, frame, 100);
        assert_eq!(frames, 590usize.div_ceil(frame));
        assert_eq!(&all[..590], &want[..]);
        assert!(all[590..].iter().all(|&s| s == 0), "padding is silence");
        assert_eq!(p.remaining_items(), 0);
        assert!(p.is_done());
        // Done stays done, with silence.
        let mut buf = [5i16; 160];
        assert_eq!(p.fill(&mut buf), Fill::Done);
        assert!(buf.iter().all(|&s| s == 0));
    }

    #[test]
    fn position_and_remaining_items_follow_playback() {
        let items = vec![pcm(8000, vec![1; 320]), pcm(8000, vec![2; 480])];
        let mut p = Player::new(items, 8000, false).unwrap();
        let mut buf = [0i16; 160];
        assert_eq!(p.fill(&mut buf), Fill::More);
        assert_eq!((p.position_ms(), p.remaining_items()), (20, 2));
        assert_eq!(p.fill(&mut buf), Fill::More);
        assert_eq!((p.position_ms(), p.remaining_items()), (40, 1));
        assert_eq!(p.fill(&mut buf), Fill::More);
        assert_eq!((p.position_ms(), p.remaining_items()), (60, 1));
        assert_eq!(p.fill(&mut buf), Fill::More);
        // Ends exactly on a frame boundary: the frame with the last samples
        // says Done.
        assert_eq!(p.fill(&mut buf), Fill::Done);
        assert_eq!(buf, [2; 160]);
        assert_eq!(p.position_ms(), 100);
    }

    #[test]
    fn items_shorter_than_a_frame_share_one_frame() {
        let items = vec![pcm(16000, vec![1; 10]), pcm(16000, vec![2; 20])];
        let mut p = Player::new(items, 16000, false).unwrap();
        let mut buf = vec![9i16; frame_len(16000)];
        assert_eq!(p.fill(&mut buf), Fill::Done);
        assert_eq!(&buf[..10], &[1; 10]);
        assert_eq!(&buf[10..30], &[2; 20]);
        assert!(buf[30..].iter().all(|&s| s == 0));
    }

    #[test]
    fn empty_playlists_are_done_at_once() {
        for (items, looped) in [
            (vec![], false),
            (vec![], true),
            (vec![pcm(8000, vec![]), pcm(8000, vec![])], true),
        ] {
            let mut p = Player::new(items, 8000, looped).unwrap();
            let mut buf = [3i16; 160];
            assert_eq!(p.fill(&mut buf), Fill::Done);
            assert_eq!(buf, [0; 160]);
            assert_eq!(p.remaining_items(), 0);
        }
    }

    #[test]
    fn looping_wraps_seamlessly_forever() {
        // 3 + 0 + 290 samples: not a divisor of the 160-sample frame, so
        // wraps land mid-frame.
        let a = ramp(1, 3);
        let b = ramp(2, 290);
        let items = vec![
            pcm(8000, a.clone()),
            pcm(8000, vec![]),
            pcm(8000, b.clone()),
        ];
        let pass: Vec<i16> = a.iter().chain(&b).copied().collect();
        let mut p = Player::new(items, 8000, true).unwrap();
        let mut all = Vec::new();
        let mut buf = [0i16; 160];
        for _ in 0..100 {
            assert_eq!(p.fill(&mut buf), Fill::More);
            all.extend_from_slice(&buf);
        }
        for (i, &s) in all.iter().enumerate() {
            assert_eq!(s, pass[i % pass.len()], "sample {i}");
        }
        assert_eq!(p.loops_completed(), (16000 - 1) / 293);
        assert_eq!(p.position_ms(), (16000 % 293) as u64 * 1000 / 8000);
    }

    #[test]
    fn items_at_another_rate_are_refused_by_index() {
        let items = vec![pcm(8000, vec![0; 10]), pcm(16000, vec![0; 10])];
        let err = Player::new(items, 8000, false).unwrap_err();
        assert_eq!(
            err,
            PlayerError::RateMismatch {
                index: 1,
                item_rate: 16000,
                rate: 8000
            }
        );
        assert!(err.to_string().contains("item 1"));
        assert_eq!(
            Player::new(vec![], 0, false).unwrap_err(),
            PlayerError::ZeroRate
        );
    }
}
