"""Start the bundled mock Entra ID server (target/debug/aadtoken-mock) for the Python tests, and
talk to its control API (GET /_mock/counters, POST /_mock/config, ...) over HTTPS, trusting the
CA it generates. Mock fixture values below are not real credentials."""

import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
if not os.path.isabs(TARGET):
    TARGET = os.path.join(REPO, TARGET)

# The library under test: AADTOKEN_LIB, else the in-tree debug build (set before aadtoken
# loads it).
os.environ.setdefault("AADTOKEN_LIB", os.path.join(TARGET, "debug", "libaadtoken.so"))

# The mock's fixture app (mock/README.md).
TENANT_ID = "11111111-1111-1111-1111-111111111111"
CLIENT_ID = "22222222-2222-2222-2222-222222222222"
CLIENT_SECRET = "mock-secret-Value~0123456789"
SCOPE = "api://oracle-db/.default"
OTHER_SCOPE = "https://oracle.example.com/db/.default"
# The mock's public client (person sign-in) and its fixture user.
PUBLIC_CLIENT_ID = "88888888-8888-8888-8888-888888888888"
USER = "dba@contoso.onmicrosoft.com"


class Mock:
    """One mock server process on 127.0.0.1 with its own CA."""

    def __init__(self, extra_args=()):
        binary = os.environ.get("AADTOKEN_MOCK") or os.path.join(TARGET, "debug", "aadtoken-mock")
        if not os.path.exists(binary):
            require_built()
        self.dir = tempfile.mkdtemp(prefix="aadtoken-py-")
        self.ca_file = os.path.join(self.dir, "ca.pem")
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "mock.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--ca-out", self.ca_file, "--port-file", port_file,
             *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not (os.path.exists(port_file) and os.path.getsize(port_file) > 0):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                self.stop()
                raise RuntimeError("the mock did not start:\n" + self.log.read())
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read().strip())
        self.base_url = f"https://127.0.0.1:{self.port}"
        self._ssl = ssl.create_default_context(cafile=self.ca_file)

    def settings(self, **overrides):
        """The fixture app's settings as a dict, pointed at this mock."""
        s = {"tenant_id": TENANT_ID, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
             "authority_host": self.base_url, "ca_file": self.ca_file, "scope": SCOPE}
        for k, v in overrides.items():
            if v is None:
                s.pop(k, None)
            else:
                s[k] = v
        return s

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self._ssl, timeout=10) as r:
            text = r.read().decode()
        return json.loads(text) if text.strip().startswith(("{", "[")) else text

    def person_settings(self, cache_file, **overrides):
        """Settings of the public client signing a person in with a device code, keeping the
        account in ``cache_file`` (a path in a private directory: a store of its own)."""
        return self.settings(client_id=PUBLIC_CLIENT_ID, client_secret=None, auth_method="device_code",
                             cache_file=cache_file, **overrides)

    def approve_device_codes(self, shown):
        """A device-code callback approving each code as USER, appending it to ``shown``; the
        mock polls every second."""
        self.control("POST", "/_mock/devicecode", {"interval": 1, "expires_in": 60})

        def prompt(message, user_code, uri, expires_on):
            shown.append(user_code)
            self.control("POST", "/_mock/devicecode/approve", {"user_code": user_code, "user": USER})

        return prompt

    def device_codes_issued(self):
        return self.control("GET", "/_mock/counters")["requests_by_route"].get("devicecode", 0)

    def token_requests(self):
        return self.control("GET", "/_mock/counters")["token_requests"]

    def new_scope(self, name):
        """Register a new resource, so the process-wide cache is cold for its scope."""
        uri = f"api://{name}-{time.monotonic_ns()}"
        self.control("POST", "/_mock/resources", {"app_id_uri": uri})
        return uri + "/.default"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SharedMock:
    """One mock for a whole test module, started by its ``setUpModule`` and stopped by its
    ``tearDownModule``; attributes are the running :class:`Mock`'s::

        MOCK = SharedMock()
        setUpModule, tearDownModule = MOCK.start, MOCK.stop
    """

    def __init__(self):
        self._mock = None

    def start(self):
        self._mock = Mock()

    def stop(self):
        self._mock.stop()

    def __getattr__(self, name):
        return getattr(self._mock, name)


def require_built():
    """Fail (not skip) with a hint when the library or the mock has not been built."""
    for path in (os.environ["AADTOKEN_LIB"],
                 os.environ.get("AADTOKEN_MOCK") or os.path.join(TARGET, "debug", "aadtoken-mock")):
        if not os.path.exists(path):
            raise AssertionError(f"{path} not found: run `cargo build --workspace` first "
                                 "(scripts/test.sh does)")
