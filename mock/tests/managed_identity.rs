//! The managed-identity mock answers as the real endpoints do (entra-protocol.md §8): plain
//! HTTP/1.1 requests, so the test sees exactly the status, headers and body.

use std::io::{Read, Write};
use std::net::TcpStream;

use aadtoken_mock::ManagedIdentityMock;
use serde_json::Value;

/// (status, raw head, body JSON or Null)
fn http(
    mi: &ManagedIdentityMock,
    method: &str,
    path_query: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, Value) {
    let port = mi.base_url().rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "{method} {path_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    // Bodies may be chunked; the JSON object is between the first '{' and the last '}'.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&body[a..=b]).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, head.to_owned(), json)
}

const Q: &str = "api-version=2018-02-01&resource=api%3A%2F%2Foracle-db";

#[test]
fn imds_requires_the_metadata_header_and_answers_string_numbers() {
    let mi = ManagedIdentityMock::spawn();
    let path = format!("/metadata/identity/oauth2/token?{Q}");
    let (status, _, body) = http(&mi, "GET", &path, &[], "");
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "Required metadata header not specified"
    );

    let (status, _, body) = http(&mi, "GET", &path, &[("Metadata", "true")], "");
    assert_eq!(status, 200, "{body}");
    for k in ["expires_in", "expires_on", "not_before"] {
        assert!(
            body[k].as_str().unwrap().parse::<u64>().is_ok(),
            "{k} is a numeric string: {body}"
        );
    }
    assert_eq!(body["resource"], "api://oracle-db");
    assert_eq!(body["token_type"], "Bearer");
    let claims = mi.verify_token(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["oid"], mi.system_assigned().object_id);

    let (status, _, body) = http(
        &mi,
        "GET",
        "/metadata/identity/oauth2/token?api-version=2018-02-01",
        &[("Metadata", "true")],
        "",
    );
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Required query variable 'resource' is missing"))
    );
    let uami = mi.user_assigned();
    let (status, _, body) = http(
        &mi,
        "GET",
        &format!("{path}&object_id={}&client_id={}", uami.object_id, uami.client_id),
        &[("Metadata", "true")],
        "",
    );
    assert_eq!(status, 400, "two selectors: {body}");
    mi.fail_next(1, 410);
    let (status, _, _) = http(&mi, "GET", &path, &[("Metadata", "true")], "");
    assert_eq!(status, 410);
}

#[test]
fn app_service_needs_its_header_and_answers_expires_on_only() {
    let mi = ManagedIdentityMock::spawn();
    let path = "/msi/token?api-version=2019-08-01&resource=api%3A%2F%2Foracle-db";
    let (status, _, body) = http(&mi, "GET", path, &[], "");
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("X-IDENTITY-HEADER"),
        "{body}"
    );
    assert_eq!(body["statusCode"], 400);
    let (status, _, _) = http(&mi, "GET", path, &[("X-IDENTITY-HEADER", "wrong")], "");
    assert_eq!(status, 401);
    let (status, _, body) = http(
        &mi,
        "GET",
        path,
        &[("X-IDENTITY-HEADER", mi.identity_header())],
        "",
    );
    assert_eq!(status, 200);
    assert!(
        body.get("expires_in").is_none() && body["expires_on"].is_string(),
        "{body}"
    );
}

#[test]
fn arc_challenges_with_a_key_file_used_once() {
    let mi = ManagedIdentityMock::spawn();
    let path = "/arc/metadata/identity/oauth2/token?api-version=2020-06-01&resource=api%3A%2F%2Foracle-db"
        .to_owned();
    let (status, head, _) = http(&mi, "GET", &path, &[("Metadata", "true")], "");
    assert_eq!(status, 401);
    let realm = head
        .lines()
        .find_map(|l| l.strip_prefix("www-authenticate: Basic realm="))
        .unwrap()
        .to_owned();
    assert!(realm.starts_with(&mi.arc_key_dir().display().to_string()) && realm.ends_with(".key"));
    let key = std::fs::read_to_string(&realm).unwrap();
    let auth = format!("Basic {key}");
    let with_key = || {
        http(
            &mi,
            "GET",
            &path,
            &[("Metadata", "true"), ("Authorization", &auth)],
            "",
        )
        .0
    };
    assert_eq!(with_key(), 200);
    assert_eq!(with_key(), 401, "a key is good for one request");
}

#[test]
fn cloud_shell_takes_a_form_post() {
    let mi = ManagedIdentityMock::spawn();
    let form = "resource=api%3A%2F%2Foracle-db";
    let (status, _, body) = http(
        &mi,
        "POST",
        "/oauth2/token",
        &[
            ("Metadata", "true"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"], "api://oracle-db");
    let (status, _, _) = http(&mi, "GET", "/oauth2/token", &[("Metadata", "true")], "");
    assert_eq!(status, 405);
}

#[test]
fn imds_answers_identity_not_found_for_an_identity_the_host_does_not_have() {
    // The real IMDS's body (MicrosoftDocs/azure-docs#21322, Azure/aad-pod-identity#778).
    let mi = ManagedIdentityMock::spawn();
    let path = format!("/metadata/identity/oauth2/token?{Q}");
    let not_found = |(status, _, body): (u16, String, Value)| {
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            body,
            serde_json::json!({"error": "invalid_request", "error_description": "Identity not found"})
        );
    };
    // A user-assigned identity that is not assigned to the host.
    not_found(http(
        &mi,
        "GET",
        &format!("{path}&client_id=99999999-9999-9999-9999-999999999999"),
        &[("Metadata", "true")],
        "",
    ));
    // A VM without any managed identity: the system-assigned one is not there either.
    mi.set_identities(vec![]);
    not_found(http(&mi, "GET", &path, &[("Metadata", "true")], ""));
    // Given an identity again, the host answers with it.
    mi.set_identities(vec![mi.user_assigned()]);
    let (status, _, body) = http(
        &mi,
        "GET",
        &format!("{path}&client_id={}", mi.user_assigned().client_id),
        &[("Metadata", "true")],
        "",
    );
    assert_eq!(status, 200, "{body}");
}
