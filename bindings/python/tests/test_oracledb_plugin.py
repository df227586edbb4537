"""The python-oracledb plugin (``import aadtoken.oracledb_plugin``) with the real `oracledb`
package (thin mode): the params hook it registers runs inside oracledb.connect() and
create_pool() for ``extra_auth_params={"auth_type": "aadtoken", ...}``, sets ``access_token`` to
an aadtoken callable, and shares one client per distinct settings.

There is no database here. python-oracledb's thin mode calls the ``access_token`` callable only
during logon, after the TCP, TLS and TNS exchanges, so against a closed port no token is asked for:
the driver's part is shown by the hook's effects (its client, its errors) and the callable it set
is exercised on a real ``oracledb.ConnectParams``.
"""

import os
import tempfile
import unittest

from tests.mock import SharedMock, require_built

require_built()
import aadtoken  # noqa: E402

from tests.driver import closed_port, dpy_code, oracledb  # noqa: E402
import aadtoken.oracledb_plugin as plugin  # noqa: E402  (registers the hook)

MOCK = SharedMock()
setUpModule, tearDownModule = MOCK.start, MOCK.stop


def closed_dsn():
    return f"tcps://127.0.0.1:{closed_port()}/freepdb1"


class RecordingParams(oracledb.ConnectParams):
    """A real ConnectParams that also remembers what was set on it."""

    def set(self, **kwargs):
        self.recorded = kwargs
        super().set(**kwargs)


