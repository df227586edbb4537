//! The tests of the Rust API against the mock Entra ID server, in one test binary (each would
//! otherwise link the whole library on its own): client secrets, every credential kind, the
//! engine (single flight, refresh ahead, concurrency), the Oracle adapters, person sign-in, and
//! the bindings' coverage of the C ABI, and the agreement of everything that names a status with the one table. Each test starts its own mock, so the process-wide cache
//! keeps their tokens apart. Tests that change process-wide state (the environment, the log
//! sinks, the global allocator) or measure time tightly stay in their own binaries.

#[path = "../common/mod.rs"]
mod common;
#[path = "../creds/mod.rs"]
mod creds;

mod binding_coverage;
mod client_secret;
mod credentials;
mod engine;
mod oracle;
mod status_table;
mod user_signin;
