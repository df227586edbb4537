#![no_main]
//! OpenID Connect discovery documents.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aadtoken_core::fuzz_api::discovery(data);
});
