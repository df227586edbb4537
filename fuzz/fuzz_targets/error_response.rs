#![no_main]
//! Error answers: the status and Retry-After come from the first bytes, the body is the rest.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = 100 + u16::from_le_bytes([data[0], data[1]]) % 500;
    let after = (data[2] % 4 != 0).then_some(u64::from(data[2]) * 97);
    aadtoken_core::fuzz_api::error_response(status, &data[3..], after);
});
