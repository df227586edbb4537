//! Every public function of the C ABI (`include/aadtoken.h`) is reachable from Python, from
//! Java and from Node.js, or is on an explicit allow-list below with the reason.
//!
//! * Python (`bindings/python/aadtoken`, ctypes): covered when the package declares its prototype
//!   and calls it (`lib.aadtoken_x(`, or passes `lib.aadtoken_x` to a helper) — the `_free` functions and the
//!   accessors count, since the wrapper calls them internally.
//! * Java (`bindings/java/aadtoken`, JNI): the JNI exports call `crate::core` directly, not the C ABI, so
//!   coverage is a table: each C function → the Java member that gives the same capability,
//!   checked to be declared in that class's source.
//! * Node.js (`bindings/node`, koffi): covered when `native.js` declares its prototype and
//!   `index.js` calls it (`lib.aadtoken_x(`, `.aadtoken_x.async(`, or passes or assigns
//!   `lib.aadtoken_x`).
//!
//! When a function is added to the header, this test fails until every binding covers it or it
//! is allow-listed here with a reason.

use std::collections::BTreeSet;

use crate::common::repo_root;

/// C function → (Java class, member declared in it) that provides the same capability.
const JAVA: &[(&str, &str, &str)] = &[
    ("aadtoken_version", "AadTokenClient", "libraryVersion"),
    ("aadtoken_status_str", "AadTokenException", "statusText"),
    // A config is the Builder: it records the steps, the native side applies them to a config
    // it creates, fills, and frees when the client is built.
    ("aadtoken_config_new", "AadTokenClient", "builder"),
    ("aadtoken_config_set", "AadTokenClient", "set"),
    ("aadtoken_config_parse", "AadTokenClient", "settings"),
    ("aadtoken_config_load_env", "AadTokenClient", "environment"),
    ("aadtoken_config_free", "AadTokenClient", "build"),
    ("aadtoken_client_new", "AadTokenClient", "build"),
    ("aadtoken_client_get_token", "AadTokenClient", "getToken"),
    ("aadtoken_client_refresh_token", "AadTokenClient", "refreshToken"),
    // ojdbc's provider and tokenSupplier() use these.
    (
        "aadtoken_client_get_token_silent",
        "AadTokenClient",
        "getTokenSilent",
    ),
    (
        "aadtoken_client_refresh_token_silent",
        "AadTokenClient",
        "refreshTokenSilent",
    ),
    ("aadtoken_client_free", "AadTokenClient", "close"),
    // A token is copied into a Java `Token`; the native reference is released in the JNI call,
    // and `wipe()`/`close()` zero the Java copy.
    ("aadtoken_token_value", "Token", "chars"),
    ("aadtoken_token_len", "Token", "chars"),
    ("aadtoken_token_expires_on", "Token", "expiresOn"),
    ("aadtoken_token_refresh_on", "Token", "refreshOn"),
    ("aadtoken_token_free", "Token", "wipe"),
    // The error object's parts are the exception's (the message is Throwable's getMessage,
    // set by the constructor).
    ("aadtoken_error_status", "AadTokenException", "status"),
    ("aadtoken_error_message", "AadTokenException", "AadTokenException"),
    ("aadtoken_error_oauth_code", "AadTokenException", "oauthCode"),
    ("aadtoken_error_aadsts", "AadTokenException", "aadsts"),
    ("aadtoken_error_aadsts_count", "AadTokenException", "aadstsCodes"),
    ("aadtoken_error_aadsts_at", "AadTokenException", "aadstsCodes"),
    (
        "aadtoken_error_correlation_id",
        "AadTokenException",
        "correlationId",
    ),
    ("aadtoken_error_trace_id", "AadTokenException", "traceId"),
    ("aadtoken_error_http_status", "AadTokenException", "httpStatus"),
    (
        "aadtoken_error_retry_after",
        "AadTokenException",
        "retryAfterSeconds",
    ),
    ("aadtoken_error_free", "AadTokenException", "AadTokenException"),
    ("aadtoken_shutdown", "AadTokenClient", "shutdown"),
    // Claims: Java gets the whole payload as JSON (every accessor's claim is in it); the native
    // claims object lives only inside the JNI call.
    ("aadtoken_token_claims", "Token", "claimsJson"),
    ("aadtoken_claims_json", "Token", "claimsJson"),
    ("aadtoken_claims_aud", "Token", "claimsJson"),
    ("aadtoken_claims_iss", "Token", "claimsJson"),
    ("aadtoken_claims_tid", "Token", "claimsJson"),
    ("aadtoken_claims_oid", "Token", "claimsJson"),
    ("aadtoken_claims_upn", "Token", "claimsJson"),
    ("aadtoken_claims_appid", "Token", "claimsJson"),
    ("aadtoken_claims_roles", "Token", "claimsJson"),
    ("aadtoken_claims_scp", "Token", "claimsJson"),
    ("aadtoken_claims_exp", "Token", "claimsJson"),
    ("aadtoken_claims_iat", "Token", "claimsJson"),
    ("aadtoken_claims_nbf", "Token", "claimsJson"),
    ("aadtoken_claims_free", "Token", "claimsJson"),
    // Person sign-in: the callbacks are Java lambdas (called back on the library thread that
    // runs the sign-in), set on the builder.
    (
        "aadtoken_config_set_device_code_callback",
        "AadTokenClient",
        "deviceCodePrompt",
    ),
    (
        "aadtoken_config_set_open_url_callback",
        "AadTokenClient",
        "openUrl",
    ),
    ("aadtoken_client_sign_in", "AadTokenClient", "signIn"),
    ("aadtoken_client_sign_out", "AadTokenClient", "signOut"),
];

