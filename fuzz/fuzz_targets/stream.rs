//! The TCP stream transformer: any bytes, cut anywhere, through every built-in transform, with
//! and without a line limit. It must never panic, and the output must not depend on the cuts.

#![no_main]

use libfuzzer_sys::fuzz_target;
use upcase_proto::{Builtin, Transformer};

const TRANSFORMS: [&str; 5] = ["upper", "lower", "echo", "count=s", "count=ß"];

fuzz_target!(|data: &[u8]| {
    // First byte: the transform and the line limit; next up to 8 bytes: where to cut; the rest:
    // the stream.
    let Some((&choice, rest)) = data.split_first() else { return };
    let cut_count = rest.len().min(8);
    let (cuts, input) = rest.split_at(cut_count);
    let transform: Builtin = TRANSFORMS[choice as usize % TRANSFORMS.len()].parse().expect("valid");
    let max_line = (choice >> 3) as usize * 4; // 0 to 124; 0 also tests the smallest limit

    for limit in [None, Some(max_line)] {
        let start = |t| match limit {
            Some(max) => Transformer::new(t).with_max_line(max),
            None => Transformer::new(t),
        };
        let mut whole_stream = start(transform);
        let mut whole_out = Vec::new();
        let whole_fed = whole_stream.feed(input, &mut whole_out).is_ok();
        if whole_fed {
            whole_stream.finish(&mut whole_out);
        }

        let mut chunked = start(transform);
        let mut out = Vec::new();
        let mut at = 0;
        let mut fed = true;
        for &cut in cuts {
            let end = (at + cut as usize).min(input.len());
            fed &= chunked.feed(&input[at..end], &mut out).is_ok();
            at = end;
        }
        fed &= chunked.feed(&input[at..], &mut out).is_ok();
        if fed {
            chunked.finish(&mut out);
        }
        assert_eq!(fed, whole_fed, "the limit is hit however the stream is cut");
        assert_eq!(out, whole_out, "the output does not depend on the cuts");
        if transform == Builtin::Echo {
            assert_eq!(out, input, "echo returns every byte");
        }
    }
});
