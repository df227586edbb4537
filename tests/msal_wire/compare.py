"""Wire check against Microsoft's MSAL Python: for every grant both support, MSAL and aadtoken
send their requests to the same mock (target/debug/aadtoken-mock, which records every request),
and this script compares what each sent: method, path, query, form field names and their fixed
values, and the headers that Entra ID and the managed-identity endpoints read.

Every difference must be listed in KNOWN with its reason, and the README's table
("### Requests compared with MSAL") must be the one `--table` prints. A new difference, a listed
one that is gone, or a stale README table fails the check.

    python3 tests/msal_wire/compare.py            # the check (scripts/test.sh runs it)
    python3 tests/msal_wire/compare.py --table    # the README table
    python3 tests/msal_wire/compare.py --show     # every request of both sides, normalised

Needs: `pip install msal==1.39.0` (.ci/run installs it), the built library and mock
(`cargo build --workspace`), and root for Azure Arc (both clients read the challenge's key file
only from /var/opt/azcmagent/tokens). Mock fixture values below are not real credentials.
"""

import base64
import datetime
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from urllib.parse import parse_qsl, urlsplit

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
if not os.path.isabs(TARGET):
    TARGET = os.path.join(REPO, TARGET)
os.environ.setdefault("AADTOKEN_LIB", os.path.join(TARGET, "debug", "libaadtoken.so"))
MOCK_BIN = os.environ.get("AADTOKEN_MOCK") or os.path.join(TARGET, "debug", "aadtoken-mock")
for path in (os.environ["AADTOKEN_LIB"], MOCK_BIN):
    if not os.path.exists(path):
        sys.exit(f"{path} not found: run `cargo build --workspace` first (scripts/test.sh does)")
try:
    import msal  # noqa: E402
    import requests  # noqa: E402
except ImportError:
    sys.exit("MSAL Python is missing: python3 -m pip install msal==1.39.0 (.ci/run does)")
# MSAL recommends response_mode=form_post when a flow leaves it out; not this check's concern.
warnings.filterwarnings("ignore", category=UserWarning, module="msal")
MSAL_VERSION = "1.39.0"
if msal.__version__ != MSAL_VERSION:
    sys.exit(f"msal {msal.__version__} installed; this check is pinned to {MSAL_VERSION}: "
             f"python3 -m pip install msal=={MSAL_VERSION}")
sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
import aadtoken  # noqa: E402
from tests.mock import Mock as BindingTestMock  # noqa: E402

TENANT_ID = "11111111-1111-1111-1111-111111111111"
CLIENT_ID = "22222222-2222-2222-2222-222222222222"
CLIENT_SECRET = "mock-secret-Value~0123456789"
PUBLIC_CLIENT_ID = "88888888-8888-8888-8888-888888888888"
USER, PASSWORD = "dba@contoso.onmicrosoft.com", "mock-Passw0rd!"
SCOPE, OTHER_SCOPE = "api://oracle-db/.default", "https://oracle.example.com/db/.default"
RESOURCE = "api://oracle-db"
ARC_KEY_DIR = "/var/opt/azcmagent/tokens"

# Values that differ by nature from one request to the next: compared as present or absent.
VARIABLE = {
    "client_assertion", "client_secret", "code", "code_challenge", "code_verifier", "device_code",
    "nonce", "password", "redirect_uri", "refresh_token", "state", "client-request-id",
    "x-ms-client-request-id", "secret", "x-identity-header", "x-client-sku", "x-client-ver",
    "x-client-os",
}
# The headers Entra ID and the managed-identity endpoints read (telemetry ones as present/absent).
HEADERS = {
    "authorization", "content-type", "client-request-id", "return-client-request-id",
    "x-ms-lib-capability", "metadata", "secret", "x-identity-header", "x-ms-client-request-id",
    "x-client-sku", "x-client-ver", "x-client-os",
}

# (flow, what) -> why they differ. The README table is made from this.
KNOWN = {}
DISCOVERY = (
    "MSAL first reads the tenant's OpenID configuration (to check the authority and find its "
    "endpoints); aadtoken builds Entra's endpoints from the authority host and tenant, one "
    "request less (it reads the discovery document for `authority_kind=oidc`)")
