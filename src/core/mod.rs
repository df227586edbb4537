//! All of aadtoken's behaviour. Nothing here knows about C; nothing here is `unsafe`.
#![forbid(unsafe_code)]

pub mod auth_method;
pub mod authority;
pub mod cache;
pub mod claims;
pub mod client;
pub mod config;
pub mod credential;
pub mod error;
pub mod http;
pub mod log;
pub mod oracle;
pub mod private_file;
pub mod runtime;
pub mod secret;
pub mod token;
pub mod user;

pub use auth_method::AuthMethod;
pub use claims::Claims;
pub use client::Client;
pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use token::Token;
