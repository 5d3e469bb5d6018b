"""Runs the Python tests and ends with "python: N passed, M failed" (skips
are reported and counted in neither), the line tests/run.sh adds up."""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
result = unittest.TextTestRunner(stream=sys.stdout, verbosity=1).run(suite)
bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
for test, why in result.skipped:
    print("python: skipped %s: %s" % (test.id(), why))
print("python: %d passed, %d failed" % (result.testsRun - bad - len(result.skipped), bad))
sys.exit(1 if bad else 0)
