"""`pip install ./bindings/python` in a fresh virtual environment, then `import aadtoken` there —
with no AADTOKEN_LIB, from a directory outside the source tree — loads the library that the
install built and put inside the package, and gets a token from the mock.

    python3 bindings/python/tests/check_install.py     (scripts/test.sh runs it)

The build reuses the workspace's target directory (CARGO_TARGET_DIR, default target/) and, unless
SETUPTOOLS_RUST_CARGO_PROFILE says otherwise, its debug profile, so it relinks rather than
rebuilds. pip fetches the pinned build requirements (setuptools, setuptools-rust) from PyPI.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PACKAGE))
TARGET = os.path.abspath(os.path.join(REPO, os.environ.get("CARGO_TARGET_DIR") or "target"))

# Run inside the venv: tests/mock.py is loaded by its path (putting bindings/python on sys.path
# would import the source tree's aadtoken instead of the installed one).
CHECK = r"""
import importlib.util, os, sys, sysconfig
spec = importlib.util.spec_from_file_location("mock", sys.argv[1])
mock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mock)
os.environ.pop("AADTOKEN_LIB")  # mock.py sets it for the in-tree tests; not here
import aadtoken
site = sysconfig.get_paths()["platlib"]
assert aadtoken.__file__.startswith(site), aadtoken.__file__
lib = aadtoken._native.lib()._name
assert lib == os.path.join(site, "aadtoken", "libaadtoken.abi3.so"), lib
m = mock.Mock()
try:
    with aadtoken.Client(m.settings()) as client:
        token = client.get_token()
    assert token.token.startswith("eyJ"), token
finally:
    m.stop()
print(f"installed aadtoken {aadtoken.version()} loads {os.path.relpath(lib, site)} and got a token")
"""


def main():
    venv = os.path.join(TARGET, "py-install-venv")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    env.setdefault("SETUPTOOLS_RUST_CARGO_PROFILE", "dev")
    env.pop("AADTOKEN_LIB", None)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", PACKAGE],
                   check=True, env=env)
    for leftover in ("build", "aadtoken.egg-info"):  # setuptools builds in the source tree
        shutil.rmtree(os.path.join(PACKAGE, leftover), ignore_errors=True)
    with tempfile.TemporaryDirectory() as cwd:
        subprocess.run([python, "-c", CHECK, os.path.join(HERE, "mock.py")], check=True, cwd=cwd,
                       env=env)


if __name__ == "__main__":
    main()