ECHO = (
    "aadtoken asks every endpoint to echo its `client-request-id` (`return-client-request-id: "
    "true`), so the correlation id in an error is the one it logged; MSAL Python does not ask")
CLIENT_INFO = (
    "MSAL sends `client_info=1` with every grant, also client credentials, where no account "
    "comes back; aadtoken sends it only for person sign-in, where it reads the account from it")
for flow in ("client secret (body)", "certificate", "password", "device code",
             "authorization code + PKCE"):
    KNOWN[(flow, "requests")] = DISCOVERY
for flow in ("client secret (body)", "client secret (Basic)", "certificate", "password",
             "device code", "refresh token", "authorization code + PKCE"):
    KNOWN[(flow, "header:return-client-request-id")] = ECHO
for flow in ("client secret (body)", "certificate"):
    KNOWN[(flow, "form:client_info")] = CLIENT_INFO
KNOWN[("client secret (Basic)", "requests")] = (
    "aadtoken reads the issuer's OpenID configuration for `authority_kind=oidc` (that is how it "
    "learns the issuer takes HTTP Basic); MSAL's OAuth2 client is handed the token endpoint")
BARE = (
    "MSAL Python uses HTTP Basic only in its bare OAuth2 client (`msal.oauth2cli`), which sends "
    "no request id and no `x-client-*` headers; aadtoken sends the same headers to every endpoint")
for h in ("client-request-id", "x-client-sku", "x-client-ver", "x-client-os",
          "x-ms-lib-capability"):
    KNOWN[("client secret (Basic)", "header:" + h)] = BARE
KNOWN[("password", "form:scope")] = (
    "MSAL adds `openid profile offline_access` to build an account and keep a refresh token; "
    "aadtoken's password grant (legacy ROPC) keeps neither: each token is a new password grant, "
    "so it asks for the resource's scope only")
KNOWN[("password", "form:client_info")] = KNOWN[("password", "form:scope")]
KNOWN[("device code", "form:code")] = (
    "MSAL Python repeats the device code as `code` (for Entra's v1 endpoint); RFC 8628 and the "
    "v2.0 endpoint read `device_code`, which both send")
KNOWN[("device code", "form:scope")] = (
    "aadtoken repeats the scope when redeeming the device code (MSAL does not; RFC 8628 §3.4 "
    "does not ask for it, and Entra takes the scope of the device code request either way)")
KNOWN[("authorization code + PKCE", "query:response_mode")] = (
    "aadtoken names `response_mode=query`, Entra's default for `response_type=code` (the same "
    "answer); MSAL Python leaves it out")
MI_ID = (
    "aadtoken sends `client-request-id` (and `return-client-request-id`) to every endpoint, to "
    "correlate its log with the endpoint's; MSAL Python sends none to this one")
MI_SKU = (
    "aadtoken identifies itself (`x-client-SKU`, `-Ver`, `-OS`) and declares it honours "
    "`Retry-After` (`x-ms-lib-capability`) to every endpoint, as it does to Entra; MSAL Python "
    "sends these only to Entra (and `-SKU`, `-Ver` to IMDS)")
for source in ("IMDS", "App Service", "App Service 2017 / Azure ML", "Azure Arc",
               "Service Fabric"):
    KNOWN[(source, "header:client-request-id")] = MI_ID
    KNOWN[(source, "header:return-client-request-id")] = ECHO
    for h in ("x-client-sku", "x-client-ver", "x-client-os", "x-ms-lib-capability"):
        KNOWN[(source, "header:" + h)] = MI_SKU
del KNOWN[("IMDS", "header:x-client-sku")], KNOWN[("IMDS", "header:x-client-ver")]
KNOWN[("IMDS", "header:x-ms-client-request-id")] = (
    "MSAL Python sends its request id to IMDS as `x-ms-client-request-id`; aadtoken sends "
    "`client-request-id` to every endpoint. IMDS reads neither")
