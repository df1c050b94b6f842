//! Per-frame costs of the media engine's signal processing: what one 20 ms
//! frame of one call costs in each stage. 20 ms divided by the time per frame
//! is how many streams one core could carry through that stage alone.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use media::audio::{frame_len, RATE_16K, RATE_8K};
use media::codec::{self, g711, Codec};
use media::dtmf::goertzel::InbandDetector;
use media::resample::Resampler;

/// A speech-level test signal: two tones and some noise.
fn signal(len: usize, rate: u32) -> Vec<i16> {
    let mut rng = fastrand::Rng::with_seed(3);
    (0..len)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let s = 6000.0 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                + 3000.0 * (2.0 * std::f32::consts::PI * 1330.0 * t).sin();
            (s as i16).saturating_add(rng.i16(-300..300))
        })
        .collect()
}

fn g711_frames(c: &mut Criterion) {
    let pcm = signal(frame_len(RATE_8K), RATE_8K);
    let mut ulaw = Vec::new();
    g711::encode_ulaw(&pcm, &mut ulaw);
    let mut out_bytes = Vec::with_capacity(160);
    let mut out_pcm = Vec::with_capacity(160);
    c.bench_function("g711/ulaw_encode_frame", |b| {
        b.iter(|| {
            out_bytes.clear();
            g711::encode_ulaw(black_box(&pcm), &mut out_bytes);
        })
    });
    c.bench_function("g711/ulaw_decode_frame", |b| {
        b.iter(|| {
            out_pcm.clear();
            g711::decode_ulaw(black_box(&ulaw), &mut out_pcm);
        })
    });
    let mut payload = ulaw.clone();
    c.bench_function("g711/ulaw_to_alaw_frame_by_table", |b| {
        b.iter(|| {
            payload.copy_from_slice(&ulaw);
            codec::transcode_g711(Codec::Pcmu, Codec::Pcma, black_box(&mut payload));
        })
    });
    // The general path, for comparison: decode then encode.
    let mut dec = Codec::Pcmu.decoder();
    let mut enc = Codec::Pcma.encoder();
    c.bench_function("g711/ulaw_to_alaw_frame_decode_encode", |b| {
        b.iter(|| {
            out_pcm.clear();
            out_bytes.clear();
            dec.decode(black_box(&ulaw), &mut out_pcm);
            enc.encode(&out_pcm, &mut out_bytes);
        })
    });
}

fn g722_frames(c: &mut Criterion) {
    let pcm = signal(frame_len(RATE_16K), RATE_16K);
    let mut enc = Codec::G722.encoder();
    let mut dec = Codec::G722.decoder();
    let mut bytes = Vec::with_capacity(160);
    enc.encode(&pcm, &mut bytes);
    let encoded = bytes.clone();
    let mut out = Vec::with_capacity(320);
    c.bench_function("g722/encode_frame", |b| {
        b.iter(|| {
            bytes.clear();
            enc.encode(black_box(&pcm), &mut bytes);
        })
    });
    c.bench_function("g722/decode_frame", |b| {
        b.iter(|| {
            out.clear();
            dec.decode(black_box(&encoded), &mut out);
        })
    });
}

fn resample_frames(c: &mut Criterion) {
    for (from, to) in [(RATE_8K, RATE_16K), (RATE_16K, RATE_8K)] {
        let pcm = signal(frame_len(from), from);
        let Ok(mut r) = Resampler::new(from, to) else {
            unreachable!("8 and 16 kHz are supported");
        };
        let mut out = Vec::with_capacity(frame_len(to));
        c.bench_function(&format!("resample/{from}_to_{to}_frame"), |b| {
            b.iter(|| {
                out.clear();
                r.process(black_box(&pcm), &mut out);
            })
        });
    }
}

fn goertzel_frames(c: &mut Criterion) {
    for rate in [RATE_8K, RATE_16K] {
        let pcm = signal(frame_len(rate), rate);
        let mut det = InbandDetector::new(rate);
        c.bench_function(&format!("dtmf/inband_detect_frame_{rate}"), |b| {
            b.iter(|| black_box(det.process(black_box(&pcm))))
        });
    }
}

/// Opus (libopus, when installed): the browser legs' codec, 20 ms at the
/// session's 16 kHz.
fn opus_frames(c: &mut Criterion) {
    if !Codec::Opus.is_available() {
        eprintln!("opus: libopus not installed, skipped");
        return;
    }
    // A second of continuous signal, cycled frame by frame: the encoder's
    // analysis sees a stream, not one frame again and again.
    let len = frame_len(RATE_16K);
    let second = signal(len * 50, RATE_16K);
    let frames: Vec<&[i16]> = second.chunks(len).collect();
    let mut enc = Codec::Opus.encoder();
    let mut payload = Vec::new();
    enc.encode(frames[0], &mut payload);
    let mut out_bytes = Vec::with_capacity(200);
    let mut i = 0;
    c.bench_function("opus/encode_frame_16k", |b| {
        b.iter(|| {
            out_bytes.clear();
            i = (i + 1) % frames.len();
            enc.encode(black_box(frames[i]), &mut out_bytes);
        })
    });
    // libopus's own default complexity, for comparison with ours.
    codec::opus::set_complexity(10);
    let mut enc10 = Codec::Opus.encoder();
    codec::opus::set_complexity(codec::opus::DEFAULT_COMPLEXITY);
    c.bench_function("opus/encode_frame_16k_complexity10", |b| {
        b.iter(|| {
            out_bytes.clear();
            i = (i + 1) % frames.len();
            enc10.encode(black_box(frames[i]), &mut out_bytes);
        })
    });
    let mut dec = Codec::Opus.decoder();
    let mut out_pcm = Vec::with_capacity(320);
    c.bench_function("opus/decode_frame_16k", |b| {
        b.iter(|| {
            out_pcm.clear();
            dec.decode(black_box(&payload), &mut out_pcm);
        })
    });
    // Narrowband, as beside a G.711 leg (no resampling either way).
    let len = frame_len(RATE_8K);
    let second = signal(len * 50, RATE_8K);
    let frames: Vec<&[i16]> = second.chunks(len).collect();
    let mut enc = Codec::Opus.encoder_at(RATE_8K);
    let mut payload = Vec::new();
    enc.encode(frames[0], &mut payload);
    let mut i = 0;
    c.bench_function("opus/encode_frame_8k", |b| {
        b.iter(|| {
            out_bytes.clear();
            i = (i + 1) % frames.len();
            enc.encode(black_box(frames[i]), &mut out_bytes);
        })
    });
    let mut dec = Codec::Opus.decoder_at(RATE_8K);
    c.bench_function("opus/decode_frame_8k", |b| {
        b.iter(|| {
            out_pcm.clear();
            dec.decode(black_box(&payload), &mut out_pcm);
        })
    });
}

criterion_group!(
    benches,
    g711_frames,
    g722_frames,
    resample_frames,
    goertzel_frames,
    opus_frames
);
criterion_main!(benches);