/// The asynchronous C API: a C callback run on a library thread. Java and Python get the same
/// from their own threads (`getToken`/`get_token` block only the calling thread, and Python's
/// releases the GIL): `CompletableFuture.supplyAsync(client::getToken)`,
/// `loop.run_in_executor(None, client.get_token)`. Node's `getToken()` returns a promise and runs
/// the blocking call on a libuv worker thread (koffi's `fn.async`): koffi serves a callback from a
/// library thread by blocking that thread until the event loop has run it (see `index.js`).
const ASYNC: &[(&str, &str)] = &[
    (
        "aadtoken_client_get_token_async",
        "async C API with a C callback (see ASYNC)",
    ),
    (
        "aadtoken_request_cancel",
        "cancels an async C request (see ASYNC)",
    ),
    (
        "aadtoken_request_free",
        "frees an async C request handle (see ASYNC)",
    ),
];

/// Adapters for C hosts of the Oracle client libraries. python-oracledb (thin and thick) takes
/// the `access_token` callable (`Client.oracledb_access_token`), node-oracledb the `accessToken`
/// function (`Client#oracledbAccessToken`) and JDBC the token supplier instead; all get owned
/// copies of tokens.
const ORACLE_C: &[(&str, &str)] = &[
    (
        "aadtoken_client_borrow_token",
        "a pointer borrowed until the same thread borrows again, for C APIs that copy at once \
         (OCI's OCI_ATTR_TOKEN); bindings get an owned copy from get_token",
    ),
    (
        "aadtoken_odpi_access_token_callback",
        "ODPI-C's dpiAccessTokenCallback, registered by C programs (see ORACLE_C)",
    ),
    (
        "aadtoken_odpi_last_error",
        "diagnostics of the ODPI-C callback (see ORACLE_C)",
    ),
];

/// The Oracle token file (TOKEN_AUTH=OAUTH, TOKEN_LOCATION) serves Oracle clients that cannot
/// call aadtoken (OCI programs, SQL*Plus); a JVM gives ojdbc its tokens directly through the
/// token supplier, and the `aadtoken` CLI or a C host runs the keeper. (Python wraps them.)
const TOKEN_FILE: &[(&str, &str)] = &[
    ("aadtoken_client_write_token_file", "see TOKEN_FILE"),
    ("aadtoken_token_file_keeper_start", "see TOKEN_FILE"),
    ("aadtoken_token_file_keeper_last_error", "see TOKEN_FILE"),
    ("aadtoken_token_file_keeper_path", "see TOKEN_FILE"),
    ("aadtoken_token_file_keeper_expires_on", "see TOKEN_FILE"),
    ("aadtoken_token_file_keeper_stop", "see TOKEN_FILE"),
];

/// The client-assertion callback: a C function the library calls on one of its own threads to
/// get a federated token. Java, Python and Node hosts reach workload identity through the
/// `assertion_file` setting (or `AZURE_FEDERATED_TOKEN_FILE`, which `environment()` /
/// `env=True` read), which covers AKS and every platform that writes its token to a file; an
/// upcall into the JVM or the Python interpreter from a library thread in the token path is
/// what the file avoids.
const ASSERTION_CALLBACK: &[(&str, &str)] = &[(
    "aadtoken_config_set_assertion_callback",
    "C callback on a library thread; bindings use assertion_file (see ASSERTION_CALLBACK)",
)];

/// The log callback: a C function the library calls on any thread, its own included, at any
/// time until it is unset — also while the interpreter or the JVM shuts down. Java, Python and
/// Node hosts log through the environment sink instead (`AADTOKEN_LOG=<level>` with
/// `AADTOKEN_LOG_FILE=<path>`, read at the first log call), which needs no upcall.
const LOG_CALLBACK: &[(&str, &str)] = &[(
    "aadtoken_set_log_callback",
    "C callback on any thread; bindings use AADTOKEN_LOG/AADTOKEN_LOG_FILE (see LOG_CALLBACK)",
)];

/// C-only functions, with the reason each has no Java path.
const JAVA_ALLOW: &[&[(&str, &str)]] = &[ASYNC, ORACLE_C, TOKEN_FILE, ASSERTION_CALLBACK, LOG_CALLBACK];

/// C-only functions, with the reason each has no Python wrapper.
const PYTHON_ALLOW: &[&[(&str, &str)]] = &[ASYNC, ORACLE_C, ASSERTION_CALLBACK, LOG_CALLBACK];

/// C-only functions, with the reason each has no Node path.
const NODE_ALLOW: &[&[(&str, &str)]] = &[ASYNC, ORACLE_C, ASSERTION_CALLBACK, LOG_CALLBACK];

