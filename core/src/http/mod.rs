//! The one HTTP path: every credential kind sends its token request through
//! [`request_token_with_retry`] (or, for answers with more than a token,
//! [`request_body_with_retry`]), so transport, retry and error reading are shared:
//!
//! * [`tls`] — the reqwest clients (trust roots, `ca_file`, pinning, proxies, headers);
//! * [`send`] — the request, the one retry loop, the bound on a step;
//! * [`error_body`] — what a non-200 answer means.

pub mod error_body;
pub mod send;
pub mod tls;

pub use error_body::{error_from, error_from_response};
pub use send::{
    basic_authorization, bounded, get_json, request_body, request_body_with_retry, request_token,
    request_token_with_retry, Challenge, Method, RetryPolicy, TokenRequest, SERVER_ERROR_RETRY_DELAY,
};
pub use tls::{build_client, build_pinned_client, ExtraRoots, SKU};
