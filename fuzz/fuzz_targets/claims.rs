#![no_main]
//! JWT claims decoding (aadtoken_token_claims, aadtoken claims --file).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        aadtoken_core::fuzz_api::claims(text);
    }
});
