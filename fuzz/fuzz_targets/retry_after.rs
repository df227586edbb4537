#![no_main]
//! `Retry-After` values: delay seconds or an HTTP date (three formats), from any bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        aadtoken_core::fuzz_api::retry_after(text);
    }
});