KNOWN[("App Service", "header:metadata")] = (
    "MSAL Python also sends `Metadata: true` to App Service (harmless there; Azure Automation "
    "needs it); aadtoken sends what App Service's protocol asks for, `X-IDENTITY-HEADER`")
NOT_COMPARED = [
    ("App Service 2017 / Azure ML", "the answer only: MSAL Python's Azure ML source (the same "
     "variables and request) reads `expires_on` as epoch seconds, App Service 2017 answers a date "
     "(`M/d/yyyy h:mm:ss AM +00:00`), which aadtoken reads; the requests are compared"),
    ("Cloud Shell", "MSAL Python's `ManagedIdentityClient` has no Cloud Shell source (MSAL "
     "documents `acquire_token_interactive(prompt=\"none\")` there); aadtoken's request (POST "
     "`resource` with `Metadata: true`) is checked against the mock only"),
    ("client assertion JWT", "the mock's log redacts `client_assertion`; its header and claims "
     "(PS256 with `x5t#S256`, `aud` = token endpoint, `iss` = `sub` = client id, `jti`, `nbf`, "
     "`exp`) are checked by tests/api/credentials.rs, as MSAL 1.39 builds them"),
]


class Mock(BindingTestMock):
    """One aadtoken-mock process (as the Python binding's tests start it): the Entra ID mock, and
    with `source` its managed-identity endpoints as that source (the variables that point a
    client at them in `self.env`)."""

    def __init__(self, source=None):
        env_dir = tempfile.mkdtemp(prefix="aadtoken-msal-wire-")
        env_file = os.path.join(env_dir, "mi.env")
        extra = []
        if source:
            extra = ["--managed-identity", source, "--mi-env-file", env_file]
            if source == "arc":
                extra += ["--arc-key-dir", ARC_KEY_DIR]
        super().__init__(extra_args=extra)
        deadline = time.monotonic() + 30
        while source and not (os.path.exists(env_file) and os.path.getsize(env_file) > 0):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the mock wrote no {env_file}")
            time.sleep(0.05)
        self.env = {}
        if source:
            with open(env_file) as f:
                self.env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        shutil.rmtree(env_dir, ignore_errors=True)
        self.mi_url = self.env.pop("AADTOKEN_MOCK_MI_URL", None)
        # requests (and so MSAL) takes REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE over a session's
        # `verify`: point them at this mock's CA while it runs.
        os.environ.pop("CURL_CA_BUNDLE", None)
        os.environ["REQUESTS_CA_BUNDLE"] = self.ca_file
        self.http = requests.Session()
        self.control("POST", "/_mock/devicecode", {"interval": 1, "expires_in": 120})

    def entra_requests(self):
        log = self.control("GET", "/_mock/requests")
        self.control("DELETE", "/_mock/requests")
        return log

    def mi_requests(self):
        log = requests.get(self.mi_url + "/_mock/requests", timeout=10).json()
        requests.post(self.mi_url + "/_mock/clear_requests", timeout=10)
        return log

    def authority(self):
        return f"{self.base_url}/{TENANT_ID}"

    def settings(self, **extra):
        s = {"authority_host": self.base_url, "ca_file": self.ca_file, "tenant_id": TENANT_ID,
             "scope": SCOPE}
        s.update(extra)
        return s


def normalise(entry, route=None):
    """What is compared of one recorded request: {aspect: value}."""
    out = {"method": entry["method"], "path": entry["path"]}
    query = entry.get("query") or []
    if isinstance(query, str):
        query = parse_qsl(query, keep_blank_values=True)
    def value(k, v):
        if k in VARIABLE:
            return "<present>"
        return " ".join(sorted(v.split())) if k == "scope" else v  # a set, in any order

    for k, v in query:
        out["query:" + k] = value(k, v)
    for k, v in entry.get("form") or []:
        out["form:" + k] = value(k, v)
    if route == "authorize":  # the browser's request: only its URL is the library's
        return out
    for k, v in entry.get("headers") or []:
        k = k.lower()
        if k not in HEADERS:
            continue
        if k == "authorization":
            v = v.split(" ")[0]  # the scheme; the mock logs the value as <redacted>
        elif k == "content-type":
            v = v.split(";")[0].strip()
        elif k in VARIABLE:
            v = "<present>"
        out["header:" + k] = v
    return out


