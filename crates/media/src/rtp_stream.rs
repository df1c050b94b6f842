//! One outgoing RTP stream that stays valid for the phone while what it
//! carries changes source: a prompt we encode ourselves, then audio
//! forwarded from the other leg, then music on hold, and back.
//!
//! A phone sees a single SSRC whose sequence numbers always continue by one
//! and whose timestamps never go backwards. [`RtpSender::build`] writes
//! packets for audio we produce; [`RtpSender::rewrite`] maps packets
//! forwarded from another stream (with their own SSRC, sequence and
//! timestamp spaces) into ours. At every change of source (built ↔
//! forwarded, or a new forwarded SSRC, or a jump in the forwarded stream)
//! the mapping is re-based so that the next packet continues from the last
//! one sent, and it carries the marker bit so the phone resynchronises its
//! jitter buffer.
//!
//! Time that passes without sending (silence suppression, a pause between
//! sources) is the caller's to declare with [`RtpSender::skip`]: the sender
//! does not read a clock.
//!
//! Built headers are written with the `rtp` crate's
//! [`Header`](rtp::header::Header) (no heap allocation for a header without
//! CSRCs or extensions). Forwarded packets are patched in place instead of
//! being parsed and re-serialised: only the fixed fields change, any CSRC
//! list and header extension are kept byte for byte, and parsing them into
//! the crate's `Header` would allocate per packet for extensions.

use rtp::header::{Header, SEQ_NUM_OFFSET, SSRC_OFFSET, TIMESTAMP_OFFSET};
use webrtc_util::Marshal;

/// Length of the fixed RTP header.
pub const RTP_HEADER_LEN: usize = 12;

/// Default timestamp advance assumed after a forwarded packet until the
/// forwarded stream shows its own (20 ms at the 8000 Hz RTP clock of G.711
/// and G.722; see [`RtpSender::set_clock_rate`] for others).
const DEFAULT_STEP: u32 = 160;
/// Sequence distances that are reordering rather than a jump
/// (RFC 3550 A.1 defaults).
const MAX_MISORDER: i32 = 100;
const MAX_DROPOUT: i32 = 3000;
/// Largest per-packet timestamp step learned from a forwarded stream (60 ms
/// at 8 kHz, the longest usual ptime); larger steps are silence gaps, not
/// packet durations.
const MAX_STEP: u32 = 480;
/// The longest usual ptime, in ms: [`MAX_STEP`] at any clock.
const MAX_STEP_MS: u32 = 60;

/// How packets of one forwarded stream map into ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mapping {
    in_ssrc: u32,
    /// Added (wrapping) to the incoming sequence number / timestamp.
    seq_delta: u16,
    ts_delta: u32,
    /// Newest incoming sequence number and its timestamp.
    in_seq: u16,
    in_ts: u32,
}

impl Mapping {
    /// Signed distance of `seq` from the newest packet of this stream.
    fn distance(&self, seq: u16) -> i32 {
        i32::from(seq.wrapping_sub(self.in_seq) as i16)
    }
}

/// What produced the last packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Nothing,
    Built,
    Forwarded(Mapping),
}

/// Fields of the fixed header of a forwarded packet.
struct Fixed {
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
}

fn read_fixed(pkt: &[u8]) -> Option<Fixed> {
    let head = pkt.get(..RTP_HEADER_LEN)?;
    if head[0] >> 6 != 2 {
        return None;
    }
    let csrc_len = usize::from(head[0] & 0x0F) * 4;
    if pkt.len() < RTP_HEADER_LEN + csrc_len {
        return None;
    }
    let u32_at = |o: usize| u32::from_be_bytes([head[o], head[o + 1], head[o + 2], head[o + 3]]);
    Some(Fixed {
        marker: head[1] & 0x80 != 0,
        seq: u16::from_be_bytes([head[SEQ_NUM_OFFSET], head[SEQ_NUM_OFFSET + 1]]),
        ts: u32_at(TIMESTAMP_OFFSET),
        ssrc: u32_at(SSRC_OFFSET),
    })
}

