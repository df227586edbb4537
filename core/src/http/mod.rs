//! The one HTTP path: every credential kind sends its token request through
//! `request_token_with_retry` (or, for answers with more than a token,
//! `request_body_with_retry`), so transport, retry and error reading are shared:
//!
//! * `tls` — the reqwest clients (trust roots, `ca_file`, pinning, proxies, headers);
//! * `send` — the request, the one retry loop, the bound on a step;
//! * `error_body` — what a non-200 answer means.

mod error_body;
mod send;
mod tls;

pub use error_body::{error_from, error_from_response};
pub use send::basic_authorization;
#[cfg(feature = "signin")]
pub(crate) use send::request_body_with_retry;
pub(crate) use send::{
    bounded, get_json, parse_retry_after, request_token, request_token_with_retry, Method, RetryPolicy,
    TokenRequest,
};
pub(crate) use tls::{build_client, build_pinned_client, ExtraRoots};
