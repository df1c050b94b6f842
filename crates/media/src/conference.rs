//! Conference rooms: N call legs mixed together by the [`Mixer`], for
//! conference numbers, three-way calls and supervisor modes (listen,
//! whisper, barge are [`Audience`](crate::mixer::Audience) settings).
//!
//! Members live in different media sessions on different media threads, so
//! the room keeps a small queue per member in each direction: a session
//! pushes what its leg said and takes what its leg should hear on its own
//! 20 ms tick, and the room's task mixes one frame of every member per tick.
//! A member whose tick drifts against the room's never loses more than the
//! queue can absorb (a few frames), and missing input is silence.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::time::MissedTickBehavior;

use crate::audio::{frame_len, FRAME_MS};
use crate::mixer::{MemberId, MemberOptions, Mixer, MixerError};

/// Frames queued per member and direction before the oldest is dropped:
/// 60 ms, enough for scheduling jitter between a session and the room.
const QUEUE: usize = 3;

#[derive(Default)]
struct Queues {
    input: VecDeque<Vec<i16>>,
    output: VecDeque<Vec<i16>>,
}

struct Room {
    mixer: Mixer,
    queues: HashMap<MemberId, Queues>,
    /// Frames dropped because a queue was full (a member far ahead).
    overflows: u64,
    closed: bool,
}

fn lock(m: &Mutex<Room>) -> MutexGuard<'_, Room> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A conference room; cheap to clone. The mixing task stops when the last
/// handle is dropped or [`Conference::close`] is called.
#[derive(Clone)]
pub struct Conference {
    room: Arc<Mutex<Room>>,
    rate: u32,
}

impl std::fmt::Debug for Conference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conference")
            .field("rate", &self.rate)
            .field("members", &self.len())
            .finish()
    }
}

impl Conference {
    /// Opens a room mixing at `rate` (8000 or 16000) on `rt` (the media runtime).
    pub fn start(rt: &Handle, rate: u32) -> Conference {
        let room = Arc::new(Mutex::new(Room {
            mixer: Mixer::new(rate),
            queues: HashMap::new(),
            overflows: 0,
            closed: false,
        }));
        let weak = Arc::downgrade(&room);
        rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(u64::from(FRAME_MS)));
            tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
            loop {
                tick.tick().await;
                let Some(room) = weak.upgrade() else { break };
                let mut r = lock(&room);
                if r.closed {
                    break;
                }
                r.mix_one();
            }
        });
        Conference { room, rate }
    }

    /// The mixing rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Adds a member.
    pub fn join(&self, id: MemberId, opts: MemberOptions) -> Result<(), MixerError> {
        let mut r = lock(&self.room);
        r.mixer.add(id, opts)?;
        r.queues.insert(id, Queues::default());
        Ok(())
    }

    /// Removes a member; true if it was there.
    pub fn leave(&self, id: MemberId) -> bool {
        let mut r = lock(&self.room);
        r.queues.remove(&id);
        r.mixer.remove(id)
    }

    /// Changes a member's gain, mute, deafness and audience.
    pub fn set_options(&self, id: MemberId, opts: MemberOptions) -> Result<(), MixerError> {
        let mut r = lock(&self.room);
        r.mixer.set_gain_db(id, opts.gain_db)?;
        r.mixer.set_muted(id, opts.muted)?;
        r.mixer.set_deaf(id, opts.deaf)?;
        r.mixer.set_audience(id, opts.audience)
    }

    /// Members in the room.
    pub fn len(&self) -> usize {
        lock(&self.room).mixer.len()
    }

    /// True when nobody is in the room.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a member is talking (energy above the threshold, with hangover).
    pub fn is_talking(&self, id: MemberId) -> bool {
        lock(&self.room).mixer.is_talking(id)
    }

    /// Frames dropped because a member's queue was full.
    pub fn overflows(&self) -> u64 {
        lock(&self.room).overflows
    }

    /// One member's tick: queues what it said (`input`, one frame at the
    /// room's rate) and fills `out` with what it hears (silence if the room
    /// has nothing for it yet).
    pub fn exchange(&self, id: MemberId, input: &[i16], out: &mut Vec<i16>) {
        let mut r = lock(&self.room);
        let len = frame_len(self.rate);
        let mut dropped = 0;
        if let Some(q) = r.queues.get_mut(&id) {
            if q.input.len() >= QUEUE {
                q.input.pop_front();
                dropped += 1;
            }
            let mut frame = input.to_vec();
            frame.resize(len, 0);
            q.input.push_back(frame);
            out.clear();
            match q.output.pop_front() {
                Some(f) => out.extend_from_slice(&f),
                None => out.resize(len, 0),
            }
        } else {
            out.clear();
            out.resize(len, 0);
        }
        r.overflows += dropped;
    }

    /// Stops mixing; members hear silence from then on.
    pub fn close(&self) {
        lock(&self.room).closed = true;
    }

    /// Mixes one tick now (tests drive the room without its task).
    pub fn mix_now(&self) {
        lock(&self.room).mix_one();
    }
}

