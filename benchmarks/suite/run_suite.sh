#!/usr/bin/env bash
# `bazel run -c opt //benchmarks/suite:suite -- [flags of run_suite.py]`: installs
# Redis and gnuplot if missing, then runs the benchmark suite.
set -euo pipefail
if [ -n "${BUILD_WORKSPACE_DIRECTORY:-}" ]; then
  "${BUILD_WORKSPACE_DIRECTORY}/tools/bootstrap.sh" --bench
fi
exec /usr/bin/python3 benchmarks/suite/run_suite.py "$@"
