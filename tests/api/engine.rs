//! The token engine against the mock: single flight, proactive background refresh, serving the
//! old token while a refresh fails, Retry-After across threads, the deadline over retries, the
//! loop guard, and the async API. Assertions are on the mock's counters and on what callers
//! got, never on speed; the mock's latency control makes "did not wait" deterministic (a call
//! that returns while the mock is still sleeping on the request did not wait for it).

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use aadtoken_core::ErrorKind;

use crate::common::{self, app_client as client};
use aadtoken_mock::{Fault, MockConfig, MockServer, RefreshIn};

/// Wait (bounded) until `cond` holds.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    common::wait_until(what, Duration::from_secs(15), cond);
}

/// A mock that answers each token request after `latency`, and a client of it with `settings`.
fn slow(latency: Duration, settings: &str) -> (MockServer, aadtoken_core::Client) {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_latency(latency);
    let c = client(&mock, settings);
    (mock, c)
}

fn run_threads<T: Send + 'static>(n: usize, f: impl Fn() -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (f, barrier) = (Arc::clone(&f), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                f()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn concurrent_callers_on_a_cold_cache_share_one_request() {
    let (mock, c) = slow(Duration::from_millis(300), "");
    let tokens = run_threads(32, move || c.get_token(None).unwrap().secret().to_owned());
    assert_eq!(mock.token_requests(), 1, "32 concurrent callers, one request");
    common::assert_all_same(&tokens, "everyone got the same token");
}

#[test]
fn concurrent_callers_share_one_failure_too() {
    let (mock, c) = slow(Duration::from_millis(300), "client_secret=wrong");
    let errors = run_threads(16, move || c.get_token(None).unwrap_err());
    assert_eq!(
        mock.token_requests(),
        1,
        "16 concurrent callers, one request, one error"
    );
    for e in &errors {
        assert_eq!(e.kind(), ErrorKind::InvalidClient);
        assert_eq!(
            e.correlation_id(),
            errors[0].correlation_id(),
            "the same error for all"
        );
    }
}

#[test]
fn due_token_is_refreshed_in_the_background_while_callers_keep_it() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_refresh_in(Some(RefreshIn::Number(1))); // Entra's hint: renew after 1 s
    let c = client(&mock, "");
    let first = c.get_token(None).unwrap();
    let due_in = first.refresh_on() - aadtoken_core::token::unix_now();
    assert!(due_in <= 1, "refresh_on follows refresh_in: {due_in}");
    mock.set_refresh_in(None); // the next token is not due soon: exactly one refresh below
    thread::sleep(Duration::from_millis(1100));

    mock.set_latency(Duration::from_secs(2));
    for _ in 0..100 {
        let t = c.get_token(None).unwrap();
        assert_eq!(
            t.secret(),
            first.secret(),
            "the still-valid token, without waiting"
        );
    }
    assert_eq!(
        mock.tokens_issued(),
        1,
        "every call above returned while the refresh was in flight"
    );
    eventually("the background refresh reached the mock", || {
        mock.token_requests() == 2
    });
    eventually("the background refresh finished", || mock.tokens_issued() == 2);
    eventually("callers see the new token", || {
        c.get_token(None).unwrap().secret() != first.secret()
    });
    assert_eq!(
        mock.token_requests(),
        2,
        "one background refresh, not one per caller"
    );
}

#[test]
fn a_failed_background_refresh_keeps_the_old_token_and_backs_off() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.set_refresh_in(Some(RefreshIn::Number(1)));
    let c = client(&mock, "");
    let first = c.get_token(None).unwrap();
    mock.set_refresh_in(None); // the next token is not due soon: exactly one success below
    thread::sleep(Duration::from_millis(1100));

    mock.fail_next(2, Fault::status(503)); // the refresh and its one retry
    assert_eq!(c.get_token(None).unwrap().secret(), first.secret());
    eventually("refresh and retry failed", || {
        mock.token_requests() == 3 && mock.pending_faults() == 0
    });
    for _ in 0..50 {
        assert_eq!(
            c.get_token(None).unwrap().secret(),
            first.secret(),
            "old token served while valid"
        );
    }
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        mock.token_requests(),
        3,
        "backing off: no new attempt right after a failure"
    );

    eventually("a later attempt succeeds and replaces the token", || {
        c.get_token(None).unwrap().secret() != first.secret()
    });
    assert_eq!(mock.tokens_issued(), 2);
}

