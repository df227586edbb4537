"""Person sign-in from Python: the device code flow with a Python prompt callback that approves
the code through the mock's control route, silent refresh for another scope, an explicit
sign_in() and sign_out(), and the statuses of a declined code and of a missing callback."""

import unittest

from tests.mock import OTHER_SCOPE, SCOPE, TENANT_ID, Mock, require_built

require_built()
import aadtoken  # noqa: E402

PUBLIC_CLIENT_ID = "88888888-8888-8888-8888-888888888888"
USER = "dba@contoso.onmicrosoft.com"
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


if __name__ == "__main__":
    unittest.main()
