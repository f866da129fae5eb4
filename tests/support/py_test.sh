#!/bin/sh
# Runs a Python test module (unittest) under Debian's /usr/bin/python3, which
# has the Debian packages the tests use (python3-grpcio, python3-yaml, ...).
# Usage from an sh_test: srcs = ["//tests/support:py_test.sh"],
# args = ["$(location my_test.py)"].
set -eu
exec /usr/bin/python3 -B "$TEST_SRCDIR/$TEST_WORKSPACE/tests/support/unittest_main.py" "$@"
