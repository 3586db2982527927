//! Transform speed, beside std's own case mapping measured in the same run.
//!
//! `cargo bench -p upcase-proto --bench transform`; criterion prints throughput in bytes per
//! second for each. docs/BENCHMARKS.md records the ratios.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use upcase_proto::{Builtin, Transformer};

/// 64 KiB of English-like ASCII text, as a TCP read would hand it over.
fn ascii() -> String {
    let words = "the quick brown fox jumps over the lazy dog while socket programs echo lines ";
    words.repeat(64 * 1024 / words.len() + 1)[..64 * 1024].to_owned()
}

/// 64 KiB mixing scripts: Latin with accents, Greek, Cyrillic, German, some ASCII.
fn mixed() -> String {
    let words = "straße naïve café ΐ ελληνικά κείμενα кириллица текст déjà vu über größe ";
    let text = words.repeat(64 * 1024 / words.len() + 1);
    let mut end = 64 * 1024;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("upper");
    for (name, text) in [("ascii", ascii()), ("mixed", mixed())] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("upcase", name), &text, |b, text| {
            let mut stream = Transformer::new(Builtin::Upper);
            let mut out = Vec::with_capacity(3 * text.len());
            b.iter(|| {
                out.clear();
                stream
                    .feed(black_box(text.as_bytes()), &mut out)
                    .expect("no line limit");
                black_box(&out);
            });
        });
        group.bench_with_input(
            BenchmarkId::new("std to_uppercase", name),
            &text,
            |b, text| {
                b.iter(|| black_box(black_box(text.as_str()).to_uppercase()));
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
