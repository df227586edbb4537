//! Soak: threads hammer one client for a while against a mock whose tokens live 5 s, while the
//! mock injects random faults (503, 500, 429 with Retry-After, dropped connections) and one
//! thread forces a refresh now and then. Asserted:
//!
//! * zero wrong results: every token handed out verifies against the mock's signing key and is
//!   unexpired at the moment it is handed out;
//! * zero unexpected errors: a call fails only with the status of an injected fault, and only
//!   while no valid token exists (the cached one is inside the expiry margin);
//! * no leak growth: resident memory sampled every second grows by less than 16 MiB from the
//!   first sample after warm-up to the end;
//! * after `shutdown`, none of the library's threads is left.
//!
//! `SOAK_SECONDS` (default 12) and `SOAK_THREADS` (default 8) set the run; `scripts/soak.sh
//! SECONDS` runs a long one. The summary line is what RELIABILITY.md quotes.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aadtoken_core::token::unix_now;
use aadtoken_core::{Client, ErrorKind};
use aadtoken_mock::{Fault, MockConfig, MockServer};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

/// Names of this process's threads that belong to the library.
fn library_threads() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) {
            let comm = comm.trim().to_owned();
            // The mock's threads are "aadtoken-mock-*"; the library's "aadtoken-worker", "aadtoken-keeper".
            if comm.starts_with("aadtoken") && !comm.starts_with("aadtoken-mock") {
                names.push(comm);
            }
        }
    }
    names
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Default)]
struct Tally {
    calls: AtomicU64,
    ok: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    unexpected: Mutex<Vec<String>>,
}

