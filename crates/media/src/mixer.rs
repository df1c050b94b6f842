//! N-party audio mixing for three-way calls, conference rooms and supervisor
//! modes (listen, whisper, barge), in 20 ms ticks at 8 or 16 kHz.
//!
//! Each tick the owner [`Mixer::push`]es every member's decoded frame, calls
//! [`Mixer::mix`] once, then reads each member's [`Mixer::output`]. A member
//! hears everyone audible to it except itself ("N-1"). The cost is
//! O(members x frame): the sum of all normally heard members is computed once
//! in i32 and each member's own contribution is subtracted from it; only the
//! few members with a restricted [`Audience`] (whisper) are added to the
//! outputs of their listed listeners one by one.
//!
//! Gains are applied as Q12 fixed-point factors so that the contribution a
//! member adds to the sum and the one subtracted from its own output are the
//! same integers, which makes N-1 exact.

use std::collections::{HashMap, VecDeque};

use crate::audio::{frame_len, AudioSource, Fill};

/// Identifies a member of a mix (the caller picks the numbers, e.g. a leg id).
pub type MemberId = u64;

/// Highest gain a member may be given; larger values are clamped.
///
/// 24 dB (x15.85) keeps `sample x factor` inside i32 with the Q12 factors used
/// here, and is already far more than any sane level correction.
pub const MAX_GAIN_DB: f32 = 24.0;

/// Most members one mixer accepts.
///
/// Bounds the i32 accumulator: 1024 members at full scale and maximum gain
/// still sum to well under `i32::MAX`.
pub const MAX_MEMBERS: usize = 1024;

/// Default level above which a member counts as talking.
pub const DEFAULT_TALK_THRESHOLD_DBOV: f32 = -40.0;

/// Default number of quiet ticks (300 ms) after which a talking member stops
/// counting as talking, so pauses between words don't flicker the state.
pub const DEFAULT_TALK_HANGOVER_TICKS: u32 = 15;

/// Talk events kept when [`Mixer::take_talk_events`] is not called; older
/// ones are dropped (and counted) so a forgetful owner cannot grow memory.
const MAX_PENDING_EVENTS: usize = 4096;

/// Fixed-point position of the gain factors (Q12: 4096 is unity).
const GAIN_SHIFT: u32 = 12;
const GAIN_ONE: i32 = 1 << GAIN_SHIFT;
const GAIN_ROUND: i32 = 1 << (GAIN_SHIFT - 1);

/// Who hears a member.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Audience {
    /// Every other member (a normal participant, or a supervisor barging in).
    #[default]
    Everyone,
    /// Only the listed members (whisper: a supervisor heard by the agent
    /// alone). Ids that are not (or no longer) members are ignored.
    Only(Vec<MemberId>),
    /// No one (listen: a supervisor who hears the call unheard). Same effect
    /// as [`MemberOptions::muted`], kept apart so mute toggles independently.
    Nobody,
}

/// How a member takes part in the mix.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberOptions {
    /// Gain in dB applied to what the member says, clamped to
    /// [`MAX_GAIN_DB`]; `f32::NEG_INFINITY` (or anything below about -78 dB)
    /// silences the member. NaN is refused.
    pub gain_db: f32,
    /// Nobody hears the member.
    pub muted: bool,
    /// The member hears nothing: its output is silence.
    pub deaf: bool,
    /// Who hears the member when it is not muted.
    pub audience: Audience,
}

impl Default for MemberOptions {
    fn default() -> Self {
        Self {
            gain_db: 0.0,
            muted: false,
            deaf: false,
            audience: Audience::Everyone,
        }
    }
}

/// Why a mixer call was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MixerError {
    /// `add` was given an id that is already a member.
    #[error("member {0} is already in the mix")]
    DuplicateMember(MemberId),
    /// The id is not a member of this mix.
    #[error("member {0} is not in the mix")]
    UnknownMember(MemberId),
    /// A pushed frame does not hold one 20 ms frame at the mixer's rate; the
    /// frame is dropped and the member is silent for the tick.
    #[error("frame of {got} samples pushed, one frame at this rate is {expected}")]
    FrameLength {
        /// Samples in one frame at the mixer's rate.
        expected: usize,
        /// Samples pushed.
        got: usize,
    },
    /// A gain of NaN dB was given.
    #[error("gain is not a number")]
    InvalidGain,
    /// The mixer already holds [`MAX_MEMBERS`] members.
    #[error("mix is full ({0} members)")]
    Full(usize),
}

/// Per-member state; the member's samples live in the mixer's flat buffers
/// at the same index so the hot loops walk contiguous memory.
#[derive(Debug)]
struct Slot {
    id: MemberId,
    opts: MemberOptions,
    /// `opts.gain_db` as a Q12 factor; 0 means the member is inaudible.
    gain: i32,
    /// A frame was pushed for the current tick.
    has_input: bool,
    /// Set by `mix`: the member is part of the shared sum this tick.
    in_sum: bool,
    talking: bool,
    quiet_ticks: u32,
}

impl Slot {
    /// Whether anything the member sent this tick reaches anyone at all.
    fn audible(&self) -> bool {
        self.has_input && !self.opts.muted && self.gain != 0
    }
}

