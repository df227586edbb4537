"""Claims of a token and the Oracle token file (write once, keeper) through the Python binding,
against the mock Entra ID server."""

import os
import stat
import tempfile
import time
import unittest

from tests.mock import CLIENT_ID, TENANT_ID, SharedMock, require_built

require_built()
import aadtoken  # noqa: E402

MOCK = SharedMock()
setUpModule, tearDownModule = MOCK.start, MOCK.stop


class ClaimsTests(unittest.TestCase):
    def test_claims_of_a_token(self):
        with aadtoken.Client(MOCK.settings()) as client:
            token = client.get_token()
            c = token.claims()
        self.assertEqual(c.aud, "api://oracle-db")
        self.assertEqual(c.appid, CLIENT_ID)
        self.assertEqual(c.tid, TENANT_ID)
        self.assertEqual(c.roles, ("DBA",))
        self.assertEqual(c.scp, ())
        self.assertEqual(c.upn, "")
        self.assertTrue(c.iss.endswith(f"/{TENANT_ID}/v2.0"), c.iss)
        self.assertLessEqual(abs(c.exp - token.expires_on), 5)
        self.assertLess(c.iat, c.exp)
        self.assertEqual(c.as_dict()["ver"], "2.0")
        self.assertNotIn(token.token, repr(c))


class TokenFileTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aadtoken-tokfile-")
        os.chmod(self.dir, 0o700)

    def tearDown(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def read(self, path):
        with open(path) as f:
            return f.read()

    def test_write_token_file_once(self):
        with aadtoken.Client(MOCK.settings()) as client:
            client.write_token_file(self.dir)
            path = os.path.join(self.dir, "token")
            self.assertEqual(self.read(path), client.get_token().token, "raw token, no newline")
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)

    def test_unsafe_and_missing_locations(self):
        link = os.path.join(self.dir, "link")
        os.symlink(self.dir, link)
        with aadtoken.Client(MOCK.settings()) as client:
            with self.assertRaises(aadtoken.AadTokenError) as cm:
                client.write_token_file(link)
            self.assertEqual(cm.exception.status, aadtoken.ERR_UNSAFE_PATH)
            self.assertIn("link", cm.exception.message)
            with self.assertRaises(aadtoken.AadTokenError) as cm:
                client.write_token_file(os.path.join(self.dir, "missing", "token"))
            self.assertEqual(cm.exception.status, aadtoken.ERR_FILE)

    def test_keeper(self):
        with aadtoken.Client(MOCK.settings()) as client:
            keeper = client.start_token_file_keeper(self.dir)
        # The keeper outlives the client.
        with keeper:
            self.assertEqual(keeper.path, os.path.join(self.dir, "token"))
            self.assertTrue(self.read(keeper.path).startswith("eyJ"))
            self.assertGreater(keeper.expires_on, time.time() + 3000)
            self.assertIsNone(keeper.last_error)
        self.assertTrue(keeper.stopped)
        keeper.stop()  # idempotent
        with self.assertRaises(ValueError):
            keeper.expires_on
        self.assertTrue(os.path.exists(os.path.join(self.dir, "token")), "the file stays")


if __name__ == "__main__":
    unittest.main()
