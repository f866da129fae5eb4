"""Runs the unittest cases of one module and writes a JUnit XML report.

Usage: unittest_main.py path/to/module_test.py

Bazel gives a test the path for its report in XML_OUTPUT_FILE; with this
report tools/count_tests.py counts every case (passed, failed or skipped), not
just the target. A module with no test case fails, so a typo cannot pass.
"""
import importlib.util
import os
import sys
import time
import unittest
import xml.etree.ElementTree as ET


class _RecordingResult(unittest.TextTestResult):
    """Keeps (test id, seconds, outcome, message) for every case."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = []
        self._started = {}

    def startTest(self, test):
        self._started[test.id()] = time.monotonic()
        super().startTest(test)

    def _record(self, test, outcome, message=""):
        started = self._started.get(test.id(), time.monotonic())
        self.records.append((test.id(), time.monotonic() - started, outcome, message))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failure", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self._exc_info_to_string(err, test))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        # A failing subtest fails its test, which then never reaches addSuccess.
        if err is not None:
            outcome = "failure" if issubclass(err[0], test.failureException) else "error"
            self._record(subtest, outcome, self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "passed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "failure", "unexpected success")


def _write_report(path, suite_name, records):
    suite = ET.Element(
        "testsuite",
        name=suite_name,
        tests=str(len(records)),
        failures=str(sum(1 for r in records if r[2] == "failure")),
        errors=str(sum(1 for r in records if r[2] == "error")),
        skipped=str(sum(1 for r in records if r[2] == "skipped")),
    )
    for test_id, seconds, outcome, message in records:
        classname, _, name = test_id.rpartition(".")
        case = ET.SubElement(
            suite, "testcase", name=name, classname=classname, time=f"{seconds:.3f}"
        )
        if outcome in ("failure", "error", "skipped"):
            ET.SubElement(case, outcome, message=message.splitlines()[0] if message else "").text = (
                message
            )
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)

    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2, resultclass=_RecordingResult)
    result = runner.run(suite)
    report = os.environ.get("XML_OUTPUT_FILE")
    if report:
        _write_report(report, name, result.records)
    if result.testsRun == 0:
        print(f"{path}: no test cases ran", file=sys.stderr)
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
