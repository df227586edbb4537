"""Person sign-in from Python: the device code flow with a Python prompt callback that approves
the code through the mock's control route, silent refresh for another scope, an explicit
sign_in() and sign_out(), the statuses of a declined code and of a missing callback, and the
driver's token callable that never waits for a person."""

import os
import shutil
import tempfile
import time
import unittest

from tests.mock import OTHER_SCOPE, PUBLIC_CLIENT_ID, SCOPE, TENANT_ID, USER, Mock, require_built

require_built()
import aadtoken  # noqa: E402

MOCK = None


def setUpModule():
    global MOCK
    MOCK = Mock()
    MOCK.control("POST", "/_mock/devicecode", {"interval": 1, "expires_in": 60})


def tearDownModule():
    MOCK.stop()


def settings():
    return {"tenant_id": TENANT_ID, "client_id": PUBLIC_CLIENT_ID, "authority_host": MOCK.base_url,
            "ca_file": MOCK.ca_file, "scope": SCOPE, "auth_method": "device_code",
            "login_hint": USER}


class DeviceCodeTests(unittest.TestCase):
    def test_sign_in_through_the_prompt_then_silent(self):
        shown = []

        def prompt(message, user_code, uri, expires_on):
            shown.append((message, user_code, uri, expires_on))
            MOCK.control("POST", "/_mock/devicecode/approve", {"user_code": user_code, "user": USER})

        with aadtoken.Client(settings(), device_code_callback=prompt) as client:
            token = client.get_token()
            self.assertEqual(token.claims().upn, USER)
            self.assertEqual(len(shown), 1)
            self.assertIn(shown[0][1], shown[0][0])
            other = client.get_token(OTHER_SCOPE)
            self.assertEqual(other.claims().upn, USER)
            self.assertEqual(len(shown), 1, "silent through the refresh token")
            again = client.sign_in()
            self.assertEqual(again.claims().upn, USER)
            self.assertEqual(len(shown), 2, "sign_in always asks the person")
            client.sign_out()
            self.assertEqual(client.get_token(OTHER_SCOPE).claims().upn, USER)
            self.assertEqual(len(shown), 3, "signed out: neither the token nor the account is used")

    def test_declined_and_no_callback(self):
        def decline(message, user_code, uri, expires_on):
            MOCK.control("POST", "/_mock/devicecode/deny", {"user_code": user_code})

        s = settings()
        s["login_hint"] = "scott@contoso.onmicrosoft.com"
        with aadtoken.Client(s, device_code_callback=decline) as client:
            with self.assertRaises(aadtoken.AadTokenError) as cm:
                client.sign_in()
            self.assertEqual(cm.exception.status, 511)
            self.assertEqual(cm.exception.oauth_code, "authorization_declined")
        with aadtoken.Client(s) as client:
            with self.assertRaises(aadtoken.AadTokenError) as cm:
                client.sign_in()
            self.assertEqual(cm.exception.status, 510)


class DriverCallbackTests(unittest.TestCase):
    """python-oracledb calls ``oracledb_access_token()``'s callable on its own thread while it opens
    a connection: it (and the ``_silent`` methods it uses) never shows a device code, although
    ``automatic_sign_in`` is on and the prompt would approve at once."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aadtoken-py-silent-")
        self.shown = []
        self.settings = MOCK.person_settings(os.path.join(self.dir, "accounts.json"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_the_access_token_callable_never_prompts(self):
        with aadtoken.Client(self.settings, device_code_callback=MOCK.approve_device_codes(self.shown)) as client:
            adapter = client.oracledb_access_token()
            codes = MOCK.device_codes_issued()
            calls = {"adapter(False)": lambda: adapter(False), "adapter(True)": lambda: adapter(True),
                     "get_token_silent": client.get_token_silent,
                     "refresh_token_silent": client.refresh_token_silent}
            for name, call in calls.items():
                with self.subTest(name):
                    started = time.monotonic()
                    with self.assertRaises(aadtoken.AadTokenError) as cm:
                        call()
                    self.assertEqual(cm.exception.status, aadtoken.ERR_INTERACTION_REQUIRED, cm.exception)
                    self.assertIn("aadtoken_client_sign_in", cm.exception.message)
                    self.assertLess(time.monotonic() - started, 10, "at once (a device code lives 60 s)")
            self.assertEqual(self.shown, [], "no device code shown")
            self.assertEqual(MOCK.device_codes_issued(), codes, "none asked for")

            # The host signs in on its own thread; then the callable is silent.
            signed_in = client.sign_in().token
            self.assertEqual(adapter(False), signed_in, "refresh=False: the cached token")
            fresh = adapter(True)
            self.assertNotEqual(fresh, signed_in, "refresh=True asks Entra ID again")
            self.assertEqual(adapter(False), fresh, "and it replaced the cached token")
            self.assertEqual(client.refresh_token_silent(OTHER_SCOPE).claims().upn, USER)
            self.assertEqual(len(self.shown), 1, "only sign_in showed a device code")


if __name__ == "__main__":
    unittest.main()
