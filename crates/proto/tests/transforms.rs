//! Each transform on whole inputs, and the parsing of transform names.

use upcase_proto::{
    Builtin, LineTooLong, MAX_DATAGRAM_V4, MAX_DATAGRAM_V6, ParseTransformError, Transform,
    Transformer, max_datagram,
};

/// The reply to `input` sent as one datagram.
fn apply(transform: impl Transform, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Transformer::new(transform)
        .datagram(input, &mut out)
        .expect("no line limit");
    out
}

fn by_name(name: &str, input: &[u8]) -> Vec<u8> {
    let transform: Builtin = name.parse().expect("a valid transform name");
    apply(transform, input)
}

#[test]
fn upper_is_the_default_and_upper_cases_ascii() {
    assert_eq!(
        apply(Builtin::default(), b"hello, world 12!"),
        b"HELLO, WORLD 12!"
    );
}

#[test]
fn upper_uses_full_case_mapping_and_can_grow() {
    assert_eq!(by_name("upper", "straße".as_bytes()), "STRASSE".as_bytes());
    // U+0390 upper-cases to three characters (six bytes from two).
    let reply = by_name("upper", "ΐ".as_bytes());
    assert_eq!(reply, "\u{399}\u{308}\u{301}".as_bytes());
    assert_eq!(reply.len(), 3 * "ΐ".len());
    assert_eq!(by_name("upper", "ﬁx 𝒶é".as_bytes()), "FIX 𝒶É".as_bytes());
}

#[test]
fn upper_agrees_with_std_on_every_scalar_value() {
    let all: String = (0..=0x10FFFF).filter_map(char::from_u32).collect();
    assert_eq!(
        by_name("upper", all.as_bytes()),
        all.to_uppercase().as_bytes()
    );
}

#[test]
fn lower_maps_each_character_on_its_own() {
    assert_eq!(by_name("lower", b"HeLLo"), b"hello");
    assert_eq!(by_name("lower", "İ".as_bytes()), "i\u{307}".as_bytes());
    // No final-sigma context: the output cannot depend on what arrives next.
    assert_eq!(by_name("lower", "ΟΔΟΣ".as_bytes()), "οδοσ".as_bytes());
}

#[test]
fn echo_returns_every_byte() {
    let input: Vec<u8> = (0..=255).collect();
    assert_eq!(by_name("echo", &input), input);
}

#[test]
fn count_answers_each_line_with_its_count() {
    assert_eq!(
        by_name("count=s", b"mississippi\nsass\n\nno\n"),
        b"4\n3\n0\n0\n"
    );
}

#[test]
fn count_answers_a_last_line_without_newline() {
    assert_eq!(by_name("count=s", b"is\nses"), b"1\n2\n");
    assert_eq!(by_name("count=s", b"ses"), b"2\n");
}

#[test]
fn count_is_exact_and_counts_any_character() {
    assert_eq!(by_name("count=s", b"SsS"), b"1\n");
    assert_eq!(by_name("count=ß", "straße ßß\n".as_bytes()), b"3\n");
    assert_eq!(by_name("count=🦀", "🦀x🦀".as_bytes()), b"2\n");
}

#[test]
fn count_of_a_line_of_invalid_bytes_is_zero() {
    assert_eq!(by_name("count=s", b"\xff\xfe"), b"0\n");
    assert_eq!(by_name("count=s", b"s\xffs\n"), b"2\n");
}

#[test]
fn zero_length_datagram_gets_zero_length_reply() {
    for name in ["upper", "lower", "echo", "count=s"] {
        assert_eq!(by_name(name, b""), b"", "{name}");
    }
}

