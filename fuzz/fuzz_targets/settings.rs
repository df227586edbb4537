#![no_main]
//! Settings strings (aadtoken_config_parse), and one key=value split at the first NUL (aadtoken_config_set).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        aadtoken_core::fuzz_api::settings(text);
        if let Some((k, v)) = text.split_once('\0') {
            aadtoken_core::fuzz_api::config_set(k, v);
        }
    }
});