/// An N-party mixer: members push a frame per tick, [`Mixer::mix`] computes
/// what each of them hears, and [`Mixer::output`] hands it out.
#[derive(Debug)]
pub struct Mixer {
    rate: u32,
    frame: usize,
    slots: Vec<Slot>,
    index: HashMap<MemberId, usize>,
    /// Member inputs, `frame` samples per slot, in slot order.
    inputs: Vec<i16>,
    /// Member outputs, laid out like `inputs`.
    outputs: Vec<i16>,
    /// Sum over members heard by everyone, for the current tick.
    sum: Vec<i32>,
    /// `sum` saturated, for the members that hear exactly that.
    sum_clipped: Vec<i16>,
    /// Scratch for members whose output needs more than one correction.
    acc: Vec<i32>,
    /// (listener slot, whisperer slot) pairs of the current tick.
    whispers: Vec<(usize, usize)>,
    silence: Vec<i16>,
    talk_threshold_dbov: f32,
    /// Sum of squares over one frame at the talk threshold.
    talk_energy: f64,
    hangover_ticks: u32,
    events: VecDeque<(MemberId, bool)>,
    events_dropped: u64,
}

impl Mixer {
    /// Creates an empty mix at `rate` Hz (8 000 or 16 000; any multiple of
    /// 1 000 works, the frame being 20 ms at that rate).
    pub fn new(rate: u32) -> Self {
        let frame = frame_len(rate);
        let mut mixer = Self {
            rate,
            frame,
            slots: Vec::new(),
            index: HashMap::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            sum: vec![0; frame],
            sum_clipped: vec![0; frame],
            acc: vec![0; frame],
            whispers: Vec::new(),
            silence: vec![0; frame],
            talk_threshold_dbov: DEFAULT_TALK_THRESHOLD_DBOV,
            talk_energy: 0.0,
            hangover_ticks: DEFAULT_TALK_HANGOVER_TICKS,
            events: VecDeque::new(),
            events_dropped: 0,
        };
        mixer.set_talk_threshold_dbov(DEFAULT_TALK_THRESHOLD_DBOV);
        mixer
    }

