"""Sums GoogleTest XML reports under bazel-testlogs into "N passed, N failed".

Usage: count_tests.py TESTLOGS_DIR TARGET...
A target without a report (it failed to build, or never ran) counts as one
failed test, so a broken build can never look green. Exits 1 if any failed.
"""
import os
import sys
import xml.etree.ElementTree as ET


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
    testlogs, targets = sys.argv[1], sys.argv[2:]
    passed = failed = skipped = 0
    for target in targets:
        path = report_path(testlogs, target)
        if not os.path.exists(path):
            print(f"no test report for {target}: counted as failed", file=sys.stderr)
            failed += 1
            continue
        p, f, s = count(path)
        if f:
            print(f"{target}: {f} failed", file=sys.stderr)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
