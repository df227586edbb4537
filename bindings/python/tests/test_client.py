"""The Python binding against the mock Entra ID server: tokens, cache and refresh, settings from
a dict, a string and the environment, error mapping, threads, close."""

import os
import re
import threading
import time
import unittest
from unittest import mock as umock

from tests.mock import CLIENT_ID, CLIENT_SECRET, OTHER_SCOPE, SCOPE, TENANT_ID, SharedMock, require_built

require_built()
import aadtoken  # noqa: E402  (after AADTOKEN_LIB is set by tests.mock)

MOCK = SharedMock()
setUpModule, tearDownModule = MOCK.start, MOCK.stop


class TokenTests(unittest.TestCase):
    def test_version_and_status_text(self):
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "Cargo.toml")) as f:
            cargo_version = re.search(r'^version = "(.*)"', f.read(), re.M).group(1)
        self.assertEqual(aadtoken.version(), cargo_version)
        self.assertTrue(aadtoken.status_text(300).startswith("AADTOKEN_ERR_INVALID_CLIENT:"))
        self.assertTrue(aadtoken.status_text(424242).startswith("AADTOKEN_ERR_UNKNOWN"))

    def test_token_from_a_dict_then_cached_then_refreshed(self):
        scope = MOCK.new_scope("py-cache")
        before = MOCK.token_requests()
        with aadtoken.Client(MOCK.settings(scope=scope)) as client:
            t1 = client.get_token()
            self.assertRegex(t1.token, r"^eyJ[\w-]+\.[\w-]+\.[\w-]+$")
            self.assertTrue(3000 < t1.expires_in <= 3600, t1.expires_in)
            self.assertLessEqual(t1.refresh_on, t1.expires_on)
            t2 = client.get_token(scope)
            self.assertEqual(t2.token, t1.token)
            self.assertEqual(MOCK.token_requests() - before, 1, "the second get is cached")
            t3 = client.refresh_token()
            self.assertNotEqual(t3.token, t1.token)
            self.assertEqual(MOCK.token_requests() - before, 2)
            self.assertEqual(client.get_token().token, t3.token, "refresh replaced the cached token")

    def test_settings_string_and_other_scope(self):
        s = (f'tenant_id={TENANT_ID}; client_id={CLIENT_ID}; client_secret="{CLIENT_SECRET}"; '
             f"authority_host={MOCK.base_url}; ca_file={MOCK.ca_file}")
        with aadtoken.Client(s) as client:
            self.assertTrue(client.refresh_token(OTHER_SCOPE).token.startswith("eyJ"))
            with self.assertRaises(aadtoken.AadTokenError) as cm:
                client.get_token()  # no `scope` setting
            self.assertEqual(cm.exception.status, aadtoken.ERR_MISSING_SETTING)
            self.assertIn("scope", cm.exception.message)

    def test_settings_from_the_environment(self):
        env = {"AZURE_TENANT_ID": TENANT_ID, "AZURE_CLIENT_ID": CLIENT_ID,
               "AZURE_CLIENT_SECRET": CLIENT_SECRET, "AZURE_AUTHORITY_HOST": MOCK.base_url,
               "AADTOKEN_SETTINGS": f"scope={SCOPE}; ca_file={MOCK.ca_file}"}
        with umock.patch.dict(os.environ, env):
            with aadtoken.Client.from_environment() as client:
                self.assertTrue(client.refresh_token().token.startswith("eyJ"))
            # Explicit settings override the environment.
            os.environ["AZURE_CLIENT_SECRET"] = "wrong"
            with aadtoken.Client({"client_secret": CLIENT_SECRET, "scope": SCOPE,
                                  "ca_file": MOCK.ca_file}, env=True) as client:
                self.assertTrue(client.refresh_token().token.startswith("eyJ"))

    def test_token_repr_hides_the_token(self):
        with aadtoken.Client(MOCK.settings()) as client:
            t = client.get_token()
            for text in (repr(t), str(t)):
                self.assertNotIn(t.token, text)
                self.assertNotIn("eyJ", text)


