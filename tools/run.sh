#!/usr/bin/env bash
# Installs what is missing, builds, and runs the system on this machine.
# Until the standalone server lands this starts the name server on port 9876.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/bootstrap.sh
bazel build //services/namesrv
bin="$(bazel info bazel-bin 2>/dev/null)"
exec "$bin/services/namesrv/namesrv" "$@"
