//! aadtoken's behaviour: settings, authorities, credentials, the one HTTP path, the
//! process-wide runtime and token cache, the Oracle token file.
//!
//! Nothing here knows about C and nothing here is `unsafe` (the compiler checks both: this crate
//! has no FFI dependency and forbids `unsafe` at its root). The `aadtoken` crate puts the C ABI
//! (`include/aadtoken.h`) and the JNI exports over it; the `aadtoken` CLI uses it directly.
//!
//! Layers, each using only those below it (`python3 scripts/check-cycles.py core/src` checks
//! that no modules depend on each other in a cycle):
//!
//! * top: [`client`] (the cache's single flight around one credential; the host cache shared
//!   by processes, `host_cache`, on its misses), the Oracle keeper,
//!   [`settings`] (the key table behind `Config::set`, `parse`, `load_env`: each value parsed
//!   by the module that owns it);
//! * the credential dispatcher (`credential`) and person sign-in's credential ([`user`]);
//! * what reads [`config`] to build itself: the application (`App`, its `Proof`s), the assertion
//!   sources, the managed identity, the `auto` chain, the public client of person sign-in;
//! * [`config`]: plain data and defaults (no checks), holding the value types of the layer
//!   below;
//! * values and building blocks: [`authority`], [`AuthMethod`], the certificate (its
//!   `AssertionAlg`), [`cache`] (scopes, entries), [`http`] (TLS, sending and retry, error
//!   bodies), the runtime, [`token`], [`claims`], [`log`], [`secret`], [`error`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// First: its level macros (`log_error!`…`log_trace!`) are in scope, by name, in the modules
// declared after it.
#[macro_use]
pub mod log;

pub(crate) mod auth_method;
pub mod authority;
pub mod cache;
pub mod claims;
pub mod client;
pub mod config;
pub(crate) mod credential;
pub mod error;
#[doc(hidden)]
pub mod fuzz_api;
pub(crate) mod host_cache;
pub mod http;
pub mod oracle;
pub(crate) mod private_file;
pub(crate) mod runtime;
pub mod secret;
pub mod settings;
pub mod token;
#[cfg(feature = "signin")]
pub mod user;

pub use auth_method::AuthMethod;
pub use claims::Claims;
pub use client::Client;
pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use token::Token;

/// The library version, as in Cargo.toml (the `x-client-Ver` header sends it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