def compare(flow, msal_log, ours_log, routes=("token", "devicecode", "authorize")):
    """The differences of one flow: [(flow, what, msal, aadtoken)]."""
    diffs = []

    def pick(log):
        if log and "route" not in log[0]:  # managed identity: every request counts
            return [(e.get("source", "mi"), e) for e in log if e.get("status") != 401 or True]
        return [(e["route"], e) for e in log]

    mine, theirs = pick(ours_log), pick(msal_log)
    seq = lambda side: " ".join(r for r, _ in side)  # noqa: E731
    if seq(mine) != seq(theirs):
        diffs.append((flow, "requests", seq(theirs), seq(mine)))
    for route in dict.fromkeys(r for r, _ in theirs + mine):
        if route not in routes and not route.startswith(("imds", "app_", "arc", "service")):
            continue
        a = [normalise(e, route) for r, e in theirs if r == route]
        b = [normalise(e, route) for r, e in mine if r == route]
        for x, y in zip(a, b):
            for key in sorted(set(x) | set(y)):
                if x.get(key) != y.get(key):
                    diffs.append((flow, key, x.get(key, "—"), y.get(key, "—")))
    return diffs


def show(flow, msal_log, ours_log):
    print(f"\n## {flow}")
    for side, log in (("MSAL", msal_log), ("aadtoken", ours_log)):
        for e in log:
            print(f"  {side:8} {e.get('route', e.get('source'))}: "
                  f"{json.dumps(normalise(e, e.get('route')), sort_keys=True)}")


# ---- the flows --------------------------------------------------------------------------------

def msal_confidential(mock, credential):
    return msal.ConfidentialClientApplication(
        CLIENT_ID, client_credential=credential, authority=mock.authority(),
        instance_discovery=False, verify=mock.ca_file)


def msal_public(mock):
    return msal.PublicClientApplication(
        PUBLIC_CLIENT_ID, authority=mock.authority(), instance_discovery=False,
        verify=mock.ca_file)


def ok(result, who):
    if "access_token" not in result:
        raise AssertionError(f"{who}: {result.get('error')}: {result.get('error_description')}")
    return result


def flow_secret_body(mock):
    ok(msal_confidential(mock, CLIENT_SECRET).acquire_token_for_client([SCOPE]), "MSAL")
    theirs = mock.entra_requests()
    with aadtoken.Client(mock.settings(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)) as c:
        c.refresh_token()
    return theirs, mock.entra_requests()


def flow_secret_basic(mock):
    from msal.oauth2cli.oauth2 import Client as OAuth2Client
    http = requests.Session()
    client = OAuth2Client({"token_endpoint": mock.authority() + "/oauth2/v2.0/token"}, CLIENT_ID,
                          client_secret=CLIENT_SECRET, http_client=http)
    ok(client.obtain_token_for_client(scope=[SCOPE]), "MSAL")
    theirs = mock.entra_requests()
    s = mock.settings(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, authority_kind="oidc",
                      authority=mock.authority() + "/v2.0")
    del s["tenant_id"]
    with aadtoken.Client(s) as c:
        c.refresh_token()
    return theirs, mock.entra_requests()


