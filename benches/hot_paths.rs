//! Micro-benchmarks of the engine's hot paths: work done for every chunk received (segment
//! bookkeeping, rate-limit accounting) and for every file (choosing and sanitising a name).
//! Run with `cargo bench --bench hot_paths`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dlm::engine::limiter::RateLimiter;
use dlm::engine::naming;
use dlm::engine::segments::{MIN_SPLIT, SegmentMap};
use url::Url;

fn per_chunk(c: &mut Criterion) {
    c.bench_function("segment map: accept + written per 64 KiB chunk, 16 connections", |b| {
        let total = 1u64 << 34;
        let mut map = SegmentMap::new(total, vec![(0, total)], MIN_SPLIT);
        for worker in 0..16 {
            map.claim(worker, &Default::default());
        }
        let mut worker = 0;
        b.iter(|| {
            worker = (worker + 1) % 16;
            let kept = map.accept(worker, black_box(65536));
            let (received, _) = map.position(worker).unwrap();
            map.written(worker, received);
            black_box(kept)
        });
    });
    c.bench_function("rate limiter: take per chunk, unlimited", |b| {
        let limiter = RateLimiter::new(None);
        b.iter(|| black_box(limiter.take(black_box(65536))));
    });
}

fn per_file(c: &mut Criterion) {
    let url = Url::parse("https://example.com/releases/v1.2/some%20archive-name.tar.gz?token=abc").unwrap();
    c.bench_function("choose_name from URL", |b| {
        b.iter(|| black_box(naming::choose_name(None, black_box(&url), None)));
    });
    let cd = "attachment; filename=\"fallback.bin\"; filename*=UTF-8''%E2%82%AC%20rates%202026.xlsx";
    c.bench_function("choose_name from Content-Disposition", |b| {
        b.iter(|| black_box(naming::choose_name(Some(black_box(cd.as_bytes())), &url, None)));
    });
}

criterion_group!(benches, per_chunk, per_file);
criterion_main!(benches);
