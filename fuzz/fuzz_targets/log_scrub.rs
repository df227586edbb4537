#![no_main]
//! The log's JWT scrubber: its output is never JWT-shaped.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    aadtoken_core::fuzz_api::scrub(&text);
});
