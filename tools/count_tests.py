"""Sums the JUnit XML reports under bazel-testlogs into "N passed, N failed, N skipped".

Usage: count_tests.py [--bazel-output FILE] TESTLOGS_DIR TARGET...
A target without a report (it failed to build, or never ran) counts as one
failed test, so a broken build can never look green. With --bazel-output (what
`bazel test` printed), a target Bazel reports FAILED, TIMEOUT or NO STATUS
whose report shows no failed case counts one failed test too. A case that
skipped itself (GTEST_SKIP, unittest's skipTest) counts as skipped, never as
passed. Exits 1 if any failed or none passed.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

_BAZEL_FAILED = re.compile(
    r"^(//\S+)\s+(?:\(cached\)\s+)?(FAILED|TIMEOUT|NO STATUS|INCOMPLETE|FAILED TO BUILD)\b")


def failed_targets(bazel_output):
    with open(bazel_output, encoding="utf-8", errors="replace") as f:
        return {m.group(1) for m in map(_BAZEL_FAILED.match, f) if m}


def report_path(testlogs, target):
    package, _, name = target.lstrip("/").partition(":")
    return os.path.join(testlogs, package, name, "test.xml")


def count(path):
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    total = failed = skipped = 0
    for suite in suites:
        for case in suite.iter("testcase"):
            total += 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.get("result") == "skipped" or case.find("skipped") is not None:
                skipped += 1
    if total == 0:
        # Bazel writes a bare report when a test binary crashed before listing cases.
        errors = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
        return 0, max(errors, 1), 0
    return total - failed - skipped, failed, skipped


def main():
    args = sys.argv[1:]
    bazel_failed = set()
    if len(args) >= 2 and args[0] == "--bazel-output":
        bazel_failed = failed_targets(args[1])
        args = args[2:]
    testlogs, targets = args[0], args[1:]
    passed = failed = skipped = 0
    for target in targets:
        path = report_path(testlogs, target)
        if not os.path.exists(path):
            print(f"no test report for {target}: counted as failed", file=sys.stderr)
            failed += 1
            continue
        p, f, s = count(path)
        if target in bazel_failed and not f:
            print(f"{target}: Bazel reports it failed but its report lists no failed case: "
                  "counted as one failed", file=sys.stderr)
            f = 1
        if f:
            print(f"{target}: {f} failed", file=sys.stderr)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