def test_certificate():
    """A self-signed certificate and its key (PEM), with the `cryptography` MSAL depends on."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msal-wire")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def flow_certificate(mock):
    # The certificate is not registered: both are refused (AADSTS700027), which is enough to
    # compare the requests.
    key_pem, cert_pem = test_certificate()
    app = msal_confidential(mock, {"private_key": key_pem, "public_certificate": cert_pem})
    result = app.acquire_token_for_client([SCOPE])
    assert result.get("error") == "invalid_client", result
    theirs = mock.entra_requests()
    path = os.path.join(mock.dir, "app.pem")
    with open(path, "w") as f:
        f.write(cert_pem + key_pem)
    with aadtoken.Client(mock.settings(client_id=CLIENT_ID, certificate_path=path)) as c:
        try:
            c.refresh_token()
            raise AssertionError("aadtoken: an unregistered certificate was accepted")
        except aadtoken.AadTokenError as e:
            assert 700027 in e.aadsts_codes, e
    return theirs, mock.entra_requests()


def flow_password(mock):
    # MSAL asks the user realm endpoint first, on port 443 of the authority's host (not the
    # mock's port): mark the host as one without it, as MSAL itself does after a 404.
    msal.authority.Authority._domains_without_user_realm_discovery.add("127.0.0.1")
    ok(msal_public(mock).acquire_token_by_username_password(USER, PASSWORD, [SCOPE]), "MSAL")
    theirs = mock.entra_requests()
    with aadtoken.Client(mock.settings(client_id=PUBLIC_CLIENT_ID, auth_method="password",
                                       username=USER, password=PASSWORD)) as c:
        c.refresh_token()
    return theirs, mock.entra_requests()


def approve(mock, user_code):
    mock.control("POST", "/_mock/devicecode/approve", {"user_code": user_code, "user": USER})


def flows_device_code_and_refresh(mock):
    """Device code, then the refresh token grant for another scope: two flows."""
    app = msal_public(mock)
    flow = app.initiate_device_flow(scopes=[SCOPE])
    approve(mock, flow["user_code"])
    first = ok(app.acquire_token_by_device_flow(flow), "MSAL")
    theirs_dc = mock.entra_requests()
    ok(app.acquire_token_by_refresh_token(first["refresh_token"], [OTHER_SCOPE]), "MSAL")
    theirs_rt = mock.entra_requests()

    def prompt(message, user_code, uri, expires_on):
        approve(mock, user_code)

    s = mock.settings(client_id=PUBLIC_CLIENT_ID, auth_method="device_code", login_hint=USER)
    with aadtoken.Client(s, device_code_callback=prompt) as c:
        c.get_token()
        ours_dc = mock.entra_requests()
        c.get_token(OTHER_SCOPE)
        ours_rt = mock.entra_requests()
    return (theirs_dc, ours_dc), (theirs_rt, ours_rt)


def browse(mock, url):
    """The person's browser: the authorize page answers a redirect to the loopback listener."""
    r = mock.http.get(url, allow_redirects=False, timeout=10)
    return r.headers["location"]


def flow_auth_code(mock):
    app = msal_public(mock)
    flow = app.initiate_auth_code_flow([SCOPE], redirect_uri="http://localhost:8400")
    location = browse(mock, flow["auth_uri"])
    ok(app.acquire_token_by_auth_code_flow(flow, dict(parse_qsl(urlsplit(location).query))),
       "MSAL")
    theirs = mock.entra_requests()

    def open_url(url):
        # Not on the library's thread: the loopback listener answers while this runs.
        threading.Thread(target=lambda: requests.get(browse(mock, url), timeout=10)).start()

    s = mock.settings(client_id=PUBLIC_CLIENT_ID, auth_method="interactive")
    with aadtoken.Client(s, open_url=open_url) as c:
        c.sign_in()  # a sign-in, whatever the process-wide cache holds
    return theirs, mock.entra_requests()


MI_SOURCES = [
    ("IMDS", "imds"),
    ("App Service", "app-service"),
    ("App Service 2017 / Azure ML", "app-service-2017"),
    ("Azure Arc", "arc"),
    ("Service Fabric", "service-fabric"),
]
MI_VARS = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT",
           "MSI_ENDPOINT", "MSI_SECRET", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
           "MSAL_MANAGED_IDENTITY_ENDPOINT", "AZUREPS_HOST_ENVIRONMENT")


