#![no_main]
//! Token responses (application and person sign-in) as the token endpoint answers them.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aadtoken_core::fuzz_api::token_response(data);
    aadtoken_core::fuzz_api::user_tokens(data);
});