fn allowed(list: &[&[(&str, &str)]], name: &str) -> bool {
    list.iter().flat_map(|l| l.iter()).any(|(n, _)| *n == name)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Function names declared in the header: `aadtoken_x(` where a declaration begins.
fn header_functions() -> BTreeSet<String> {
    let header = read("include/aadtoken.h");
    let mut names = BTreeSet::new();
    for line in header.lines() {
        let code = line.split("//").next().unwrap_or("");
        if code.trim_start().starts_with("#") || code.trim_start().starts_with('*') {
            continue;
        }
        let mut rest = code;
        while let Some(i) = rest.find("aadtoken_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            if tail[end..].starts_with('(') {
                names.insert(tail[..end].to_owned());
            }
            rest = &tail[end..];
        }
    }
    assert!(names.len() > 20, "could not parse the header: {names:?}");
    names
}

fn python_sources() -> String {
    let dir = repo_root().join("bindings/python/aadtoken");
    let mut text = String::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        // _native.py only declares prototypes; a wrapper has to call the function.
        if path.extension().is_some_and(|e| e == "py") && !path.ends_with("_native.py") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    text
}

/// `name` is used in `source`: called, passed as an argument, or assigned (`.name(`, `.name,`,
/// `.name)`, `.name;`, `.name.async(`).
fn used(source: &str, name: &str) -> bool {
    ["(", ",", ")", ";", ".async("]
        .iter()
        .any(|end| source.contains(&format!(".{name}{end}")))
}

/// A method or constructor declaration of `member`: a line with `member(` (not a call: the line
/// opens the body with `{`, or continues the parameter list with `,`).
fn declares(java_source: &str, member: &str) -> bool {
    java_source.lines().map(str::trim).any(|line| {
        let skip = ["*", "/", "return", "throw"].iter().any(|p| line.starts_with(p));
        let named = line.starts_with(&format!("{member}("))
            || line.contains(&format!(" {member}("))
            || line.contains(&format!(" {member} ("));
        !skip && named && (line.ends_with('{') || line.ends_with(','))
    })
}

/// The header's functions, except those allowed by `allow`, that a binding lacks: each needs its
/// prototype declared (`declared`) and a use in `source`. One line per function, saying which.
fn unbound(allow: &[&[(&str, &str)]], source: &str, declared: impl Fn(&str) -> bool) -> Vec<String> {
    let mut missing = Vec::new();
    for name in header_functions() {
        if allowed(allow, &name) {
            continue;
        }
        let (called, declared) = (used(source, &name), declared(&name));
        if !(called && declared) {
            missing.push(format!(
                "{name} (prototype declared: {declared}, called: {called})"
            ));
        }
    }
    missing
}

#[test]
fn every_c_function_has_a_python_wrapper() {
    let prototypes = read("bindings/python/aadtoken/_native.py");
    let missing = unbound(PYTHON_ALLOW, &python_sources(), |name| {
        prototypes.contains(&format!("\"{name}\""))
    });
    assert!(
        missing.is_empty(),
        "C functions without a Python wrapper (bind them in bindings/python/aadtoken or add them \
         to PYTHON_ALLOW in tests/api/binding_coverage.rs with a reason):\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn every_c_function_has_a_node_path() {
    // native.js only declares prototypes (`aadtoken_x(` in a C prototype string); index.js calls.
    let prototypes = read("bindings/node/native.js");
    let missing = unbound(NODE_ALLOW, &read("bindings/node/index.js"), |name| {
        prototypes.contains(&format!(" {name}(")) || prototypes.contains(&format!("*{name}("))
    });
    assert!(
        missing.is_empty(),
        "C functions without a Node path (bind them in bindings/node or add them to NODE_ALLOW \
         in tests/api/binding_coverage.rs with a reason):\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn every_c_function_has_a_java_path() {
    let mut missing = Vec::new();
    for name in header_functions() {
        if allowed(JAVA_ALLOW, &name) {
            continue;
        }
        match JAVA.iter().find(|(n, _, _)| *n == name) {
            None => missing.push(format!("{name}: not in the JAVA table")),
            Some((_, class, member)) => {
                let source = read(&format!(
                    "bindings/java/aadtoken/src/main/java/aadtoken/{class}.java"
                ));
                if !declares(&source, member) {
                    missing.push(format!("{name}: {class}.{member} is not declared"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "C functions without a Java path (add it to bindings/java and the JAVA table, or to \
         JAVA_ALLOW with a reason, in tests/api/binding_coverage.rs):\n  {}",
        missing.join("\n  ")
    );
}

/// The JAVA table must not go stale. (The allow-lists may name functions that are still being
/// added to the header by work in progress.)
#[test]
fn the_java_table_names_only_functions_that_exist() {
    let header = header_functions();
    let stale: Vec<&str> = JAVA
        .iter()
        .map(|(n, _, _)| *n)
        .filter(|n| !header.contains(*n))
        .collect();
    assert!(
        stale.is_empty(),
        "the JAVA table in tests/api/binding_coverage.rs lists functions the header no longer declares: {stale:?}"
    );
}
