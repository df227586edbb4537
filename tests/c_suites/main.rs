//! The suites that drive programs in other languages against the mock Entra ID server, in one
//! test binary (each would otherwise link the whole library on its own): the C programs of
//! `tests/c/` — the ABI, its misuse under sanitizers, every credential kind, person sign-in, the
//! Oracle adapters, the host cache across processes, unloading with dlclose — normally and under
//! valgrind. (The Java binding is tested by Maven: `mvn -f bindings/java/pom.xml verify`.) Every
//! phase runs as its own process, so nothing of the library's process-wide state is shared
//! between tests.

#[path = "../common/mod.rs"]
mod common;
#[path = "../creds/mod.rs"]
mod creds;

mod abi;
mod credentials;
mod dlclose;
mod host_cache;
mod misuse;
mod oracle;
mod signin;
