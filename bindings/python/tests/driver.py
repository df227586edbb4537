"""The real python-oracledb for the tests that drive it (thin mode), and what they share: a
closed local port to connect to, and the DPY-nnnn code of its errors."""

import socket

try:
    import oracledb  # noqa: F401  (re-exported for the test modules)
except ImportError:  # fail, do not skip: .ci/run installs it
    raise AssertionError("the `oracledb` package is required by these tests: pip install oracledb")


def closed_port():
    """A local port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def dpy_code(exc):
    """The ``DPY-nnnn`` code of a python-oracledb error, or None."""
    err = exc.args[0] if exc.args else None
    return getattr(err, "full_code", None)