impl Room {
    fn mix_one(&mut self) {
        let ids: Vec<MemberId> = self.mixer.members().collect();
        for id in &ids {
            if let Some(frame) = self.queues.get_mut(id).and_then(|q| q.input.pop_front()) {
                // Lengths are normalised in exchange(); a refusal would only
                // mean silence for this member this tick.
                let _ = self.mixer.push(*id, &frame);
            }
        }
        self.mixer.mix();
        let mut dropped = 0;
        for id in ids {
            let out = self.mixer.output(id).to_vec();
            if let Some(q) = self.queues.get_mut(&id) {
                if q.output.len() >= QUEUE {
                    q.output.pop_front();
                    dropped += 1;
                }
                q.output.push_back(out);
            }
        }
        self.overflows += dropped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mixer::Audience;

    fn room() -> (tokio::runtime::Runtime, Conference) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        // The room's own task never runs here (the runtime is not driven):
        // the test mixes with mix_now, so nothing depends on timing.
        let c = Conference::start(rt.handle(), 8000);
        (rt, c)
    }

    #[test]
    fn each_member_hears_the_others_one_tick_later() {
        let (_rt, c) = room();
        for id in 1..=3 {
            c.join(id, MemberOptions::default()).unwrap();
        }
        let mut out = Vec::new();
        for id in 1..=3u64 {
            c.exchange(id, &vec![id as i16 * 100; 160], &mut out);
            assert!(out.iter().all(|&s| s == 0), "nothing mixed yet");
        }
        c.mix_now();
        for id in 1..=3u64 {
            c.exchange(id, &[0; 160], &mut out);
            let expected: i16 = (1..=3).filter(|&o| o != id).map(|o| o as i16 * 100).sum();
            assert_eq!(out.len(), 160);
            assert!(
                out.iter().all(|&s| s == expected),
                "member {id}: {}",
                out[0]
            );
        }
    }

    #[test]
    fn whisper_is_heard_by_its_audience_only() {
        let (_rt, c) = room();
        c.join(1, MemberOptions::default()).unwrap(); // caller
        c.join(2, MemberOptions::default()).unwrap(); // agent
        let whisper = MemberOptions {
            audience: Audience::Only(vec![2]),
            ..Default::default()
        };
        c.join(3, whisper).unwrap(); // supervisor
        let mut out = Vec::new();
        c.exchange(1, &[0; 160], &mut out);
        c.exchange(2, &[0; 160], &mut out);
        c.exchange(3, &[500; 160], &mut out);
        c.mix_now();
        c.exchange(1, &[0; 160], &mut out);
        assert_eq!(out[0], 0, "the caller does not hear the supervisor");
        c.exchange(2, &[0; 160], &mut out);
        assert_eq!(out[0], 500, "the agent does");
    }

    #[test]
    fn a_member_far_ahead_loses_its_oldest_frames_and_they_are_counted() {
        let (_rt, c) = room();
        c.join(1, MemberOptions::default()).unwrap();
        let mut out = Vec::new();
        for _ in 0..5 {
            c.exchange(1, &[1; 160], &mut out);
        }
        assert_eq!(c.overflows(), 2);
        assert!(c.leave(1));
        assert!(!c.leave(1));
        assert!(c.is_empty());
        // A stranger hears silence and changes nothing.
        c.exchange(9, &[1; 160], &mut out);
        assert!(out.iter().all(|&s| s == 0));
    }
}

#[cfg(test)]
mod switching_tests {
    use super::*;
    use crate::mixer::Audience;

    #[test]
    fn a_listener_switched_to_whisper_is_heard_by_the_agent() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let c = Conference::start(rt.handle(), 8000);
        c.join(1, MemberOptions::default()).unwrap();
        c.join(2, MemberOptions::default()).unwrap();
        let listen = MemberOptions {
            audience: Audience::Nobody,
            ..Default::default()
        };
        c.join(3, listen).unwrap();
        let whisper = MemberOptions {
            audience: Audience::Only(vec![2]),
            ..Default::default()
        };
        c.set_options(3, whisper).unwrap();
        let mut out = Vec::new();
        c.exchange(1, &[0; 160], &mut out);
        c.exchange(2, &[0; 160], &mut out);
        c.exchange(3, &[700; 160], &mut out);
        c.mix_now();
        c.exchange(2, &[0; 160], &mut out);
        assert_eq!(out[0], 700, "the agent hears the whisper");
        c.exchange(1, &[0; 160], &mut out);
        assert_eq!(out[0], 0, "the caller does not");
    }
}
