//! The Entra ID mock's router: which handler answers which path (discovery, the token
//! endpoint, person sign-in, the `/_mock/` control API), all through the recording middleware.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;

use crate::entra::AadstsCode;
use crate::recording::{record, Recorder};
use crate::redact;
use crate::respond::Disconnect;
use crate::state::{lock, LoggedRequest, Shared};
use crate::{control, discovery, token, user_flows};

pub(crate) fn router(st: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/{tenant}/generic/.well-known/openid-configuration",
            get(discovery::generic_oidc_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::jwks))
        .route("/{tenant}/discovery/keys", get(discovery::jwks))
        .route("/{tenant}/discovery/instance", get(discovery::instance_discovery))
        .route("/{tenant}/oauth2/v2.0/token", any(token::token))
        .merge(user_flows::router())
        .route(
            "/_mock/requests",
            get(control::ctl_requests).delete(control::ctl_clear_requests),
        )
        .route("/_mock/counters", get(control::ctl_counters))
        .route(
            "/_mock/config",
            get(control::ctl_get_config).post(control::ctl_set_config),
        )
        .route("/_mock/fail", post(control::ctl_fail))
        .route("/_mock/reset", post(control::ctl_reset))
        .route("/_mock/registry", get(control::ctl_registry))
        .route("/_mock/clients", post(control::ctl_add_client))
        .route("/_mock/resources", post(control::ctl_add_resource))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(st.clone(), record::<Shared>))
        .with_state(st)
}

/// Route name for counters and the log.
fn classify(path: &str) -> &'static str {
    let segs: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    match segs.as_slice() {
        [_, "v2.0", ".well-known", "openid-configuration"] => "openid_configuration",
        [_, "discovery", "v2.0", "keys"] | [_, "discovery", "keys"] => "jwks",
        [_, "discovery", "instance"] => "instance_discovery",
        [_, "oauth2", "v2.0", "token"] => "token",
        [_, "oauth2", "v2.0", "authorize"] => "authorize",
        [_, "oauth2", "v2.0", "devicecode"] => "devicecode",
        ["devicelogin"] => "devicelogin",
        [_, "generic", ".well-known", "openid-configuration"] => "oidc_discovery",
        _ => "not_found",
    }
}

/// Every non-control request is counted and logged.
impl Recorder for Shared {
    type Entry = LoggedRequest;

    fn route(&self, path: &str) -> Option<&'static str> {
        (!path.starts_with("/_mock/")).then(|| classify(path))
    }

    fn begin(&self, route: &'static str, parts: &Parts, body: &Bytes) -> LoggedRequest {
        let secrets = self.registry().all_secret_values();
        let entry = redact::log_entry(route, &parts.method, &parts.uri, &parts.headers, body, &secrets);
        let mut c = lock(&self.counters);
        c.total_requests += 1;
        *c.requests_by_route.entry(route.to_string()).or_default() += 1;
        entry
    }

    fn finish(&self, mut entry: LoggedRequest, resp: &Response) {
        entry.status = if resp.extensions().get::<Disconnect>().is_some() {
            0
        } else {
            resp.status().as_u16()
        };
        entry.aadsts = resp.extensions().get::<AadstsCode>().map(|c| c.0);
        self.push_log(entry);
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_routes() {
        assert_eq!(
            classify("/t/v2.0/.well-known/openid-configuration"),
            "openid_configuration"
        );
        assert_eq!(classify("/t/discovery/v2.0/keys"), "jwks");
        assert_eq!(classify("/common/discovery/instance"), "instance_discovery");
        assert_eq!(classify("/t/oauth2/v2.0/token"), "token");
        assert_eq!(classify("/t/oauth2/token"), "not_found");
    }
}
