#![no_main]
//! Token responses (application and person sign-in) as the token endpoint answers them.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aadtoken::fuzz_api::token_response(data);
    aadtoken::fuzz_api::user_tokens(data);
});