def flow_managed_identity(mock):
    for var in MI_VARS:
        os.environ.pop(var, None)
    os.environ.update(mock.env)
    try:
        client = msal.ManagedIdentityClient(msal.SystemAssignedManagedIdentity(),
                                            http_client=requests.Session())
        try:
            ok(client.acquire_token_for_client(resource=RESOURCE), "MSAL")
        except ValueError:
            # MSAL's Azure ML source reads `expires_on` as epoch seconds; the mock answers as App
            # Service 2017 does (a date). The request, which is what is compared, was sent.
            if "MSI_SECRET" not in mock.env:
                raise
        theirs = mock.mi_requests()
        with aadtoken.Client({"auth_method": "managed_identity", "scope": SCOPE}, env=True) as c:
            c.refresh_token()
        return theirs, mock.mi_requests()
    finally:
        for var in MI_VARS:
            os.environ.pop(var, None)


def run(show_all=False):
    diffs = []
    mock = Mock()
    try:
        pairs = [
            ("client secret (body)", flow_secret_body(mock)),
            ("client secret (Basic)", flow_secret_basic(mock)),
            ("certificate", flow_certificate(mock)),
            ("password", flow_password(mock)),
        ]
        dc, rt = flows_device_code_and_refresh(mock)
        pairs += [("device code", dc), ("refresh token", rt),
                  ("authorization code + PKCE", flow_auth_code(mock))]
    finally:
        mock.stop()
    if os.path.isdir(ARC_KEY_DIR) or os.geteuid() == 0:
        os.makedirs(ARC_KEY_DIR, exist_ok=True)
    else:
        sys.exit(f"Azure Arc needs {ARC_KEY_DIR} (both clients read key files only there): "
                 "run as root, or create it writable for this user")
    keys_before = set(os.listdir(ARC_KEY_DIR))
    for name, source in MI_SOURCES:
        mock = Mock(source)
        try:
            pairs.append((name, flow_managed_identity(mock)))
        finally:
            mock.stop()
    for key in set(os.listdir(ARC_KEY_DIR)) - keys_before:  # the Arc challenges' key files
        os.remove(os.path.join(ARC_KEY_DIR, key))
    for flow, (theirs, ours) in pairs:
        if show_all:
            show(flow, theirs, ours)
        diffs += compare(flow, theirs, ours)
    return diffs


def table():
    """The README table: one row per reason, with the flows and the parts of the request."""
    groups = {}
    for (flow, what), why in KNOWN.items():
        flows, whats = groups.setdefault(why, ({}, {}))
        flows[flow] = None
        whats[what] = None
    rows = ["| flows | what differs | why |", "|---|---|---|"]
    for why, (flows, whats) in groups.items():
        rows.append(f"| {', '.join(flows)} | {', '.join(f'`{w}`' for w in whats)} | {why} |")
    for flow, why in NOT_COMPARED:
        rows.append(f"| {flow} | not compared | {why} |")
    return "\n".join(rows)


def main():
    if "--table" in sys.argv:
        print(table())
        return
    diffs = run(show_all="--show" in sys.argv)
    found = {(f, w) for f, w, _, _ in diffs}
    unexplained = [d for d in diffs if (d[0], d[1]) not in KNOWN]
    gone = [k for k in KNOWN if k not in found]
    for flow, what, theirs, ours in diffs:
        if (flow, what) not in KNOWN or "--show" in sys.argv:
            mark = " " if (flow, what) in KNOWN else "!"
            print(f"{mark} {flow}: {what}: MSAL {theirs!r}, aadtoken {ours!r}")
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    problems = []
    if unexplained:
        problems.append(f"{len(unexplained)} difference(s) marked '!' are not in KNOWN "
                        "(fix aadtoken, or list them with their reason)")
    if gone:
        problems.append("listed in KNOWN but no longer different (remove them): " +
                        ", ".join(f"{f}: {w}" for f, w in gone))
    if table() not in readme:
        problems.append("README.md's table under '### Requests compared with MSAL' is not the "
                        "one `python3 tests/msal_wire/compare.py --table` prints")
    if problems:
        sys.exit("msal wire check failed:\n- " + "\n- ".join(problems))
    print(f"msal wire check: {len(diffs)} known difference(s), each explained in README.md "
          f"(MSAL Python {msal.__version__})")


if __name__ == "__main__":
    main()