class PluginTests(unittest.TestCase):
    def extra(self, **overrides):
        return {"auth_type": "AadToken", **MOCK.settings(**overrides)}

    def test_the_hook_sets_an_aadtoken_access_token(self):
        scope = MOCK.new_scope("py-plugin-hook")
        params = RecordingParams(extra_auth_params=self.extra(scope=scope))
        plugin.params_hook(params)  # as python-oracledb calls it; set() checks the value's type
        access_token = params.recorded["access_token"]
        self.assertTrue(callable(access_token))
        before = MOCK.token_requests()
        first = access_token(False)
        self.assertTrue(first.startswith("eyJ"))
        self.assertEqual(access_token(False), first, "refresh=False is served from the cache")
        self.assertEqual(MOCK.token_requests() - before, 1)
        self.assertNotEqual(access_token(True), first, "refresh=True asks Entra ID again")
        self.assertEqual(MOCK.token_requests() - before, 2)
        log = MOCK.control("GET", "/_mock/requests")
        self.assertEqual([f[1] for f in log[-1]["form"] if f[0] == "scope"], [scope])

    def test_other_auth_types_are_left_alone(self):
        for extra in (None, {}, {"auth_type": "AzureServicePrincipal"}):
            params = RecordingParams(extra_auth_params=extra)
            plugin.params_hook(params)
            self.assertFalse(hasattr(params, "recorded"), extra)

    def test_connect_runs_the_hook_then_fails_to_connect(self):
        scope = MOCK.new_scope("py-plugin-connect")
        settings = MOCK.settings(scope=scope)
        digest = plugin._digest(settings)
        self.assertNotIn(digest, plugin._clients)
        with self.assertRaises(oracledb.Error) as cm:
            oracledb.connect(dsn=closed_dsn(), extra_auth_params=self.extra(scope=scope),
                             retry_count=0, tcp_connect_timeout=5)
        self.assertEqual(dpy_code(cm.exception), "DPY-6005", cm.exception)
        self.assertIsInstance(cm.exception.__cause__, ConnectionRefusedError)
        # The driver ran the hook with these settings: their client now exists, and is the one
        # every later connection and pool with the same settings gets.
        client = plugin._clients[digest]
        self.assertIs(plugin.client_for(settings), client)
        before = MOCK.token_requests()
        self.assertTrue(client.get_token().token.startswith("eyJ"))
        self.assertEqual(MOCK.token_requests() - before, 1)

    def test_the_hook_errors_surface_from_connect(self):
        # Proof that the driver runs the hook inside connect(), before any network I/O: a bad
        # setting in extra_auth_params is DPY-2061 ("registered handler for params hook failed")
        # caused by aadtoken's error naming the setting.
        for extra, status, named in (
                ({**self.extra(), "no_such_setting": "x"}, aadtoken.ERR_UNKNOWN_SETTING, "no_such_setting"),
                (self.extra(client_secret=None), aadtoken.ERR_MISSING_SETTING, "client_secret")):
            with self.subTest(named=named):
                with self.assertRaises(oracledb.ProgrammingError) as cm:
                    oracledb.connect(dsn=closed_dsn(), extra_auth_params=extra)
                self.assertEqual(dpy_code(cm.exception), "DPY-2061", cm.exception)
                cause = cm.exception.__cause__
                self.assertIsInstance(cause, aadtoken.AadTokenError)
                self.assertEqual(cause.status, status)
                self.assertIn(named, cause.message)

    def test_create_pool_shares_the_client(self):
        scope = MOCK.new_scope("py-plugin-pool")
        extra = self.extra(scope=scope)
        pools = [oracledb.create_pool(dsn=closed_dsn(), homogeneous=True, extra_auth_params=extra,
                                      min=0, max=2, increment=1, retry_count=0,
                                      tcp_connect_timeout=5) for _ in range(2)]
        try:
            digest = plugin._digest(MOCK.settings(scope=scope))
            self.assertIn(digest, plugin._clients)
            for pool in pools:
                with self.assertRaises(oracledb.Error) as cm:
                    pool.acquire()
                self.assertEqual(dpy_code(cm.exception), "DPY-6005", cm.exception)
        finally:
            for pool in pools:
                pool.close(force=True)
        # Two pools and the same settings written in another order and case: one client.
        reordered = {k.upper(): v for k, v in reversed(list(MOCK.settings(scope=scope).items()))}
        self.assertIs(plugin.client_for(reordered), plugin._clients[digest])

    def test_person_sign_in_never_prompts_on_the_drivers_thread(self):
        # auth_method=device_code in extra_auth_params: the plugin's client has no prompt, and
        # the driver calls the callable while it opens a connection. Before anyone signed in it
        # fails at once (no device code asked for); once the host signed in on its own thread
        # into the same cache_file (as `aadtoken login` does), it answers silently.
        with tempfile.TemporaryDirectory(prefix="aadtoken-py-plugin-") as d:
            person = MOCK.person_settings(os.path.join(d, "accounts.json"),
                                          scope=MOCK.new_scope("py-plugin-person"))
            params = RecordingParams(extra_auth_params={"auth_type": "aadtoken", **person})
            plugin.params_hook(params)
            access_token = params.recorded["access_token"]
            codes = MOCK.device_codes_issued()
            for refresh in (False, True):
                with self.subTest(refresh=refresh):
                    with self.assertRaises(aadtoken.AadTokenError) as cm:
                        access_token(refresh)
                    self.assertEqual(cm.exception.status, aadtoken.ERR_INTERACTION_REQUIRED, cm.exception)
            self.assertEqual(MOCK.device_codes_issued(), codes, "no device code asked for")

            shown = []
            with aadtoken.Client(person, device_code_callback=MOCK.approve_device_codes(shown)) as host:
                signed_in = host.sign_in().token
            self.assertEqual(access_token(False), signed_in, "the host's sign-in, from the cache")
            self.assertNotEqual(access_token(True), signed_in, "refreshed through the refresh token")
            self.assertEqual(len(shown), 1)
            self.assertEqual(MOCK.device_codes_issued(), codes + 1, "only the host's sign-in")

    def test_the_cache_is_bounded(self):
        first = plugin.client_for(MOCK.settings(scope=MOCK.new_scope("py-plugin-bound")))
        for i in range(plugin.MAX_CLIENTS):
            plugin.client_for(MOCK.settings(scope=f"api://bound-{i}/.default"))
        self.assertLessEqual(len(plugin._clients), plugin.MAX_CLIENTS)
        self.assertNotIn(first, plugin._clients.values(), "the least recently used went first")
        self.assertTrue(first.get_token().token.startswith("eyJ"), "and still works for its users")


if __name__ == "__main__":
    unittest.main()
