"""count_tests.py: every case counted once, as passed, failed or skipped."""
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "count_tests.py")

# What GoogleTest 1.12 (Debian 12) writes for a case that called GTEST_SKIP().
_GTEST_REPORT = textwrap.dedent("""\
    <?xml version="1.0" encoding="UTF-8"?>
    <testsuites tests="4" failures="1" disabled="0" errors="0" name="AllTests">
      <testsuite name="S" tests="4" failures="1" disabled="0" skipped="1" errors="0">
        <testcase name="Ok" status="run" result="completed" classname="S" />
        <testcase name="Ok2" status="run" result="completed" classname="S" />
        <testcase name="Skips" status="run" result="skipped" classname="S">
          <skipped message="network namespaces are not allowed here" />
        </testcase>
        <testcase name="Fails" status="run" result="completed" classname="S">
          <failure message="boom" type="" />
        </testcase>
      </testsuite>
    </testsuites>
    """)

# What tests/support/unittest_main.py writes.
_UNITTEST_REPORT = textwrap.dedent("""\
    <testsuite name="m" tests="2" failures="0" errors="0" skipped="1">
      <testcase name="test_a" classname="m.C" time="0.001" />
      <testcase name="test_b" classname="m.C" time="0.001"><skipped message="no node" /></testcase>
    </testsuite>
    """)


class CountTestsTest(unittest.TestCase):

    def _run(self, reports, bazel_output=None):
        with tempfile.TemporaryDirectory() as logs:
            targets = []
            for target, xml in reports.items():
                package, _, name = target.lstrip("/").partition(":")
                os.makedirs(os.path.join(logs, package, name))
                if xml is not None:
                    with open(os.path.join(logs, package, name, "test.xml"), "w") as f:
                        f.write(xml)
                targets.append(target)
            args = [sys.executable, _SCRIPT]
            if bazel_output is not None:
                out = os.path.join(logs, "bazel.out")
                with open(out, "w") as f:
                    f.write(bazel_output)
                args += ["--bazel-output", out]
            done = subprocess.run(args + [logs] + targets, capture_output=True, text=True,
                                  timeout=60)
            return done.returncode, done.stdout.strip().splitlines()[-1]

    def test_skipped_cases_are_counted_apart_from_passed_ones(self):
        code, line = self._run({"//a:gtest": _GTEST_REPORT, "//b:py": _UNITTEST_REPORT})
        self.assertEqual(line, "3 passed, 1 failed, 2 skipped")
        self.assertEqual(code, 1)

    def test_the_closing_line_always_names_skipped(self):
        code, line = self._run({"//b:py": _UNITTEST_REPORT.replace(
            '<skipped message="no node" />', "")})
        self.assertEqual(line, "2 passed, 0 failed, 0 skipped")
        self.assertEqual(code, 0)

    def test_a_target_without_a_report_counts_as_failed(self):
        code, line = self._run({"//b:py": _UNITTEST_REPORT, "//c:broken": None})
        self.assertEqual(line, "1 passed, 1 failed, 1 skipped")
        self.assertEqual(code, 1)

    def test_a_target_bazel_failed_with_a_clean_report_counts_one_failed(self):
        code, line = self._run({"//b:py": _UNITTEST_REPORT},
                               bazel_output="//b:py                 TIMEOUT in 300.0s\n")
        self.assertEqual(line, "1 passed, 1 failed, 1 skipped")
        self.assertEqual(code, 1)

    def test_only_skipped_cases_is_not_a_pass(self):
        code, line = self._run({"//b:py": _UNITTEST_REPORT.replace(
            '<testcase name="test_a" classname="m.C" time="0.001" />', "")})
        self.assertEqual(line, "0 passed, 0 failed, 1 skipped")
        self.assertEqual(code, 1)


if __name__ == "__main__":
    unittest.main()
