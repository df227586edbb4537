"""Run the Python binding's tests (standard unittest discovery) and print a closing
"python: N passed, N failed" line. Exits non-zero on any failure or when no test ran.

    python3 bindings/python/tests/run.py        (AADTOKEN_LIB defaults to target/debug)
"""

import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(here)
sys.path.insert(0, top)

suite = unittest.defaultTestLoader.discover(start_dir=here, top_level_dir=top)
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
passed = result.testsRun - failed - len(result.skipped)
summary = f"python: {passed} passed, {failed} failed"
if result.skipped:
    summary += f", {len(result.skipped)} skipped"
print(summary)
sys.exit(0 if result.wasSuccessful() and result.testsRun else 1)