class ErrorTests(unittest.TestCase):
    def test_wrong_secret(self):
        before = MOCK.token_requests()
        with aadtoken.Client(MOCK.settings(client_secret="not-the-value")) as client:
            with self.assertRaises(aadtoken.AadTokenError) as cm:
                client.get_token()
        e = cm.exception
        self.assertEqual(e.status, 300)
        self.assertEqual(e.status_name, "AADTOKEN_ERR_INVALID_CLIENT")
        self.assertEqual(e.aadsts, 7000215)
        self.assertEqual(e.aadsts_codes, (7000215,))
        self.assertEqual(e.oauth_code, "invalid_client")
        self.assertRegex(e.correlation_id, r"^[0-9a-f-]{36}$")
        self.assertIn(e.correlation_id, str(e))
        self.assertNotIn("not-the-value", str(e))
        self.assertNotIn("not-the-value", repr(e))
        self.assertTrue(e.trace_id)
        self.assertEqual(e.http_status, 401)
        self.assertEqual(MOCK.token_requests() - before, 1, "a 4xx is not retried")

    def test_setting_errors_name_the_setting(self):
        cases = [
            ({**MOCK.settings(), "no_such_key": "x"}, 101, "no_such_key"),
            (MOCK.settings(timeout_ms="soon"), 102, "timeout_ms"),
            (MOCK.settings(client_secret=None), 103, "client_secret"),
            ('tenant_id="unterminated', 100, ""),
        ]
        for settings, status, named in cases:
            with self.subTest(status=status):
                with self.assertRaises(aadtoken.AadTokenError) as cm:
                    aadtoken.Client(settings)
                self.assertEqual(cm.exception.status, status)
                self.assertIn(named, cm.exception.message)
        with self.assertRaises(TypeError):
            aadtoken.Client(MOCK.settings()).get_token(42)

    def test_untrusted_ca_is_a_tls_error(self):
        before = MOCK.token_requests()
        with aadtoken.Client(MOCK.settings(ca_file=None, scope=MOCK.new_scope("py-tls"))) as c:
            with self.assertRaises(aadtoken.AadTokenError) as cm:
                c.get_token()
        self.assertEqual(cm.exception.status, aadtoken.ERR_TLS)
        self.assertEqual(MOCK.token_requests() - before, 0)

    def test_connection_refused_is_a_network_error(self):
        with aadtoken.Client(MOCK.settings(authority_host="https://127.0.0.1:1",
                                           timeout_ms="5000")) as client:
            with self.assertRaises(aadtoken.AadTokenError) as cm:
                client.refresh_token()
        self.assertEqual(cm.exception.status, aadtoken.ERR_NETWORK)


class LifecycleTests(unittest.TestCase):
    def test_threads_share_one_request(self):
        scope = MOCK.new_scope("py-threads")
        MOCK.control("POST", "/_mock/config", {"latency_ms": 200})
        try:
            before = MOCK.token_requests()
            client = aadtoken.Client(MOCK.settings(scope=scope))
            seen, errors = set(), []
            barrier = threading.Barrier(16)

            def work():
                try:
                    barrier.wait()
                    for _ in range(50):
                        seen.add(client.get_token().token)
                except Exception as e:  # pragma: no cover - reported below
                    errors.append(e)

            threads = [threading.Thread(target=work) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            client.close()
        finally:
            MOCK.control("POST", "/_mock/config", {"latency_ms": 0})
        self.assertEqual(errors, [])
        self.assertEqual(len(seen), 1)
        self.assertEqual(MOCK.token_requests() - before, 1)

    def test_use_after_close_and_double_close(self):
        client = aadtoken.Client(MOCK.settings())
        token = client.get_token()
        client.close()
        client.close()
        self.assertTrue(client.closed)
        for call in (client.get_token, client.refresh_token, client.oracledb_access_token()):
            with self.assertRaises(ValueError):
                call()
        self.assertTrue(token.token.startswith("eyJ"), "tokens outlive their client")
        with aadtoken.Client(MOCK.settings()) as c2:
            pass
        self.assertTrue(c2.closed)

    def test_shutdown_then_use_again(self):
        scope = MOCK.new_scope("py-shutdown")
        with aadtoken.Client(MOCK.settings(scope=scope)) as client:
            first = client.get_token()
            aadtoken.shutdown()
            aadtoken.shutdown()  # again: nothing to do
            self.assertEqual(client.get_token().token, first.token, "the cache survives")
            self.assertNotEqual(client.refresh_token().token, first.token, "the network works again")

    def test_close_waits_for_calls_in_progress(self):
        scope = MOCK.new_scope("py-close")
        MOCK.control("POST", "/_mock/config", {"latency_ms": 300})
        try:
            client = aadtoken.Client(MOCK.settings(scope=scope))
            result = []
            t = threading.Thread(target=lambda: result.append(client.get_token()))
            t.start()
            deadline = time.monotonic() + 10
            while client._in_use == 0 and time.monotonic() < deadline:
                time.sleep(0.005)
            self.assertEqual(client._in_use, 1, "the call is in flight")
            client.close()  # waits for the request in flight
            t.join()
        finally:
            MOCK.control("POST", "/_mock/config", {"latency_ms": 0})
        self.assertEqual(len(result), 1)
        self.assertTrue(result[0].token.startswith("eyJ"))


if __name__ == "__main__":
    unittest.main()
