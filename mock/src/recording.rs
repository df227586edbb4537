//! The middleware every route of both mocks goes through (the Entra ID routes of
//! [`crate::routes`] and the managed-identity routes of [`crate::managed_identity`]): it reads
//! the request, lets the server count it and start its log entry, answers an injected fault in
//! place of the route where the server has one, and completes the entry with the answer.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// A server's side of [`record`].
pub(crate) trait Recorder: Send + Sync + 'static {
    /// What is kept of one request while its route runs.
    type Entry: Send;
    /// The route's name, or `None` for a request that is not recorded.
    fn route(&self, path: &str) -> Option<&'static str>;
    /// Count the request and start its log entry.
    fn begin(&self, route: &'static str, parts: &Parts, body: &Bytes) -> Self::Entry;
    /// An injected fault answered instead of the route (default: none).
    fn fault(&self, _route: &'static str) -> Option<Response> {
        None
    }
    /// Complete the entry with the answer and keep it.
    fn finish(&self, entry: Self::Entry, resp: &Response);
}

/// The middleware (`axum::middleware::from_fn_with_state(state, record::<S>)`).
pub(crate) async fn record<R: Recorder>(State(r): State<Arc<R>>, req: Request, next: Next) -> Response {
    let Some(route) = r.route(req.uri().path()) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let entry = r.begin(route, &parts, &bytes);
    let resp = match r.fault(route) {
        Some(resp) => resp,
        None => next.run(Request::from_parts(parts, Body::from(bytes))).await,
    };
    r.finish(entry, &resp);
    resp
}
