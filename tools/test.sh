#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test.
# Ends with the line "N passed, N failed, N skipped" counted from the XML
# reports Bazel writes; exits non-zero if any test or build failed.
set -uo pipefail
cd "$(dirname "$0")/.."

bash tools/bootstrap.sh --test || exit 1
# The Node.js example's packages (from the npm registry; a no-op once installed).
# Without them its test installs them itself or reports why it cannot.
bash examples/node/install.sh || echo "test.sh: npm install of examples/node failed" >&2
# The official RocketMQ 5 Node.js client for tests/rocketmq5_node_test.py (which
# fails without it).
bash tests/rocketmq5_node/install.sh || echo "test.sh: npm install of tests/rocketmq5_node failed" >&2

# Reports left by an earlier run must not count for a target that fails to build now.
testlogs="$(bazel info bazel-testlogs 2>/dev/null)"
if [ -n "$testlogs" ] && [ -d "$testlogs" ]; then
  find "$testlogs" -name test.xml -delete
fi

bazel_output="$(mktemp)"
trap 'rm -f "$bazel_output"' EXIT
bazel test //... --keep_going --nocache_test_results "$@" 2>&1 | tee "$bazel_output"
bazel_status=${PIPESTATUS[0]}

# Bazel 4's process-wrapper sandbox leaves the test sandboxes behind, with the
# stores the tests wrote (about 10 GB a run): remove them, or runs pile up.
output_base="$(bazel info output_base 2>/dev/null)"
if [ -n "$output_base" ] && [ -d "$output_base/sandbox/processwrapper-sandbox" ]; then
  rm -rf "$output_base/sandbox/processwrapper-sandbox"
fi

targets="$(bazel query 'tests(//...)' 2>/dev/null)"
/usr/bin/python3 tools/count_tests.py --bazel-output "$bazel_output" "$testlogs" $targets
count_status=$?

if [ "$bazel_status" -ne 0 ] || [ "$count_status" -ne 0 ]; then
  exit 1
fi