#[test]
fn invalid_utf8_comes_back_unchanged() {
    let cases: [&[u8]; 6] = [
        b"\xff",
        b"ab\x80cd",
        b"\xc3(",         // a lead byte followed by ASCII
        b"\xe2\x82 x",    // two bytes of a three-byte sequence
        b"\xed\xa0\x80z", // an encoded surrogate
        b"z\xf0\x9f\x98", // cut off by the end of the stream
    ];
    for input in cases {
        let expected: Vec<u8> = input.iter().map(u8::to_ascii_uppercase).collect();
        assert_eq!(by_name("upper", input), expected, "{input:?}");
        assert_eq!(by_name("echo", input), input, "{input:?}");
    }
}

#[test]
fn utf8_split_at_every_point_is_joined() {
    let text = "aß€𝄞ΐz straße";
    let whole = by_name("upper", text.as_bytes());
    assert_eq!(whole, "ASS€𝄞\u{399}\u{308}\u{301}Z STRASSE".as_bytes());
    let bytes = text.as_bytes();
    for cut in 0..=bytes.len() {
        let mut stream = Transformer::new(Builtin::Upper);
        let mut out = Vec::new();
        stream.feed(&bytes[..cut], &mut out).expect("no limit");
        stream.feed(&bytes[cut..], &mut out).expect("no limit");
        stream.finish(&mut out);
        assert_eq!(out, whole, "cut at byte {cut}");
    }
}

#[test]
fn utf8_fed_one_byte_at_a_time_is_joined() {
    let text = "𝄞€ßa\u{10FFFF}";
    let mut stream = Transformer::new(Builtin::Upper);
    let mut out = Vec::new();
    for byte in text.as_bytes() {
        stream
            .feed(std::slice::from_ref(byte), &mut out)
            .expect("no limit");
    }
    stream.finish(&mut out);
    assert_eq!(out, text.to_uppercase().as_bytes());
}

#[test]
fn output_does_not_wait_for_a_newline() {
    let mut stream = Transformer::new(Builtin::Upper);
    let mut out = Vec::new();
    stream.feed(b"no newline here", &mut out).expect("no limit");
    assert_eq!(out, b"NO NEWLINE HERE");
}

#[test]
fn transformer_is_ready_for_a_new_stream_after_finish() {
    let mut stream = Transformer::new("count=s".parse::<Builtin>().expect("valid"));
    let mut out = Vec::new();
    stream.datagram(b"ss", &mut out).expect("no limit");
    stream.datagram(b"s\xe2", &mut out).expect("no limit"); // the held byte must not leak into the next stream
    stream.datagram(b"\x82\xacs", &mut out).expect("no limit");
    assert_eq!(out, b"2\n1\n1\n");
}

#[test]
fn names_parse_and_print_back() {
    for name in ["upper", "lower", "echo", "count=s", "count=ß", "count= "] {
        let parsed: Builtin = name.parse().expect("valid name");
        assert_eq!(parsed.to_string(), name);
    }
}

#[test]
fn bad_names_are_refused_with_the_reason() {
    assert_eq!(
        "shout".parse::<Builtin>(),
        Err(ParseTransformError::Unknown("shout".into()))
    );
    for bad in ["count=", "count=ab", "count=\n"] {
        assert_eq!(
            bad.parse::<Builtin>(),
            Err(ParseTransformError::BadCount(bad.into()))
        );
    }
    let message = "UPPER"
        .parse::<Builtin>()
        .expect_err("case matters")
        .to_string();
    assert_eq!(
        message,
        "unknown transform `UPPER`: choose upper, lower, echo or count=C"
    );
}

#[test]
fn datagram_limits_follow_the_address_family() {
    let v4 = "127.0.0.1:9".parse().expect("address");
    let v6 = "[::1]:9".parse().expect("address");
    let mapped = "[::ffff:127.0.0.1]:9".parse().expect("address");
    assert_eq!(max_datagram(v4), MAX_DATAGRAM_V4);
    assert_eq!(max_datagram(v6), MAX_DATAGRAM_V6);
    assert_eq!(max_datagram(mapped), MAX_DATAGRAM_V4);
    assert_eq!((MAX_DATAGRAM_V4, MAX_DATAGRAM_V6), (65_507, 65_527));
}

