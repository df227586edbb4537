#![no_main]
//! Token file locations (TOKEN_LOCATION): resolved and checked, never written.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        aadtoken_core::fuzz_api::token_file_location(text);
    }
});
