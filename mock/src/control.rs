//! The `/_mock/` control API of the Entra ID mock: the request log, counters, behaviour,
//! injected faults, reset and the registry.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use crate::registry::{Client, Resource, Tenant, TENANT_ID};
use crate::respond::{bad_control, ControlJson};
use crate::state::{lock, Fault, Shared};

type St = State<Arc<Shared>>;

pub(crate) async fn ctl_requests(State(st): St) -> Response {
    let log: Vec<_> = lock(&st.log).iter().cloned().collect();
    Json(log).into_response()
}

pub(crate) async fn ctl_clear_requests(State(st): St) -> Response {
    lock(&st.log).clear();
    Json(json!({ "ok": true })).into_response()
}

pub(crate) async fn ctl_counters(State(st): St) -> Response {
    Json(lock(&st.counters).clone()).into_response()
}

pub(crate) async fn ctl_get_config(State(st): St) -> Response {
    Json(st.behaviour()).into_response()
}

pub(crate) async fn ctl_set_config(State(st): St, ControlJson(v): ControlJson) -> Response {
    let mut b = lock(&st.behaviour);
    match b.apply_json(&v) {
        Ok(()) => Json(b.clone()).into_response(),
        Err(e) => bad_control(e),
    }
}

/// Parses `{"count":n,"status":429,"retry_after":5}` or `{"count":n,"kind":"disconnect"}`.
pub(crate) fn parse_fail(v: &Value) -> Result<(u32, Fault), String> {
    let count = match v.get("count") {
        None => 1,
        Some(c) => c
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .ok_or("count must be a non-negative integer")?,
    };
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("status");
    let fault = match kind {
        "status" => {
            let status = v
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (400..=599).contains(s))
                .ok_or("status must be an HTTP error status (400-599)")?;
            let retry_after = match v.get("retry_after") {
                None | Some(Value::Null) => None,
                Some(r) => Some(
                    r.as_u64()
                        .and_then(|r| u32::try_from(r).ok())
                        .ok_or("retry_after must be a non-negative integer")?,
                ),
            };
            Fault::Status { status, retry_after }
        }
        "disconnect" => Fault::Disconnect,
        "malformed_body" => Fault::MalformedBody,
        "hang" => Fault::Hang,
        "truncated" => Fault::Truncated,
        "reset_mid_response" => Fault::ResetMidResponse,
        "trickle" | "huge_body" | "missing_field" | "redirect" | "html_status" => {
            serde_json::from_value(v.clone()).map_err(|e| format!("bad fault: {e}"))?
        }
        other => return Err(format!("unknown fault kind '{other}'")),
    };
    Ok((count, fault))
}

pub(crate) async fn ctl_fail(State(st): St, ControlJson(v): ControlJson) -> Response {
    match parse_fail(&v) {
        Ok((n, fault)) => {
            let mut q = lock(&st.faults);
            q.extend(std::iter::repeat_n(fault, n as usize));
            Json(json!({ "pending": q.len() })).into_response()
        }
        Err(e) => bad_control(e),
    }
}

pub(crate) async fn ctl_reset(State(st): St) -> Response {
    st.reset();
    Json(json!({ "ok": true })).into_response()
}

pub(crate) async fn ctl_registry(State(st): St) -> Response {
    Json(st.registry().clone()).into_response()
}

/// Adds to the tenant a registry request names (`tenant`, default the fixture tenant) what
/// `add` makes of the request's required `key`, and answers with it.
fn registry_add<T: Serialize>(
    st: &Shared,
    v: &Value,
    key: &str,
    add: impl FnOnce(&mut Tenant, &str) -> T,
) -> Response {
    let tenant = v.get("tenant").and_then(Value::as_str).unwrap_or(TENANT_ID);
    let Some(value) = v.get(key).and_then(Value::as_str) else {
        return bad_control(format!("{key} is required"));
    };
    let mut reg = st.registry_mut();
    let Some(t) = reg.tenant_mut(tenant) else {
        return bad_control(format!("unknown tenant '{tenant}'"));
    };
    Json(add(t, value)).into_response()
}

pub(crate) async fn ctl_add_client(State(st): St, ControlJson(v): ControlJson) -> Response {
    registry_add(&st, &v, "client_id", |t, client_id| {
        let mut client = Client::new(client_id);
        if let Some(secret) = v.get("secret").and_then(Value::as_str) {
            let expired = v.get("expired").and_then(Value::as_bool).unwrap_or(false);
            client = if expired {
                client.with_expired_secret(secret)
            } else {
                client.with_secret(secret)
            };
        }
        if let Some(roles) = v.get("roles").and_then(Value::as_array) {
            client = client.with_roles(roles.iter().filter_map(Value::as_str));
        }
        t.clients.retain(|c| !c.client_id.eq_ignore_ascii_case(client_id));
        t.clients.push(client.clone());
        client
    })
}

pub(crate) async fn ctl_add_resource(State(st): St, ControlJson(v): ControlJson) -> Response {
    registry_add(&st, &v, "app_id_uri", |t, uri| {
        let mut res = Resource::new(uri);
        if let Some(id) = v.get("app_id").and_then(Value::as_str) {
            res = res.with_app_id(id);
        }
        t.resources.push(res.clone());
        res
    })
}