#[test]
fn soak_under_random_faults() {
    let seconds = env_u64("SOAK_SECONDS", 12);
    let threads = env_u64("SOAK_THREADS", 8) as usize;
    let margin_s = 1;
    let mock = Arc::new(MockServer::spawn(MockConfig::default()));
    mock.set_token_lifetime(5);
    let c = common::with_platform(
        common::app_config(&mock, &format!("expiry_margin_s={margin_s};timeout_ms=10000")),
        &[],
    );
    let client = Client::new(&c).unwrap();

    let seed = (unix_now() as u64) | 1;
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    // The latest expiry of any token seen: while it is beyond now + margin, a valid token exists.
    let latest_expiry = Arc::new(AtomicI64::new(0));
    let verified: Arc<Mutex<HashSet<String>>> = Arc::default();
    let faults = Arc::new(AtomicU64::new(0));

    let rss_start = Arc::new(AtomicU64::new(0));
    let rss_max = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);

    let mut handles = Vec::new();
    for i in 0..threads {
        let (client, mock, tally, stop, latest_expiry, verified) = (
            client.clone(),
            Arc::clone(&mock),
            Arc::clone(&tally),
            Arc::clone(&stop),
            Arc::clone(&latest_expiry),
            Arc::clone(&verified),
        );
        handles.push(std::thread::spawn(move || {
            let mut last_forced = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                tally.calls.fetch_add(1, Ordering::Relaxed);
                // Thread 0 forces a refresh every 8 s (the loop guard allows 10 a minute).
                let forced = i == 0 && last_forced.elapsed() >= Duration::from_secs(8);
                let result = if forced {
                    last_forced = Instant::now();
                    client.refresh_token(None)
                } else {
                    client.get_token(None)
                };
                let now = unix_now();
                match result {
                    Ok(t) => {
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                        if t.expires_on() <= now {
                            tally
                                .unexpected
                                .lock()
                                .unwrap()
                                .push(format!("expired token handed out ({} <= {now})", t.expires_on()));
                        }
                        latest_expiry.fetch_max(t.expires_on(), Ordering::Relaxed);
                        let new = !verified.lock().unwrap().contains(t.secret());
                        if new {
                            match mock.verify_token(t.secret()) {
                                Ok(claims) => {
                                    let exp = claims["exp"].as_i64().unwrap_or(0);
                                    if exp <= now || claims["aud"] != "api://oracle-db" {
                                        tally
                                            .unexpected
                                            .lock()
                                            .unwrap()
                                            .push(format!("wrong token: exp {exp}, aud {}", claims["aud"]));
                                    }
                                }
                                Err(e) => tally
                                    .unexpected
                                    .lock()
                                    .unwrap()
                                    .push(format!("token does not verify: {e}")),
                            }
                            verified.lock().unwrap().insert(t.secret().to_owned());
                        }
                    }
                    Err(e) => {
                        let allowed = matches!(
                            e.kind(),
                            ErrorKind::Throttled | ErrorKind::ServerError | ErrorKind::Network
                        );
                        // A valid token existed if the latest one has more than the margin left
                        // (1 s of slack for the second boundaries of Unix time).
                        let valid_existed = latest_expiry.load(Ordering::Relaxed) - margin_s > now + 1;
                        if !allowed || (valid_existed && !forced) {
                            tally.unexpected.lock().unwrap().push(format!(
                                "{:?} (forced: {forced}, valid token existed: {valid_existed}): {}",
                                e.kind(),
                                e.message()
                            ));
                        }
                        *tally
                            .errors
                            .lock()
                            .unwrap()
                            .entry(format!("{:?}", e.kind()))
                            .or_default() += 1;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                if tally.calls.load(Ordering::Relaxed) % 64 == 0 {
                    std::thread::yield_now();
                }
            }
        }));
    }

    // The fault injector and the RSS sampler.
    let mut rng = Rng(seed);
    let mut samples = Vec::new();
    let mut next_sample = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500 + rng.next() % 500));
        // About one tick in three: most requests succeed, and every kind of fault recurs.
        if mock.pending_faults() == 0 && rng.next() % 3 == 0 {
            let fault = match rng.next() % 4 {
                0 => Fault::status(503),
                1 => Fault::status(500),
                2 => Fault::throttled(Some(1)),
                _ => Fault::Disconnect,
            };
            mock.fail_next(1 + (rng.next() % 2) as u32, fault);
            faults.fetch_add(1, Ordering::Relaxed);
        }
        if Instant::now() >= next_sample {
            let rss = rss_kib();
            samples.push(rss);
            rss_max.fetch_max(rss, Ordering::Relaxed);
            if started.elapsed() >= Duration::from_secs(seconds / 4 + 1)
                && rss_start.load(Ordering::Relaxed) == 0
            {
                rss_start.store(rss, Ordering::Relaxed);
            }
            next_sample += Duration::from_secs(1);
        }
    }
    mock.clear_faults();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let rss_end = rss_kib();
    drop(client);
    let before_shutdown = library_threads();
    aadtoken_core::client::shutdown();
    let mut after = library_threads();
    for _ in 0..50 {
        if after.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        after = library_threads();
    }

    let calls = tally.calls.load(Ordering::Relaxed);
    let ok = tally.ok.load(Ordering::Relaxed);
    let errors = tally.errors.lock().unwrap().clone();
    let unexpected = tally.unexpected.lock().unwrap().clone();
    let rss_start = rss_start
        .load(Ordering::Relaxed)
        .max(samples.first().copied().unwrap_or(0));
    let summary = format!(
        "soak: {threads} threads x {seconds} s: {calls} calls, {ok} tokens, {} distinct tokens verified, \
         errors {errors:?} (all while no valid token existed), {} faults injected, {} token requests; \
         RSS {rss_start} KiB after warm-up -> {rss_end} KiB at the end (max {} KiB); \
         library threads {} before shutdown, {} after; seed {seed}",
        verified.lock().unwrap().len(),
        faults.load(Ordering::Relaxed),
        mock.token_requests(),
        rss_max.load(Ordering::Relaxed),
        before_shutdown.len(),
        after.len(),
    );
    println!("{summary}");
    assert!(
        unexpected.is_empty(),
        "{} unexpected outcomes, first: {:#?}\n{summary}",
        unexpected.len(),
        &unexpected[..unexpected.len().min(10)]
    );
    assert!(
        ok > 0 && verified.lock().unwrap().len() >= (seconds / 5).max(1) as usize,
        "{summary}"
    );
    assert!(rss_end < rss_start + 16 * 1024, "RSS grew: {summary}");
    assert!(
        after.is_empty(),
        "library threads left after shutdown: {after:?}\n{summary}"
    );
}