#[test]
fn lines_become_messages_and_replies_become_lines() {
    use upcase_proto::{line_message, reply_line};
    assert_eq!(line_message(b"hi\n"), b"hi");
    assert_eq!(line_message(b"hi\r\n"), b"hi\r");
    assert_eq!(line_message(b"hi"), b"hi");
    assert_eq!(line_message(b"\n"), b"");
    let mut out = Vec::new();
    reply_line(b"HI", &mut out);
    reply_line(b"3\n", &mut out);
    reply_line(b"", &mut out);
    assert_eq!(out, b"HI\n3\n\n");
}

#[test]
fn case_mapping_grows_text_at_most_threefold() {
    // docs/PROTOCOL.md promises this bound; a reply's size follows from its request's.
    let mut widest = 0.0f64;
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        let mut utf8 = [0; 4];
        let request = c.encode_utf8(&mut utf8).as_bytes();
        for name in ["upper", "lower"] {
            let ratio = by_name(name, request).len() as f64 / request.len() as f64;
            widest = widest.max(ratio);
        }
    }
    assert_eq!(widest, 3.0);
}

fn count_s(max_line: usize) -> Transformer<Builtin> {
    Transformer::new("count=s".parse::<Builtin>().expect("valid")).with_max_line(max_line)
}

#[test]
fn a_line_past_the_maximum_ends_the_stream_after_the_lines_before_it() {
    let mut stream = count_s(4);
    let mut out = Vec::new();
    assert_eq!(stream.feed(b"ss\nssss\ns", &mut out), Ok(()));
    assert_eq!(out, b"2\n4\n");
    assert_eq!(stream.feed(b"ssss", &mut out), Err(LineTooLong { max: 4 }));
    assert_eq!(
        stream.feed(b"\n", &mut out),
        Err(LineTooLong { max: 4 }),
        "nothing more is taken"
    );
    assert_eq!(out, b"2\n4\n");
    assert_eq!(
        LineTooLong { max: 4 }.to_string(),
        "line longer than 4 bytes"
    );
}

#[test]
fn the_line_limit_holds_however_the_line_is_cut() {
    for cut in 0..=6 {
        let line = b"ssssss";
        let mut stream = count_s(5);
        let mut out = Vec::new();
        let first = stream.feed(&line[..cut], &mut out);
        let second = stream.feed(&line[cut..], &mut out);
        assert!(first.is_err() || second.is_err(), "cut at {cut}");
        assert_eq!(out, b"", "cut at {cut}");
    }
}

#[test]
fn an_oversized_datagram_gets_no_reply_and_the_next_is_served() {
    let mut stream = count_s(3);
    let mut out = Vec::new();
    assert_eq!(
        stream.datagram(b"ok\nsssss", &mut out),
        Err(LineTooLong { max: 3 })
    );
    assert_eq!(out, b"", "a datagram has one whole reply or none");
    assert_eq!(stream.datagram(b"sss", &mut out), Ok(()));
    assert_eq!(out, b"3\n");
}

#[test]
fn character_transforms_have_no_lines_to_limit() {
    let mut stream = Transformer::new(Builtin::Upper).with_max_line(2);
    let mut out = Vec::new();
    assert_eq!(stream.feed(b"a long line", &mut out), Ok(()));
    assert_eq!(out, b"A LONG LINE");
}

#[test]
fn invalid_bytes_are_counted() {
    let mut stream = Transformer::new(Builtin::Echo);
    let mut out = Vec::new();
    stream
        .feed(b"ok\xff\xfe ok \xe2\x82", &mut out)
        .expect("no limit");
    assert_eq!(
        stream.invalid_bytes(),
        2,
        "the held sequence may still complete"
    );
    stream.finish(&mut out);
    assert_eq!(stream.invalid_bytes(), 4);
    assert_eq!(out, b"ok\xff\xfe ok \xe2\x82");
}
