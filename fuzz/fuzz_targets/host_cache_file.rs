#![no_main]
//! Host cache token files (`host_cache=on`): read and checked, trusted only when well formed.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aadtoken_core::fuzz_api::host_cache_file(data, "a");
});
