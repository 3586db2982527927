//! Properties: however a stream is cut into chunks, the output is the same as for the whole.

use proptest::prelude::*;
use upcase_proto::{Builtin, Transform, Transformer};

fn whole(transform: impl Transform, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Transformer::new(transform)
        .datagram(input, &mut out)
        .expect("no line limit");
    out
}

fn chunked(transform: impl Transform, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut stream = Transformer::new(transform);
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        let end = cut.clamp(start, input.len());
        stream
            .feed(&input[start..end], &mut out)
            .expect("no line limit");
        start = end;
    }
    stream
        .feed(&input[start..], &mut out)
        .expect("no line limit");
    stream.finish(&mut out);
    out
}

/// Text that mixes ASCII, multi-byte characters, line feeds and stray invalid bytes.
fn mixed_input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        any::<String>().prop_map(String::into_bytes),
        "[a-zßσΣΐ\n ]{0,12}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

fn transforms() -> impl Strategy<Value = Builtin> {
    prop_oneof![
        Just(Builtin::Upper),
        Just(Builtin::Lower),
        Just(Builtin::Echo),
        Just("count=s".parse().expect("valid")),
        Just("count=ß".parse().expect("valid")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_chunking_gives_the_whole_input_output(
        transform in transforms(),
        input in mixed_input(),
        mut cuts in proptest::collection::vec(0usize..200, 0..12),
    ) {
        cuts.sort_unstable();
        prop_assert_eq!(chunked(transform, &input, &cuts), whole(transform, &input));
    }

    #[test]
    fn valid_text_upper_cases_like_std(text in any::<String>()) {
        prop_assert_eq!(whole(Builtin::Upper, text.as_bytes()), text.to_uppercase().into_bytes());
    }

    #[test]
    fn echo_and_invalid_bytes_lose_nothing(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert_eq!(whole(Builtin::Echo, &input), input.clone());
        // Upper case never touches bytes outside valid text, so the invalid runs survive in place.
        let valid_len: usize = input.utf8_chunks().map(|c| c.valid().len()).sum();
        let upper = whole(Builtin::Upper, &input);
        let invalid: Vec<u8> = input.utf8_chunks().flat_map(|c| c.invalid().to_vec()).collect();
        let upper_invalid: Vec<u8> = upper.utf8_chunks().flat_map(|c| c.invalid().to_vec()).collect();
        prop_assert_eq!(upper_invalid, invalid);
        prop_assert!(upper.len() >= valid_len);
    }
}

proptest! {
    #[test]
    fn the_line_limit_does_not_depend_on_chunking(
        input in mixed_input(),
        max_line in 0usize..24,
        mut cuts in proptest::collection::vec(0usize..200, 0..12),
    ) {
        cuts.sort_unstable();
        let count: Builtin = "count=s".parse().expect("valid");
        let run = |cuts: &[usize]| {
            let mut stream = Transformer::new(count).with_max_line(max_line);
            let mut out = Vec::new();
            let mut start = 0;
            let mut failed = false;
            for &cut in cuts.iter().chain([&input.len()]) {
                let end = cut.clamp(start, input.len());
                failed |= stream.feed(&input[start..end], &mut out).is_err();
                start = end;
            }
            (out, failed)
        };
        prop_assert_eq!(run(&cuts), run(&[]));
    }
}
