//! All of aadtoken's behaviour. Nothing here knows about C; nothing here is `unsafe`.
#![forbid(unsafe_code)]

pub mod authority;
pub mod cache;
pub mod client;
pub mod config;
pub mod credential;
pub mod error;
pub mod http;
pub mod runtime;
pub mod secret;
pub mod token;

pub use client::Client;
pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use token::Token;
