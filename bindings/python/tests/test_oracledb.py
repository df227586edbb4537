"""The python-oracledb adapter: its refresh=False / refresh=True behaviour against the mock, and
the real `oracledb` package (thin mode) accepting it in connect() and create_pool().

There is no database here, so the driver tests connect to a closed local port: they must fail
with a connection error (DPY-6005 caused by ConnectionRefusedError) — not DPY-2031 (the
parameter check rejecting a malformed access_token) nor DPY-2032 (a callable returning a
malformed value) nor DPY-2034 (thin mode refusing a token over plain TCP).
"""

import socket
import threading
import unittest

from tests.mock import SharedMock, require_built

require_built()
import aadtoken  # noqa: E402
from tests.driver import closed_port, dpy_code, oracledb  # noqa: E402

MOCK = SharedMock()
setUpModule, tearDownModule = MOCK.start, MOCK.stop


class AdapterTests(unittest.TestCase):
    def test_false_is_cached_true_asks_again(self):
        scope = MOCK.new_scope("py-adapter")
        with aadtoken.Client(MOCK.settings(scope=scope)) as client:
            adapter = client.oracledb_access_token()
            before = MOCK.token_requests()
            first = adapter(False)
            self.assertIsInstance(first, str)
            self.assertTrue(first.startswith("eyJ"))
            self.assertEqual(adapter(False), first, "refresh=False is served from the cache")
            self.assertEqual(MOCK.token_requests() - before, 1)
            fresh = adapter(True)
            self.assertNotEqual(fresh, first, "refresh=True gives a new token")
            self.assertEqual(MOCK.token_requests() - before, 2)
            self.assertEqual(adapter(False), fresh, "and it replaced the cached one")
            self.assertEqual(MOCK.token_requests() - before, 2)

    def test_explicit_scopes(self):
        scope = MOCK.new_scope("py-adapter-scopes")
        with aadtoken.Client(MOCK.settings()) as client:
            adapter = client.oracledb_access_token(scope)
            before = MOCK.token_requests()
            adapter(False)
            self.assertEqual(MOCK.token_requests() - before, 1)
            log = MOCK.control("GET", "/_mock/requests")
            self.assertEqual(
                [f[1] for f in log[-1]["form"] if f[0] == "scope"], [scope])

    def test_errors_propagate(self):
        with aadtoken.Client(MOCK.settings(client_secret="wrong")) as client:
            adapter = client.oracledb_access_token()
            for refresh in (False, True):
                with self.assertRaises(aadtoken.AadTokenError) as cm:
                    adapter(refresh)
                self.assertEqual(cm.exception.aadsts, 7000215)


class OracledbTests(unittest.TestCase):
    """The real driver (thin mode) accepts the adapter."""

    def setUp(self):
        self.client = aadtoken.Client(MOCK.settings())
        self.calls = []
        inner = self.client.oracledb_access_token()

        def adapter(refresh):
            self.calls.append(refresh)
            return inner(refresh)

        self.adapter = adapter

    def tearDown(self):
        self.client.close()

    def assert_connection_refused(self, cm):
        e = cm.exception
        self.assertIsInstance(e, oracledb.OperationalError, e)
        self.assertEqual(dpy_code(e), "DPY-6005", e)
        self.assertIsInstance(e.__cause__, ConnectionRefusedError, repr(e.__cause__))
        # The driver never asks for a token before it has a connection; if a future version
        # does, it must be with refresh=False first.
        self.assertTrue(not self.calls or self.calls[0] is False, self.calls)

    def test_parameter_check_would_catch_a_malformed_value(self):
        # The control: this is what a rejected access_token looks like (DPY-2031).
        with self.assertRaises(oracledb.ProgrammingError) as cm:
            oracledb.connect(dsn=f"tcps://127.0.0.1:{closed_port()}/db", access_token=42)
        self.assertEqual(dpy_code(cm.exception), "DPY-2031")

    def test_connect_accepts_the_adapter(self):
        with self.assertRaises(oracledb.Error) as cm:
            oracledb.connect(dsn=f"tcps://127.0.0.1:{closed_port()}/freepdb1",
                             access_token=self.adapter, retry_count=0, tcp_connect_timeout=5)
        self.assert_connection_refused(cm)

    def test_create_pool_accepts_the_adapter(self):
        pool = oracledb.create_pool(dsn=f"tcps://127.0.0.1:{closed_port()}/freepdb1",
                                    homogeneous=True, access_token=self.adapter, min=0, max=2,
                                    increment=1, retry_count=0, tcp_connect_timeout=5)
        try:
            with self.assertRaises(oracledb.Error) as cm:
                pool.acquire()
            self.assert_connection_refused(cm)
        finally:
            pool.close(force=True)

    def test_thin_mode_needs_tcps_for_tokens(self):
        # A listener that accepts and hangs up: the driver gets far enough to check the
        # protocol, and refuses to send a token over plain TCP (DPY-2034).
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(4)
        port = srv.getsockname()[1]

        def serve():
            try:
                conn, _ = srv.accept()
                conn.close()
            except OSError:
                pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        try:
            with self.assertRaises(oracledb.Error) as cm:
                oracledb.connect(dsn=f"tcp://127.0.0.1:{port}/freepdb1", access_token=self.adapter,
                                 retry_count=0, tcp_connect_timeout=5)
        finally:
            srv.close()
        self.assertEqual(dpy_code(cm.exception), "DPY-6005")
        self.assertIn("DPY-2034", str(cm.exception.__cause__))


if __name__ == "__main__":
    unittest.main()