#[test]
fn retry_after_is_honoured_by_every_thread() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.fail_next(1, Fault::throttled(Some(30)));
    let c = client(&mock, "");
    let err = c.get_token(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));

    let c2 = c.clone();
    let errors = run_threads(8, move || c2.get_token(None).unwrap_err());
    for e in &errors {
        assert_eq!(e.kind(), ErrorKind::Throttled, "{e}");
        let left = e.retry_after().unwrap().as_secs();
        assert!((1..=30).contains(&left), "time left to wait: {left}");
        assert!(e.message().contains("Retry-After"), "{e}");
    }
    assert!(c
        .refresh_token(None)
        .is_err_and(|e| e.kind() == ErrorKind::Throttled));
    assert_eq!(mock.token_requests(), 1, "nobody called while throttled");

    // Another identity (here: another scope) is not throttled.
    c.get_token(Some(aadtoken_mock::OTHER_SCOPE)).unwrap();
}

#[test]
fn the_deadline_bounds_retries_too() {
    let mock = MockServer::spawn(MockConfig::default());
    mock.fail_next(1, Fault::status(500));
    let started = Instant::now();
    let err = client(&mock, "timeout_ms=400").get_token(None).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Timeout,
        "the 1 s retry delay does not fit in 400 ms: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(950),
        "returned at the deadline, not after the retry"
    );
    assert_eq!(mock.token_requests(), 1);
}

#[test]
fn a_refresh_loop_is_stopped_locally() {
    let mock = MockServer::spawn(MockConfig::default());
    let c = client(&mock, "");
    for _ in 0..aadtoken_core::cache::MAX_FORCED_PER_MINUTE {
        c.refresh_token(None).unwrap();
    }
    let err = c.refresh_token(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooManyRefreshes, "{err}");
    assert!(err.message().contains("AADSTS50196"), "{err}");
    assert_eq!(mock.token_requests(), 10, "the refused refresh made no request");
    c.get_token(None)
        .expect("get_token still serves the cached token");
}

#[test]
fn concurrent_forced_refreshes_share_one_request() {
    let (mock, c) = slow(Duration::from_millis(300), "");
    let tokens = run_threads(8, move || c.refresh_token(None).unwrap().secret().to_owned());
    assert_eq!(mock.token_requests(), 1);
    common::assert_all_same(&tokens, "the forced refreshes got the same token");
}

#[test]
fn async_get_calls_back_once_with_the_token() {
    let mock = MockServer::spawn(MockConfig::default());
    let c = client(&mock, "");
    let (tx, rx) = mpsc::channel();
    let caller = thread::current().id();
    let pending = c
        .get_token_async(
            None,
            Box::new(move |r| {
                tx.send((r.map(|t| t.secret().to_owned()), thread::current().id()))
                    .unwrap()
            }),
        )
        .unwrap();
    let (result, ran_on) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(result.unwrap().starts_with("eyJ"));
    assert_ne!(ran_on, caller, "the callback runs on a library thread");
    pending.cancel(); // after completion: no effect, no second callback
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "exactly one callback"
    );
    // Cached now: the async path answers from the cache too.
    let (tx, rx) = mpsc::channel();
    c.get_token_async(None, Box::new(move |r| tx.send(r.is_ok()).unwrap()))
        .unwrap();
    assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    assert_eq!(mock.token_requests(), 1);
}

#[test]
fn async_get_can_be_cancelled_and_times_out() {
    let (mock, c) = slow(Duration::from_secs(3), "");
    let (tx, rx) = mpsc::channel();
    let pending = c
        .get_token_async(None, Box::new(move |r| tx.send(r.unwrap_err().kind()).unwrap()))
        .unwrap();
    thread::sleep(Duration::from_millis(100));
    pending.cancel();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(2)).unwrap(),
        ErrorKind::Cancelled,
        "before the mock answered"
    );

    let c = client(
        &mock,
        "timeout_ms=300;scope=https://oracle.example.com/db/.default",
    );
    let (tx, rx) = mpsc::channel();
    c.get_token_async(None, Box::new(move |r| tx.send(r.unwrap_err().kind()).unwrap()))
        .unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(2)).unwrap(),
        ErrorKind::Timeout
    );
}

#[test]
fn async_callback_may_call_back_into_the_library() {
    let mock = MockServer::spawn(MockConfig::default());
    let c = client(&mock, "");
    let inner = c.clone();
    let (tx, rx) = mpsc::channel();
    c.get_token_async(
        None,
        Box::new(move |first| {
            let again = inner.refresh_token(None).map(|t| t.secret().to_owned());
            tx.send((first.is_ok(), again)).unwrap();
        }),
    )
    .unwrap();
    let (first_ok, again) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(first_ok);
    assert!(
        again.unwrap().starts_with("eyJ"),
        "a blocking call from inside the callback works"
    );
}
