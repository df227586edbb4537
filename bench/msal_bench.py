"""MSAL Python side of the benchmark: the same phases as bench.c, against the same mock.

Run by bench/run.sh: python3 msal_bench.py MODE [N]; settings from the environment
(BENCH_AUTHORITY, BENCH_CLIENT_ID, BENCH_SECRET, BENCH_SCOPE; REQUESTS_CA_BUNDLE trusts the
mock's CA). Prints "key value" lines like bench.c.
"""
import os
import statistics
import sys
import threading
import time

T0 = time.perf_counter()
import msal  # noqa: E402  (import time is part of a cold start)

IMPORTED = time.perf_counter()


def app():
    return msal.ConfidentialClientApplication(
        os.environ["BENCH_CLIENT_ID"],
        client_credential=os.environ["BENCH_SECRET"],
        authority=os.environ["BENCH_AUTHORITY"],
        instance_discovery=False,  # the mock is not a Microsoft host
    )


SCOPES = [os.environ["BENCH_SCOPE"]]


def acquire(a):
    r = a.acquire_token_for_client(SCOPES)
    if "access_token" not in r:
        sys.exit(f"msal: {r.get('error')}: {r.get('error_description')}")
    return r


def cached(iters):
    a = app()
    acquire(a)
    t = time.perf_counter()
    for _ in range(iters):
        acquire(a)
    print(f"ns_per_op {(time.perf_counter() - t) / iters * 1e9:.1f}")


def warm(iters):
    a = app()
    acquire(a)
    samples = []
    for _ in range(iters):
        a.remove_tokens_for_client()
        t = time.perf_counter()
        r = acquire(a)
        samples.append((time.perf_counter() - t) * 1e6)
        assert r.get("token_source") == "identity_provider"
    print(f"median_us {statistics.median(samples):.1f}")


def cold():
    t = time.perf_counter()
    acquire(app())
    print(f"cold_ms {(time.perf_counter() - t) * 1e3:.3f}")
    print(f"cold_with_import_ms {(time.perf_counter() - T0) * 1e3:.3f}")


def conc(threads):
    a = app()
    barrier = threading.Barrier(threads)
    ok = []

    def worker():
        barrier.wait()
        ok.append("access_token" in a.acquire_token_for_client(SCOPES))

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"ok {sum(ok)}")


if __name__ == "__main__":
    mode = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    {"cached": lambda: cached(n), "warm": lambda: warm(n), "cold": cold, "conc": lambda: conc(n)}[mode]()
