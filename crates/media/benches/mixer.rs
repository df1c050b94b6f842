//! Cost of one 20 ms conference tick: every member pushes a frame, the mixer
//! mixes, every member's output is read. 20 ms divided into the time per tick
//! is the share of one core a conference of that size needs.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use media::audio::{frame_len, RATE_16K, RATE_8K};
use media::mixer::{MemberOptions, Mixer};

/// A noisy, speech-level frame per member so nothing is trivially constant.
fn frames(members: usize, len: usize) -> Vec<Vec<i16>> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..members)
        .map(|_| (0..len).map(|_| rng.i16(-3000..3000)).collect())
        .collect()
}

fn tick(mixer: &mut Mixer, frames: &[Vec<i16>]) -> i64 {
    for (id, f) in frames.iter().enumerate() {
        let _ = mixer.push(id as u64, f);
    }
    mixer.mix();
    let mut check = 0i64;
    for id in 0..frames.len() as u64 {
        let out = black_box(mixer.output(id));
        check += i64::from(out[0]);
    }
    check
}

fn mixer_with(rate: u32, members: usize, gain_db: f32) -> Mixer {
    let mut mixer = Mixer::new(rate);
    for id in 0..members as u64 {
        let opts = MemberOptions {
            gain_db,
            ..Default::default()
        };
        if mixer.add(id, opts).is_err() {
            unreachable!("fresh ids into an empty mixer");
        }
    }
    mixer
}

fn bench_ticks(c: &mut Criterion) {
    let mut group = c.benchmark_group("mixer_tick");
    for rate in [RATE_8K, RATE_16K] {
        for members in [3usize, 10, 100] {
            let input = frames(members, frame_len(rate));
            let mut mixer = mixer_with(rate, members, 0.0);
            group.bench_with_input(
                BenchmarkId::new(format!("{}k", rate / 1000), members),
                &input,
                |b, input| b.iter(|| tick(&mut mixer, input)),
            );
        }
    }
    // Non-unity gain on everyone takes the multiplying path of the loops.
    let input = frames(100, frame_len(RATE_16K));
    let mut mixer = mixer_with(RATE_16K, 100, -3.0);
    group.bench_with_input(BenchmarkId::new("16k_gain", 100), &input, |b, input| {
        b.iter(|| tick(&mut mixer, input))
    });
    group.finish();
}

criterion_group!(benches, bench_ticks);
criterion_main!(benches);