/// Sequence, timestamp and SSRC state of one outgoing RTP stream.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    payload_type: u8,
    /// Sequence number of the next packet.
    seq: u16,
    /// Timestamp of the next built packet.
    ts: u32,
    marker_pending: bool,
    /// Timestamp advance of the last packet, to continue after forwarded ones.
    step: u32,
    /// Largest step learned from forwarded packets (60 ms at the clock).
    max_step: u32,
    source: Source,
    /// The forwarded stream before the current source, to place its
    /// stragglers without disturbing the current mapping.
    previous: Option<Mapping>,
}

impl RtpSender {
    /// A stream with this SSRC and payload type, starting at a random
    /// sequence number and timestamp (RFC 3550 §5.1). The first packet
    /// carries the marker bit.
    pub fn new(ssrc: u32, payload_type: u8) -> RtpSender {
        RtpSender::with_initial(ssrc, payload_type, fastrand::u16(..), fastrand::u32(..))
    }

    /// Same as [`RtpSender::new`] with a chosen first sequence number and
    /// timestamp (tests, or continuing a stream).
    pub fn with_initial(ssrc: u32, payload_type: u8, seq: u16, ts: u32) -> RtpSender {
        RtpSender {
            ssrc,
            payload_type: payload_type & 0x7F,
            seq,
            ts,
            marker_pending: true,
            step: DEFAULT_STEP,
            max_step: MAX_STEP,
            source: Source::Nothing,
            previous: None,
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Payload type of built packets.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Changes the payload type of built packets (e.g. after a re-INVITE
    /// changed the codec). Forwarded packets keep theirs.
    pub fn set_payload_type(&mut self, payload_type: u8) {
        self.payload_type = payload_type & 0x7F;
    }

    /// Sets the RTP clock of what the stream carries (8000 unless told):
    /// the step assumed after a forwarded packet becomes 20 ms at `hz`, and
    /// steps up to 60 ms at `hz` are learned from forwarded streams. For
    /// Opus (48 kHz) the 8 kHz defaults would place our next packet a
    /// sixth of a packet after the last forwarded one.
    pub fn set_clock_rate(&mut self, hz: u32) {
        let hz = if hz == 0 { 8000 } else { hz };
        self.step = (hz / 1000 * crate::audio::FRAME_MS).max(1);
        self.max_step = (hz / 1000 * MAX_STEP_MS).max(1);
    }

    /// Sequence number the next packet will carry.
    pub fn next_seq(&self) -> u16 {
        self.seq
    }

    /// Timestamp the next built packet will carry; also the timestamp to
    /// give an RFC 4733 event that starts now.
    pub fn next_timestamp(&self) -> u32 {
        self.ts
    }

    /// Sets the marker bit on the next packet (start of a talkspurt).
    pub fn mark_talkspurt(&mut self) {
        self.marker_pending = true;
    }

    /// Declares that `ts_units` of time passed without sending (silence
    /// suppression, a pause between sources): the next built packet's
    /// timestamp is that much later.
    pub fn skip(&mut self, ts_units: u32) {
        self.ts = self.ts.wrapping_add(ts_units);
    }

    /// Leaves a forwarded source behind: a later forwarded packet, even of
    /// the same stream, is re-based (our sequence numbers moved on).
    fn leave_forwarded(&mut self) -> bool {
        match self.source {
            Source::Forwarded(m) => {
                self.previous = Some(m);
                true
            }
            Source::Built | Source::Nothing => false,
        }
    }

    fn write_header(&self, out: &mut Vec<u8>, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let header = Header {
            version: 2,
            marker,
            payload_type: pt & 0x7F,
            sequence_number: self.seq,
            timestamp: ts,
            ssrc: self.ssrc,
            ..Default::default()
        };
        out.clear();
        out.resize(RTP_HEADER_LEN, 0);
        if let Err(e) = header.marshal_to(&mut out[..]) {
            // A plain 12-byte header always fits; never send a broken one.
            tracing::error!("RTP header marshal failed: {e}");
            out.clear();
            return;
        }
        out.extend_from_slice(payload);
    }

    /// Writes a packet of our own audio into `out` (cleared first): the
    /// 12-byte header, then `payload`. `ts_units` is the payload's duration
    /// in timestamp units (160 for 20 ms); the next packet's timestamp is
    /// that much later. The first packet after forwarded ones carries the
    /// marker bit. `out` is left empty only if the header could not be
    /// written, which cannot happen for this fixed-size header.
    pub fn build(&mut self, payload: &[u8], ts_units: u32, out: &mut Vec<u8>) {
        let switched = self.leave_forwarded();
        let marker = std::mem::take(&mut self.marker_pending) || switched;
        self.write_header(out, self.payload_type, marker, self.ts, payload);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(ts_units);
        self.step = ts_units;
        self.source = Source::Built;
    }

    /// Writes one RFC 4733 telephone-event packet into `out` (cleared
    /// first) with payload type `pt`.
    ///
    /// All packets of one event (updates and the three final ones) carry
    /// the event's start timestamp `event_ts`, normally
    /// [`next_timestamp`](RtpSender::next_timestamp) taken when the event
    /// began; `marker` is set on the event's first packet only. The
    /// sequence number advances as for any packet, but the audio timestamp
    /// does not: while an event replaces the audio, declare the time with
    /// [`skip`](RtpSender::skip) (or keep building audio packets, which
    /// advance it) so audio after the event continues at the right time.
    pub fn build_event(
        &mut self,
        pt: u8,
        payload: &[u8],
        event_ts: u32,
        marker: bool,
        out: &mut Vec<u8>,
    ) {
        self.leave_forwarded();
        self.write_header(out, pt, marker, event_ts, payload);
        self.seq = self.seq.wrapping_add(1);
        self.source = Source::Built;
    }

    /// Rewrites a packet forwarded from another stream, in place, into this
    /// stream: our SSRC, and its sequence number and timestamp mapped into
    /// our continuous spaces. Payload type, CSRCs, extensions and payload
    /// are kept. Returns false (packet untouched) if it is not an RTP
    /// version 2 packet of at least its header's length.
    pub fn rewrite(&mut self, pkt: &mut [u8]) -> bool {
        let Some(f) = read_fixed(pkt) else {
            return false;
        };

        let (mapping, rebased) = match self.source {
            Source::Forwarded(m) if m.in_ssrc == f.ssrc && !Self::jumped(&m, &f) => (m, false),
            _ => {
                // A straggler of the stream we forwarded before the current
                // source: place it among that stream's packets.
                if let Some(prev) = self.previous {
                    let d = prev.distance(f.seq);
                    if prev.in_ssrc == f.ssrc && (-MAX_MISORDER..=0).contains(&d) {
                        Self::patch(pkt, &prev, f.marker, self.ssrc, &f);
                        return true;
                    }
                }
                if let Source::Forwarded(m) = self.source {
                    self.previous = Some(m);
                }
                let m = Mapping {
                    in_ssrc: f.ssrc,
                    seq_delta: self.seq.wrapping_sub(f.seq),
                    ts_delta: self.ts.wrapping_sub(f.ts),
                    in_seq: f.seq,
                    in_ts: f.ts,
                };
                (m, true)
            }
        };

        let mut mapping = mapping;
        let d = mapping.distance(f.seq);
        if rebased || d > 0 {
            if !rebased {
                let ts_step = f.ts.wrapping_sub(mapping.in_ts) / d.unsigned_abs();
                if (1..=self.max_step).contains(&ts_step) {
                    self.step = ts_step;
                }
                mapping.in_seq = f.seq;
                mapping.in_ts = f.ts;
            }
            let out_seq = f.seq.wrapping_add(mapping.seq_delta);
            let out_ts = f.ts.wrapping_add(mapping.ts_delta);
            self.seq = out_seq.wrapping_add(1);
            self.ts = out_ts.wrapping_add(self.step);
        }
        // Take the pending marker whatever else sets the bit: behind `||` it
        // stayed pending after a re-based packet and marked the next one too.
        let pending = std::mem::take(&mut self.marker_pending);
        let marker = f.marker || rebased || pending;
        Self::patch(pkt, &mapping, marker, self.ssrc, &f);
        self.source = Source::Forwarded(mapping);
        true
    }

    /// Whether a packet of the current forwarded SSRC is a discontinuity
    /// (the other side restarted its numbering) rather than the next or a
    /// reordered packet.
    fn jumped(m: &Mapping, f: &Fixed) -> bool {
        let d = m.distance(f.seq);
        if !(-MAX_MISORDER..=MAX_DROPOUT).contains(&d) {
            return true;
        }
        // Later sequence number but earlier timestamp: a new timeline.
        d > 0 && (f.ts.wrapping_sub(m.in_ts) as i32) < 0
    }

    fn patch(pkt: &mut [u8], m: &Mapping, marker: bool, ssrc: u32, f: &Fixed) {
        let seq = f.seq.wrapping_add(m.seq_delta);
        let ts = f.ts.wrapping_add(m.ts_delta);
        pkt[1] = (pkt[1] & 0x7F) | if marker { 0x80 } else { 0 };
        pkt[SEQ_NUM_OFFSET..SEQ_NUM_OFFSET + 2].copy_from_slice(&seq.to_be_bytes());
        pkt[TIMESTAMP_OFFSET..TIMESTAMP_OFFSET + 4].copy_from_slice(&ts.to_be_bytes());
        pkt[SSRC_OFFSET..SSRC_OFFSET + 4].copy_from_slice(&ssrc.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webrtc_util::Unmarshal;

    fn parse(pkt: &[u8]) -> Header {
        Header::unmarshal(&mut &pkt[..]).expect("valid RTP header")
    }

    /// A packet of some other stream, as the relay would receive it.
    fn foreign(ssrc: u32, seq: u16, ts: u32, marker: bool) -> Vec<u8> {
        let h = Header {
            version: 2,
            marker,
            payload_type: 0,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        };
        let mut v = vec![0u8; RTP_HEADER_LEN];
        h.marshal_to(&mut v[..]).expect("fits");
        v.extend_from_slice(&[0xAB; 160]);
        v
    }

    #[test]
    fn consecutive_builds_advance_and_wrap() {
        let mut s = RtpSender::with_initial(0x1234_5678, 8, 65534, u32::MAX - 200);
        let mut pkt = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..4 {
            s.build(&[0xD5; 160], 160, &mut pkt);
            assert_eq!(pkt.len(), RTP_HEADER_LEN + 160);
            assert!(pkt[RTP_HEADER_LEN..].iter().all(|&b| b == 0xD5));
            let h = parse(&pkt);
            assert_eq!((h.version, h.payload_type, h.ssrc), (2, 8, 0x1234_5678));
            assert!(h.csrc.is_empty() && !h.extension && !h.padding);
            seen.push((h.sequence_number, h.timestamp, h.marker));
        }
        assert_eq!(
            seen,
            [
                (65534, u32::MAX - 200, true),
                (65535, u32::MAX - 40, false),
                (0, 119, false),
                (1, 279, false),
            ]
        );
        // Talkspurt after a pause: marker, and the timestamp jumps.
        s.skip(800);
        s.mark_talkspurt();
        s.set_payload_type(0);
        s.build(&[0xFF; 160], 160, &mut pkt);
        let h = parse(&pkt);
        assert_eq!(
            (h.sequence_number, h.timestamp, h.marker),
            (2, 439 + 800, true)
        );
        assert_eq!(h.payload_type, 0);
    }

    #[test]
    fn random_start() {
        let a = RtpSender::new(1, 0);
        let b = RtpSender::new(1, 0);
        // Two fresh streams almost surely start elsewhere (1 in 2^48 not).
        assert!(a.next_seq() != b.next_seq() || a.next_timestamp() != b.next_timestamp());
    }

    #[test]
    fn switching_between_built_and_forwarded_keeps_the_stream_continuous() {
        let mut s = RtpSender::with_initial(7, 0, 100, 10_000);
        let mut out: Vec<Header> = Vec::new();
        let mut pkt = Vec::new();
        // A prompt.
        for _ in 0..3 {
            s.build(&[0; 160], 160, &mut pkt);
            out.push(parse(&pkt));
        }
        // Bridged audio from a stream with its own numbering, one packet
        // reordered, one lost (30003).
        for (seq, reorder) in [
            (30000u16, false),
            (30002, false),
            (30001, true),
            (30004, false),
        ] {
            let mut p = foreign(0xAAAA, seq, 5_000_000 + u32::from(seq - 30000) * 160, false);
            assert!(s.rewrite(&mut p));
            assert!(
                p[RTP_HEADER_LEN..].iter().all(|&b| b == 0xAB),
                "payload kept"
            );
            let h = parse(&p);
            if reorder {
                assert_eq!((h.sequence_number, h.timestamp), (104, 10_480 + 160));
            }
            out.push(h);
        }
        // Back to our own audio (music on hold).
        for _ in 0..2 {
            s.build(&[0; 160], 160, &mut pkt);
            out.push(parse(&pkt));
        }
        // Another forwarded stream, then the first one again.
        let mut p = foreign(0xBBBB, 9, 42, true);
        assert!(s.rewrite(&mut p));
        out.push(parse(&p));
        let mut p = foreign(0xAAAA, 30005, 5_000_000 + 5 * 160, false);
        assert!(s.rewrite(&mut p));
        out.push(parse(&p));

        let seqs: Vec<u16> = out.iter().map(|h| h.sequence_number).collect();
        assert_eq!(
            seqs,
            [100, 101, 102, 103, 105, 104, 107, 108, 109, 110, 111]
        );
        let ts: Vec<u32> = out.iter().map(|h| h.timestamp).collect();
        assert_eq!(
            ts,
            [
                10_000, 10_160, 10_320, // built
                10_480, 10_800, 10_640, 11_120, // forwarded, offsets kept
                11_280, 11_440, // built again, continuing
                11_600, // second forwarded stream
                11_760, // first forwarded stream, re-based
            ]
        );
        let markers: Vec<bool> = out.iter().map(|h| h.marker).collect();
        assert_eq!(
            markers,
            [true, false, false, true, false, false, false, true, false, true, true]
        );
        assert!(out.iter().all(|h| h.ssrc == 7));
        // Forwarded packets keep their own payload type.
        assert!(out.iter().all(|h| h.payload_type == 0));
    }

    #[test]
    fn a_48k_stream_steps_by_20_ms_at_its_clock() {
        let mut s = RtpSender::with_initial(7, 111, 500, 1000);
        s.set_clock_rate(48_000);
        let mut p = foreign(0xAAAA, 10, 50_000, false);
        assert!(s.rewrite(&mut p));
        // One forwarded packet: taken to last 20 ms at 48 kHz.
        assert_eq!(s.next_timestamp(), 1000 + 960);
        // 40 ms packets (1920 units, above the 8 kHz limit) are learned.
        let mut p = foreign(0xAAAA, 11, 50_000 + 1920, false);
        assert!(s.rewrite(&mut p));
        assert_eq!(s.next_timestamp(), 1000 + 1920 + 1920);
        // Our own packet after them continues there.
        let mut pkt = Vec::new();
        s.build(&[0; 10], 960, &mut pkt);
        assert_eq!(parse(&pkt).timestamp, 1000 + 3840);
        // Back to 8 kHz.
        s.set_clock_rate(8000);
        let mut p = foreign(0xBBBB, 1, 7, false);
        assert!(s.rewrite(&mut p));
        assert_eq!(s.next_timestamp(), 1000 + 3840 + 960 + 160);
    }

    #[test]
    fn forwarded_stream_restart_is_rebased() {
        let mut s = RtpSender::with_initial(7, 0, 500, 1000);
        let mut p = foreign(0xCCCC, 10, 160_000, false);
        assert!(s.rewrite(&mut p));
        let mut p = foreign(0xCCCC, 11, 160_160, false);
        assert!(s.rewrite(&mut p));
        assert_eq!(parse(&p).timestamp, 1160);
        // Same SSRC, numbering restarted far away.
        let mut p = foreign(0xCCCC, 40_000, 3, false);
        assert!(s.rewrite(&mut p));
        let h = parse(&p);
        assert_eq!(
            (h.sequence_number, h.timestamp, h.marker),
            (502, 1320, true)
        );
        // Same SSRC, next sequence number but the clock went backwards.
        let mut p = foreign(0xCCCC, 40_001, 1, false);
        assert!(s.rewrite(&mut p));
        let h = parse(&p);
        assert_eq!(
            (h.sequence_number, h.timestamp, h.marker),
            (503, 1480, true)
        );
        // A silence gap (timestamp leaps, sequence contiguous) is kept.
        let mut p = foreign(0xCCCC, 40_002, 1 + 8000, false);
        assert!(s.rewrite(&mut p));
        let h = parse(&p);
        assert_eq!(
            (h.sequence_number, h.timestamp, h.marker),
            (504, 1480 + 8000, false)
        );
        // ...without taking the gap for a packet duration.
        s.build(&[0; 160], 160, &mut Vec::new());
        assert_eq!(s.next_timestamp(), 1480 + 8000 + 160 + 160);
    }

    #[test]
    fn stragglers_of_the_previous_forwarded_stream_keep_their_place() {
        let mut s = RtpSender::with_initial(7, 0, 0, 0);
        for seq in 0..3u16 {
            let mut p = foreign(0xAAAA, seq, u32::from(seq) * 160, false);
            assert!(s.rewrite(&mut p));
        }
        let mut p = foreign(0xBBBB, 1000, 0, false);
        assert!(s.rewrite(&mut p));
        assert_eq!(parse(&p).sequence_number, 3);
        // Packet 1 of the first stream arrives late: mapped where it
        // belonged, and the current stream is undisturbed.
        let mut p = foreign(0xAAAA, 1, 160, false);
        assert!(s.rewrite(&mut p));
        assert_eq!(parse(&p).sequence_number, 1);
        let mut p = foreign(0xBBBB, 1001, 160, false);
        assert!(s.rewrite(&mut p));
        let h = parse(&p);
        assert_eq!((h.sequence_number, h.marker), (4, false));
    }

    #[test]
    fn events_share_a_timestamp_and_audio_resumes_after_them() {
        let mut s = RtpSender::with_initial(7, 0, 10, 1000);
        let mut pkt = Vec::new();
        s.build(&[0; 160], 160, &mut pkt);
        let event_ts = s.next_timestamp();
        let mut hs = Vec::new();
        for (i, end) in [false, false, true, true, true].into_iter().enumerate() {
            let duration = (i as u16 + 1) * 160;
            let [d0, d1] = duration.to_be_bytes();
            let payload = [5, if end { 0x80 } else { 0 } | 10, d0, d1];
            s.build_event(101, &payload, event_ts, i == 0, &mut pkt);
            assert_eq!(&pkt[RTP_HEADER_LEN..], &payload);
            hs.push(parse(&pkt));
            // The event replaces audio for these 20 ms.
            s.skip(160);
        }
        assert!(hs
            .iter()
            .all(|h| h.timestamp == 1160 && h.payload_type == 101));
        let seqs: Vec<u16> = hs.iter().map(|h| h.sequence_number).collect();
        assert_eq!(seqs, [11, 12, 13, 14, 15]);
        let markers: Vec<bool> = hs.iter().map(|h| h.marker).collect();
        assert_eq!(markers, [true, false, false, false, false]);
        s.build(&[0; 160], 160, &mut pkt);
        let h = parse(&pkt);
        assert_eq!(
            (h.sequence_number, h.timestamp, h.payload_type),
            (16, 1160 + 5 * 160, 0)
        );
    }

    #[test]
    fn malformed_packets_are_rejected_untouched() {
        let mut s = RtpSender::with_initial(7, 0, 0, 0);
        for bad in [
            vec![],
            vec![0x80; 11],
            // Version 1.
            {
                let mut p = foreign(1, 1, 1, false);
                p[0] = 0x40;
                p
            },
            // Claims two CSRCs but ends after the fixed header.
            {
                let mut p = foreign(1, 1, 1, false);
                p[0] |= 2;
                p.truncate(RTP_HEADER_LEN + 4);
                p
            },
        ] {
            let mut p = bad.clone();
            assert!(!s.rewrite(&mut p));
            assert_eq!(p, bad);
        }
        assert_eq!(s.next_seq(), 0);
    }

    #[test]
    fn csrc_and_extension_survive_rewrite() {
        let mut s = RtpSender::with_initial(7, 0, 50, 500);
        let mut p = foreign(0xDDDD, 1, 1, false);
        // One CSRC and a one-word header extension, inserted after the
        // fixed header.
        p[0] |= 0x10 | 1;
        let extra = [0, 0, 0, 9, 0xBE, 0xDE, 0, 1, 0x10, 0xFF, 0, 0];
        p.splice(RTP_HEADER_LEN..RTP_HEADER_LEN, extra);
        let before = p.clone();
        assert!(s.rewrite(&mut p));
        assert_eq!(p[RTP_HEADER_LEN..], before[RTP_HEADER_LEN..]);
        let h = parse(&p);
        assert_eq!((h.ssrc, h.sequence_number, h.timestamp), (7, 50, 500));
        assert_eq!(h.csrc, [9]);
    }
}
