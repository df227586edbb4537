#![no_main]
//! Managed identity answers: expires_on dates, Azure Arc challenges, scopes becoming the resource, and their token and error bodies.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    aadtoken_core::fuzz_api::date(&text);
    aadtoken_core::fuzz_api::arc_challenge(&text);
    aadtoken_core::fuzz_api::scopes(&text);
    aadtoken_core::fuzz_api::token_response(data);
    aadtoken_core::fuzz_api::error_response(400, data, None);
});