    /// Sample rate of the mix in Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Samples in one frame (what `push` takes and `output` gives).
    pub fn frame_len(&self) -> usize {
        self.frame
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the mix has no member.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Member ids, in the order they were added.
    pub fn members(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.slots.iter().map(|s| s.id)
    }

    /// Whether `id` is a member.
    pub fn contains(&self, id: MemberId) -> bool {
        self.index.contains_key(&id)
    }

    /// The options `id` currently has.
    pub fn options(&self, id: MemberId) -> Option<&MemberOptions> {
        self.index.get(&id).map(|&i| &self.slots[i].opts)
    }

    /// Adds a member. It hears silence until the next [`Mixer::mix`].
    pub fn add(&mut self, id: MemberId, opts: MemberOptions) -> Result<(), MixerError> {
        if self.index.contains_key(&id) {
            return Err(MixerError::DuplicateMember(id));
        }
        if self.slots.len() >= MAX_MEMBERS {
            return Err(MixerError::Full(self.slots.len()));
        }
        let gain = gain_q12(opts.gain_db)?;
        self.index.insert(id, self.slots.len());
        self.slots.push(Slot {
            id,
            opts,
            gain,
            has_input: false,
            in_sum: false,
            talking: false,
            quiet_ticks: 0,
        });
        self.inputs.resize(self.inputs.len() + self.frame, 0);
        self.outputs.resize(self.outputs.len() + self.frame, 0);
        Ok(())
    }

    /// Removes a member; returns whether it was one. A member removed while
    /// talking gets a `(id, false)` talk event, so whoever tracks talkers from
    /// the events never keeps a departed member "talking".
    pub fn remove(&mut self, id: MemberId) -> bool {
        let Some(idx) = self.index.remove(&id) else {
            return false;
        };
        let slot = self.slots.remove(idx);
        let span = idx * self.frame..(idx + 1) * self.frame;
        self.inputs.drain(span.clone());
        self.outputs.drain(span);
        for (i, s) in self.slots.iter().enumerate().skip(idx) {
            self.index.insert(s.id, i);
        }
        if slot.talking {
            self.push_event(id, false);
        }
        true
    }

    fn slot_mut(&mut self, id: MemberId) -> Result<&mut Slot, MixerError> {
        match self.index.get(&id) {
            Some(&i) => Ok(&mut self.slots[i]),
            None => Err(MixerError::UnknownMember(id)),
        }
    }

    /// Changes the gain applied to what `id` says (see
    /// [`MemberOptions::gain_db`]). Takes effect at the next `mix`.
    pub fn set_gain_db(&mut self, id: MemberId, gain_db: f32) -> Result<(), MixerError> {
        let slot = self.slot_mut(id)?;
        slot.gain = gain_q12(gain_db)?;
        slot.opts.gain_db = gain_db;
        Ok(())
    }

    /// Mutes or unmutes `id` (nobody hears a muted member).
    pub fn set_muted(&mut self, id: MemberId, muted: bool) -> Result<(), MixerError> {
        self.slot_mut(id)?.opts.muted = muted;
        Ok(())
    }

    /// Makes `id` deaf (it hears silence) or hearing again.
    pub fn set_deaf(&mut self, id: MemberId, deaf: bool) -> Result<(), MixerError> {
        self.slot_mut(id)?.opts.deaf = deaf;
        Ok(())
    }

    /// Changes who hears `id`: how a supervisor moves between listen
    /// ([`Audience::Nobody`]), whisper ([`Audience::Only`]) and barge
    /// ([`Audience::Everyone`]).
    pub fn set_audience(&mut self, id: MemberId, audience: Audience) -> Result<(), MixerError> {
        self.slot_mut(id)?.opts.audience = audience;
        Ok(())
    }

    /// Sets the level (dBov, clamped to -96..=0; NaN restores the default)
    /// above which a member counts as talking.
    pub fn set_talk_threshold_dbov(&mut self, dbov: f32) {
        let dbov = if dbov.is_nan() {
            DEFAULT_TALK_THRESHOLD_DBOV
        } else {
            dbov.clamp(-96.0, 0.0)
        };
        self.talk_threshold_dbov = dbov;
        // level_dbov compares the RMS with 32768; comparing sums of squares
        // avoids a square root and a logarithm per member per tick.
        let rms = 32768.0 * 10f64.powf(f64::from(dbov) / 20.0);
        self.talk_energy = rms * rms * self.frame as f64;
    }

    /// The current talk threshold in dBov.
    pub fn talk_threshold_dbov(&self) -> f32 {
        self.talk_threshold_dbov
    }

    /// Sets how many consecutive quiet ticks end a member's talking state
    /// (default 15 = 300 ms; at least 1).
    pub fn set_talk_hangover_ticks(&mut self, ticks: u32) {
        self.hangover_ticks = ticks.max(1);
    }

    /// Stores what `id` says this tick: exactly one frame
    /// ([`Mixer::frame_len`] samples). Pushing twice in a tick keeps the
    /// second frame. A member with no push in a tick is silent for it.
    ///
    /// A frame of the wrong length is refused with
    /// [`MixerError::FrameLength`] (rather than padded or cut, which would
    /// hide a ptime or rate mismatch), and the member is silent for the tick.
    pub fn push(&mut self, id: MemberId, frame: &[i16]) -> Result<(), MixerError> {
        let idx = *self.index.get(&id).ok_or(MixerError::UnknownMember(id))?;
        if frame.len() != self.frame {
            self.slots[idx].has_input = false;
            return Err(MixerError::FrameLength {
                expected: self.frame,
                got: frame.len(),
            });
        }
        self.inputs[idx * self.frame..(idx + 1) * self.frame].copy_from_slice(frame);
        self.slots[idx].has_input = true;
        Ok(())
    }

    /// Pulls this tick's frame for `id` straight from an [`AudioSource`]
    /// (a prompt or music played into a conference as a member).
    pub fn push_from<S: AudioSource + ?Sized>(
        &mut self,
        id: MemberId,
        source: &mut S,
    ) -> Result<Fill, MixerError> {
        let idx = *self.index.get(&id).ok_or(MixerError::UnknownMember(id))?;
        let fill = source.fill(&mut self.inputs[idx * self.frame..(idx + 1) * self.frame]);
        self.slots[idx].has_input = true;
        Ok(fill)
    }

    /// Computes every member's output for this tick from the frames pushed
    /// since the previous `mix`, updates talk detection, and starts the next
    /// tick (inputs not pushed again count as silence).
    pub fn mix(&mut self) {
        let frame = self.frame;

        self.sum.fill(0);
        for (i, slot) in self.slots.iter_mut().enumerate() {
            slot.in_sum = slot.audible() && slot.opts.audience == Audience::Everyone;
            if slot.in_sum {
                add_scaled(
                    &mut self.sum,
                    &self.inputs[i * frame..(i + 1) * frame],
                    slot.gain,
                );
            }
        }

        self.whispers.clear();
        for (i, slot) in self.slots.iter().enumerate() {
            if let Audience::Only(listeners) = &slot.opts.audience {
                if slot.audible() {
                    for id in listeners {
                        match self.index.get(id) {
                            Some(&l) if l != i => self.whispers.push((l, i)),
                            _ => {}
                        }
                    }
                }
            }
        }
        self.whispers.sort_unstable();
        self.whispers.dedup();

        let mut clipped_ready = false;
        let mut w = 0;
        for (i, slot) in self.slots.iter().enumerate() {
            let start = w;
            while w < self.whispers.len() && self.whispers[w].0 == i {
                w += 1;
            }
            let heard_whispers = &self.whispers[start..w];
            let out = &mut self.outputs[i * frame..(i + 1) * frame];
            let own = &self.inputs[i * frame..(i + 1) * frame];
            if slot.opts.deaf {
                out.fill(0);
            } else if heard_whispers.is_empty() && !slot.in_sum {
                // Listeners, muted and silent members all hear exactly the
                // sum: clip it once and copy.
                if !clipped_ready {
                    clip_into(&mut self.sum_clipped, &self.sum);
                    clipped_ready = true;
                }
                out.copy_from_slice(&self.sum_clipped);
            } else if heard_whispers.is_empty() {
                sub_scaled_clip(out, &self.sum, own, slot.gain);
            } else {
                self.acc.copy_from_slice(&self.sum);
                if slot.in_sum {
                    sub_scaled(&mut self.acc, own, slot.gain);
                }
                for &(_, from) in heard_whispers {
                    let gain = self.slots[from].gain;
                    add_scaled(
                        &mut self.acc,
                        &self.inputs[from * frame..(from + 1) * frame],
                        gain,
                    );
                }
                clip_into(out, &self.acc);
            }
        }

        for i in 0..self.slots.len() {
            let loud = self.slots[i].has_input && {
                let energy = energy(&self.inputs[i * frame..(i + 1) * frame]);
                energy > 0 && energy as f64 >= self.talk_energy
            };
            let hangover = self.hangover_ticks;
            let slot = &mut self.slots[i];
            slot.has_input = false;
            let change = if loud {
                slot.quiet_ticks = 0;
                !slot.talking
            } else if slot.talking {
                slot.quiet_ticks += 1;
                slot.quiet_ticks >= hangover
            } else {
                false
            };
            if change {
                slot.talking = !slot.talking;
                let (id, talking) = (slot.id, slot.talking);
                self.push_event(id, talking);
            }
        }
    }

    /// What `id` hears this tick (one frame), as computed by the last `mix`.
    /// Silence for an unknown id, so a caller that races a removal still gets
    /// a frame of the right length.
    pub fn output(&self, id: MemberId) -> &[i16] {
        match self.index.get(&id) {
            Some(&i) => &self.outputs[i * self.frame..(i + 1) * self.frame],
            None => &self.silence,
        }
    }

    /// Whether `id` is talking (above the threshold, or within the hangover
    /// after it). Detection looks at what the member sends before gain and
    /// regardless of mute or audience, so a UI can say "you are muted".
    pub fn is_talking(&self, id: MemberId) -> bool {
        self.index.get(&id).is_some_and(|&i| self.slots[i].talking)
    }

    /// Talking state changes since the previous call, oldest first:
    /// `(member, true)` when it starts talking, `(member, false)` when it
    /// stops (or leaves while talking).
    pub fn take_talk_events(&mut self) -> Vec<(MemberId, bool)> {
        self.events.drain(..).collect()
    }

    /// Talk events dropped because more than 4096 piled up untaken.
    pub fn talk_events_dropped(&self) -> u64 {
        self.events_dropped
    }

    fn push_event(&mut self, id: MemberId, talking: bool) {
        if self.events.len() >= MAX_PENDING_EVENTS {
            self.events.pop_front();
            self.events_dropped += 1;
        }
        self.events.push_back((id, talking));
    }
}

/// Converts a gain in dB to the Q12 factor the loops use.
fn gain_q12(gain_db: f32) -> Result<i32, MixerError> {
    if gain_db.is_nan() {
        return Err(MixerError::InvalidGain);
    }
    let db = f64::from(gain_db.min(MAX_GAIN_DB));
    // Below about -78 dB the factor rounds to 0: the member is inaudible.
    Ok((10f64.powf(db / 20.0) * f64::from(GAIN_ONE)).round() as i32)
}

/// A member's contribution for one sample; bit-exact unity at 0 dB.
#[inline(always)]
fn scaled(x: i16, gain: i32) -> i32 {
    (i32::from(x) * gain + GAIN_ROUND) >> GAIN_SHIFT
}

// The loops below are split by gain == unity because the plain widening add
// vectorises far better than a 32-bit multiply on baseline x86-64 (SSE2).

fn add_scaled(acc: &mut [i32], input: &[i16], gain: i32) {
    if gain == GAIN_ONE {
        for (a, &x) in acc.iter_mut().zip(input) {
            *a += i32::from(x);
        }
    } else {
        for (a, &x) in acc.iter_mut().zip(input) {
            *a += scaled(x, gain);
        }
    }
}

fn sub_scaled(acc: &mut [i32], input: &[i16], gain: i32) {
    if gain == GAIN_ONE {
        for (a, &x) in acc.iter_mut().zip(input) {
            *a -= i32::from(x);
        }
    } else {
        for (a, &x) in acc.iter_mut().zip(input) {
            *a -= scaled(x, gain);
        }
    }
}

fn sub_scaled_clip(out: &mut [i16], sum: &[i32], own: &[i16], gain: i32) {
    if gain == GAIN_ONE {
        for ((o, &s), &x) in out.iter_mut().zip(sum).zip(own) {
            *o = clip(s - i32::from(x));
        }
    } else {
        for ((o, &s), &x) in out.iter_mut().zip(sum).zip(own) {
            *o = clip(s - scaled(x, gain));
        }
    }
}

fn clip_into(out: &mut [i16], acc: &[i32]) {
    for (o, &a) in out.iter_mut().zip(acc) {
        *o = clip(a);
    }
}

#[inline(always)]
fn clip(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// Sum of squares of a frame.
fn energy(pcm: &[i16]) -> u64 {
    // i16 x i16 fits i32 (at most 2^30), so square in 32 bits and widen only
    // for the running sum.
    pcm.iter()
        .map(|&x| {
            let x = i32::from(x);
            (x * x) as u32 as u64
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{level_dbov, RATE_16K, RATE_8K};

    /// A deterministic tone-like frame, different per `seed`, peak `amp`.
    fn frame(len: usize, seed: u64, amp: f64) -> Vec<i16> {
        let f = 0.01 + (seed % 17) as f64 * 0.013;
        (0..len)
            .map(|n| {
                (amp * (n as f64 * f * std::f64::consts::TAU + seed as f64).sin()).round() as i16
            })
            .collect()
    }

    fn sum_of(frames: &[&[i16]]) -> Vec<i16> {
        let len = frames[0].len();
        (0..len)
            .map(|n| {
                let s: i32 = frames.iter().map(|f| i32::from(f[n])).sum();
                s.clamp(-32768, 32767) as i16
            })
            .collect()
    }

    fn mixer_with(rate: u32, ids: &[MemberId]) -> Mixer {
        let mut m = Mixer::new(rate);
        for &id in ids {
            m.add(id, MemberOptions::default()).unwrap();
        }
        m
    }

    #[test]
    fn three_members_hear_exactly_the_other_two() {
        let mut m = mixer_with(RATE_8K, &[1, 2, 3]);
        let (a, b, c) = (
            frame(160, 1, 8000.0),
            frame(160, 2, 7000.0),
            frame(160, 3, 6000.0),
        );
        m.push(1, &a).unwrap();
        m.push(2, &b).unwrap();
        m.push(3, &c).unwrap();
        m.mix();
        assert_eq!(m.output(1), sum_of(&[&b, &c]).as_slice());
        assert_eq!(m.output(2), sum_of(&[&a, &c]).as_slice());
        assert_eq!(m.output(3), sum_of(&[&a, &b]).as_slice());
    }

    #[test]
    fn a_lone_member_hears_silence_not_itself() {
        let mut m = mixer_with(RATE_8K, &[7]);
        m.push(7, &frame(160, 5, 20000.0)).unwrap();
        m.mix();
        assert!(m.output(7).iter().all(|&s| s == 0));
        // With a gain too: what is subtracted must equal what was added.
        m.add(8, MemberOptions::default()).unwrap();
        m.set_gain_db(7, -3.7).unwrap();
        let x = frame(160, 6, 30000.0);
        m.push(7, &x).unwrap();
        m.mix();
        assert!(m.output(7).iter().all(|&s| s == 0));
        assert!(m.output(8).iter().any(|&s| s != 0));
    }

    #[test]
    fn gain_plus_six_doubles_and_minus_infinity_or_mute_removes() {
        let mut m = mixer_with(RATE_8K, &[1, 2]);
        m.set_gain_db(1, 6.0).unwrap();
        let x = frame(160, 3, 10000.0);
        m.push(1, &x).unwrap();
        m.mix();
        for (&o, &i) in m.output(2).iter().zip(&x) {
            let want = f64::from(i) * 10f64.powf(6.0 / 20.0);
            assert!((f64::from(o) - want).abs() <= 1.5, "{o} vs {want}");
            // +6 dB is x1.995: "doubles" within a quarter percent.
            assert!((f64::from(o) - 2.0 * f64::from(i)).abs() <= 0.005 * f64::from(i).abs() + 1.0);
        }

        m.set_gain_db(1, f32::NEG_INFINITY).unwrap();
        m.push(1, &x).unwrap();
        m.mix();
        assert!(m.output(2).iter().all(|&s| s == 0));

        m.set_gain_db(1, 0.0).unwrap();
        m.set_muted(1, true).unwrap();
        m.push(1, &x).unwrap();
        m.mix();
        assert!(m.output(2).iter().all(|&s| s == 0));

        m.set_muted(1, false).unwrap();
        m.push(1, &x).unwrap();
        m.mix();
        assert_eq!(m.output(2), x.as_slice());

        assert_eq!(m.set_gain_db(1, f32::NAN), Err(MixerError::InvalidGain));
        assert_eq!(m.set_gain_db(9, 0.0), Err(MixerError::UnknownMember(9)));
        // Very large gains are clamped, not overflowed.
        m.set_gain_db(1, 200.0).unwrap();
        m.push(1, &[i16::MIN; 160]).unwrap();
        m.mix();
        assert!(m.output(2).iter().all(|&s| s == i16::MIN));
    }

    #[test]
    fn many_loud_members_clip_without_overflow() {
        let ids: Vec<MemberId> = (0..MAX_MEMBERS as u64).collect();
        let mut m = mixer_with(RATE_8K, &ids);
        let mut high = [i16::MAX; 160];
        high[0] = i16::MIN;
        for &id in &ids {
            m.set_gain_db(id, MAX_GAIN_DB).unwrap();
            m.push(id, &high).unwrap();
        }
        m.mix();
        for &id in &[0, 500, 1023] {
            let out = m.output(id);
            assert_eq!(out[0], i16::MIN);
            assert!(out[1..].iter().all(|&s| s == i16::MAX));
        }
        assert_eq!(
            m.add(5000, MemberOptions::default()),
            Err(MixerError::Full(MAX_MEMBERS))
        );
    }

    #[test]
    fn deaf_member_hears_silence_but_is_heard() {
        let mut m = mixer_with(RATE_8K, &[1, 2, 3]);
        m.set_deaf(1, true).unwrap();
        let (a, b, c) = (
            frame(160, 1, 5000.0),
            frame(160, 2, 5000.0),
            frame(160, 3, 5000.0),
        );
        m.push(1, &a).unwrap();
        m.push(2, &b).unwrap();
        m.push(3, &c).unwrap();
        m.mix();
        assert!(m.output(1).iter().all(|&s| s == 0));
        assert_eq!(m.output(2), sum_of(&[&a, &c]).as_slice());
        assert_eq!(m.output(3), sum_of(&[&a, &b]).as_slice());
    }

    #[test]
    fn supervisor_listen_whisper_barge() {
        const CALLER: MemberId = 10;
        const AGENT: MemberId = 20;
        const SUP: MemberId = 30;
        let mut m = mixer_with(RATE_8K, &[CALLER, AGENT]);
        m.add(
            SUP,
            MemberOptions {
                audience: Audience::Nobody,
                ..Default::default()
            },
        )
        .unwrap();
        let (c, a, s) = (
            frame(160, 1, 6000.0),
            frame(160, 2, 6000.0),
            frame(160, 3, 6000.0),
        );
        let tick = |m: &mut Mixer| {
            m.push(CALLER, &c).unwrap();
            m.push(AGENT, &a).unwrap();
            m.push(SUP, &s).unwrap();
            m.mix();
        };

        // Listen: hears both, heard by nobody.
        tick(&mut m);
        assert_eq!(m.output(CALLER), a.as_slice());
        assert_eq!(m.output(AGENT), c.as_slice());
        assert_eq!(m.output(SUP), sum_of(&[&c, &a]).as_slice());

        // Whisper: only the agent hears the supervisor.
        m.set_audience(SUP, Audience::Only(vec![AGENT])).unwrap();
        tick(&mut m);
        assert_eq!(m.output(CALLER), a.as_slice());
        assert_eq!(m.output(AGENT), sum_of(&[&c, &s]).as_slice());
        assert_eq!(m.output(SUP), sum_of(&[&c, &a]).as_slice());

        // A whisper list naming the supervisor itself, twice, or an unknown
        // id changes nothing.
        m.set_audience(SUP, Audience::Only(vec![AGENT, SUP, AGENT, 999]))
            .unwrap();
        tick(&mut m);
        assert_eq!(m.output(CALLER), a.as_slice());
        assert_eq!(m.output(AGENT), sum_of(&[&c, &s]).as_slice());
        assert_eq!(m.output(SUP), sum_of(&[&c, &a]).as_slice());

        // Muting a whisperer silences the whisper too.
        m.set_muted(SUP, true).unwrap();
        tick(&mut m);
        assert_eq!(m.output(AGENT), c.as_slice());
        m.set_muted(SUP, false).unwrap();

        // Barge: everyone hears everyone.
        m.set_audience(SUP, Audience::Everyone).unwrap();
        tick(&mut m);
        assert_eq!(m.output(CALLER), sum_of(&[&a, &s]).as_slice());
        assert_eq!(m.output(AGENT), sum_of(&[&c, &s]).as_slice());
        assert_eq!(m.output(SUP), sum_of(&[&c, &a]).as_slice());

        assert_eq!(
            m.set_audience(99, Audience::Nobody),
            Err(MixerError::UnknownMember(99))
        );
    }

    #[test]
    fn members_come_and_go_mid_stream() {
        let mut m = mixer_with(RATE_8K, &[1, 2, 3, 4]);
        assert_eq!(
            m.add(2, MemberOptions::default()),
            Err(MixerError::DuplicateMember(2))
        );
        let f: Vec<Vec<i16>> = (1..=5).map(|s| frame(160, s, 4000.0)).collect();
        for id in 1..=4 {
            m.push(id, &f[id as usize - 1]).unwrap();
        }
        m.mix();
        assert_eq!(m.output(4), sum_of(&[&f[0], &f[1], &f[2]]).as_slice());

        assert!(m.remove(2));
        assert!(!m.remove(2));
        assert_eq!(m.members().collect::<Vec<_>>(), vec![1, 3, 4]);
        assert_eq!(m.len(), 3);
        assert_eq!(m.push(2, &f[1]), Err(MixerError::UnknownMember(2)));
        assert!(m.output(2).iter().all(|&s| s == 0));
        assert_eq!(m.output(2).len(), 160);

        m.add(5, MemberOptions::default()).unwrap();
        for id in [1u64, 3, 4, 5] {
            m.push(id, &f[id as usize - 1]).unwrap();
        }
        m.mix();
        assert_eq!(m.output(1), sum_of(&[&f[2], &f[3], &f[4]]).as_slice());
        assert_eq!(m.output(4), sum_of(&[&f[0], &f[2], &f[4]]).as_slice());
        assert_eq!(m.output(5), sum_of(&[&f[0], &f[2], &f[3]]).as_slice());

        for id in [1, 3, 4, 5] {
            assert!(m.remove(id));
        }
        assert!(m.is_empty());
        m.mix();
    }

    #[test]
    fn missing_push_is_silence_and_bad_lengths_are_refused() {
        let mut m = mixer_with(RATE_8K, &[1, 2, 3]);
        let a = frame(160, 1, 5000.0);
        let b = frame(160, 2, 5000.0);
        m.push(1, &a).unwrap();
        m.push(2, &b).unwrap();
        m.mix();
        assert_eq!(m.output(3), sum_of(&[&a, &b]).as_slice());

        // Next tick only 1 pushes: 2's old frame must not linger.
        m.push(1, &a).unwrap();
        m.mix();
        assert_eq!(m.output(3), a.as_slice());
        assert_eq!(m.output(1), [0; 160].as_slice());

        // A short frame is refused and leaves the member silent for the tick,
        // even if it pushed a good frame before.
        m.push(1, &a).unwrap();
        assert_eq!(
            m.push(1, &a[..80]),
            Err(MixerError::FrameLength {
                expected: 160,
                got: 80
            })
        );
        assert!(m.push(2, &[0; 320]).is_err());
        m.mix();
        assert!(m.output(3).iter().all(|&s| s == 0));
    }

    #[test]
    fn wideband_frames() {
        let mut m = mixer_with(RATE_16K, &[1, 2, 3]);
        assert_eq!(m.rate(), RATE_16K);
        assert_eq!(m.frame_len(), 320);
        let (a, b, c) = (
            frame(320, 1, 9000.0),
            frame(320, 2, 9000.0),
            frame(320, 3, 9000.0),
        );
        assert!(m.push(1, &a[..160]).is_err());
        m.push(1, &a).unwrap();
        m.push(2, &b).unwrap();
        m.push(3, &c).unwrap();
        m.mix();
        assert_eq!(m.output(1).len(), 320);
        assert_eq!(m.output(1), sum_of(&[&b, &c]).as_slice());
        assert_eq!(m.output(3), sum_of(&[&a, &b]).as_slice());
    }

    #[test]
    fn push_from_an_audio_source() {
        struct Ramp(i16);
        impl AudioSource for Ramp {
            fn fill(&mut self, out: &mut [i16]) -> Fill {
                for s in out.iter_mut() {
                    *s = self.0;
                    self.0 = self.0.wrapping_add(1);
                }
                Fill::More
            }
        }
        let mut m = mixer_with(RATE_8K, &[1, 2]);
        let mut src = Ramp(0);
        assert_eq!(m.push_from(1, &mut src), Ok(Fill::More));
        m.mix();
        let want: Vec<i16> = (0..160).collect();
        assert_eq!(m.output(2), want.as_slice());
        assert_eq!(m.push_from(3, &mut src), Err(MixerError::UnknownMember(3)));
    }

    /// A frame whose level is `dbov` (a square wave, so RMS = amplitude).
    fn square(len: usize, dbov: f64) -> Vec<i16> {
        let amp = (32768.0 * 10f64.powf(dbov / 20.0)).round() as i16;
        (0..len)
            .map(|n| if n % 2 == 0 { amp } else { -amp })
            .collect()
    }

    #[test]
    fn talk_detection_with_hangover_and_events() {
        let mut m = mixer_with(RATE_8K, &[1, 2]);
        let loud = square(160, -20.0);
        let quiet = square(160, -50.0);
        assert!(!m.is_talking(1));

        m.push(1, &loud).unwrap();
        m.push(2, &quiet).unwrap();
        m.mix();
        assert!(m.is_talking(1));
        assert!(!m.is_talking(2));
        assert_eq!(m.take_talk_events(), vec![(1, true)]);
        assert!(m.take_talk_events().is_empty());

        m.push(1, &loud).unwrap();
        m.mix();
        // 14 quiet ticks (one missing push, the rest quiet audio) stay talking.
        for t in 0..14 {
            if t != 3 {
                m.push(1, &quiet).unwrap();
            }
            m.mix();
            assert!(m.is_talking(1), "quiet tick {t}");
        }
        assert!(m.take_talk_events().is_empty());
        // A loud tick inside the hangover restarts it.
        m.push(1, &loud).unwrap();
        m.mix();
        for t in 0..14 {
            m.mix();
            assert!(m.is_talking(1), "quiet tick {t} after restart");
        }
        assert!(m.take_talk_events().is_empty());
        // The 15th quiet tick (300 ms) ends it.
        m.mix();
        assert!(!m.is_talking(1));
        assert_eq!(m.take_talk_events(), vec![(1, false)]);

        // Talking is judged on what is sent, whatever the mute.
        m.set_muted(2, true).unwrap();
        m.push(2, &loud).unwrap();
        m.mix();
        assert!(m.is_talking(2));
        assert!(m.remove(2));
        assert_eq!(m.take_talk_events(), vec![(2, true), (2, false)]);
        assert!(!m.is_talking(2));
    }

    #[test]
    fn talk_threshold_matches_level_dbov() {
        let mut m = mixer_with(RATE_16K, &[1]);
        m.set_talk_hangover_ticks(1);
        for (dbov, want) in [(-39.0, true), (-41.0, false)] {
            let f = square(320, dbov);
            assert_eq!(level_dbov(&f) > DEFAULT_TALK_THRESHOLD_DBOV, want);
            m.push(1, &f).unwrap();
            m.mix();
            assert_eq!(m.is_talking(1), want, "{dbov} dBov");
        }
        m.set_talk_threshold_dbov(-10.0);
        assert_eq!(m.talk_threshold_dbov(), -10.0);
        m.push(1, &square(320, -20.0)).unwrap();
        m.mix();
        assert!(!m.is_talking(1));
        m.push(1, &square(320, -5.0)).unwrap();
        m.mix();
        assert!(m.is_talking(1));
        // Digital silence is never talking, even at the lowest threshold.
        m.set_talk_threshold_dbov(-200.0);
        m.push(1, &[0; 320]).unwrap();
        m.mix();
        assert!(!m.is_talking(1));
    }

    /// One member as the naive reference sees it: options, linear gain,
    /// and this tick's input if any.
    struct RefMember {
        id: MemberId,
        opts: MemberOptions,
        gain: f64,
        input: Option<Vec<i16>>,
    }

    /// Straightforward O(N^2) mix, with float gains, to check the fast path.
    fn reference(members: &[RefMember], listener: MemberId, len: usize) -> Vec<i16> {
        let me = members.iter().find(|m| m.id == listener).unwrap();
        if me.opts.deaf {
            return vec![0; len];
        }
        (0..len)
            .map(|n| {
                let mut acc = 0i64;
                for m in members {
                    let Some(input) = &m.input else { continue };
                    let heard = m.id != listener
                        && !m.opts.muted
                        && match &m.opts.audience {
                            Audience::Everyone => true,
                            Audience::Only(ids) => ids.contains(&listener),
                            Audience::Nobody => false,
                        };
                    if heard {
                        acc += (f64::from(input[n]) * m.gain + 0.5).floor() as i64;
                    }
                }
                acc.clamp(-32768, 32767) as i16
            })
            .collect()
    }

    #[test]
    fn hundred_members_match_a_naive_reference() {
        for rate in [RATE_8K, RATE_16K] {
            let len = frame_len(rate);
            // Factors exact in Q12, so the float reference must agree to the
            // sample.
            let gains = [1.0f64, 0.5, 2.0, 0.25];
            let mut members = Vec::new();
            for id in 0..100u64 {
                let audience = match id {
                    7 => Audience::Only(vec![3, 50]),
                    8 => Audience::Nobody,
                    9 => Audience::Only(vec![50]),
                    _ => Audience::Everyone,
                };
                let gain = gains[(id % 4) as usize];
                let opts = MemberOptions {
                    gain_db: 20.0 * gain.log10() as f32,
                    muted: id % 11 == 5,
                    deaf: id % 13 == 6,
                    audience,
                };
                // Most are quiet, some loud enough to clip sometimes.
                let amp = if id % 10 == 0 { 9000.0 } else { 300.0 };
                let input = (id % 6 != 1 || id == 7).then(|| frame(len, id, amp));
                members.push(RefMember {
                    id,
                    opts,
                    gain,
                    input,
                });
            }
            let mut m = Mixer::new(rate);
            for r in &members {
                m.add(r.id, r.opts.clone()).unwrap();
            }
            for tick in 0..2 {
                for r in &members {
                    if let Some(input) = &r.input {
                        m.push(r.id, input).unwrap();
                    }
                }
                m.mix();
                let mut clipped = false;
                for id in 0..100u64 {
                    let want = reference(&members, id, len);
                    clipped |= want.iter().any(|&s| s == i16::MAX || s == i16::MIN);
                    assert_eq!(
                        m.output(id),
                        want.as_slice(),
                        "rate {rate} tick {tick} member {id}"
                    );
                }
                assert!(clipped, "the test should exercise clipping");
                // The whispers are actually heard where they should be.
                let without_whispers = |listener| {
                    let quiet: Vec<RefMember> = members
                        .iter()
                        .map(|r| RefMember {
                            id: r.id,
                            opts: r.opts.clone(),
                            gain: r.gain,
                            input: if matches!(r.opts.audience, Audience::Only(_)) {
                                None
                            } else {
                                r.input.clone()
                            },
                        })
                        .collect();
                    reference(&quiet, listener, len)
                };
                assert_ne!(m.output(50), without_whispers(50).as_slice());
                assert_ne!(m.output(3), without_whispers(3).as_slice());
                assert_eq!(m.output(4), without_whispers(4).as_slice());
            }
        }
    }

    #[test]
    fn q12_gains() {
        assert_eq!(gain_q12(0.0), Ok(GAIN_ONE));
        assert_eq!(gain_q12(f32::NEG_INFINITY), Ok(0));
        assert_eq!(gain_q12(-90.0), Ok(0));
        assert_eq!(gain_q12(20.0 * 0.5f32.log10()), Ok(GAIN_ONE / 2));
        let max = gain_q12(1000.0).unwrap();
        assert_eq!(Ok(max), gain_q12(MAX_GAIN_DB));
        // The extreme product plus rounding stays inside i32.
        assert!(i64::from(max) * 32768 + i64::from(GAIN_ROUND) <= i64::from(i32::MAX));
        assert_eq!(
            scaled(-32768, max),
            ((-32768i64 * i64::from(max) + 2048) >> 12) as i32
        );
        for x in [-32768i16, -1, 0, 1, 12345, 32767] {
            assert_eq!(scaled(x, GAIN_ONE), i32::from(x));
        }
    }
}
