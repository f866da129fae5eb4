#!/usr/bin/env bash
# Installs what is missing, builds, and runs the standalone server (name
# server + broker + store in one process) on port 9876 with its data in
# ./data/store under the project. Extra arguments go to the server, e.g.
#   tools/run.sh --port=9877 --flush_disk_type=SYNC_FLUSH
# Stop it with Ctrl-C (a clean shutdown; the data stays for the next run).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/bootstrap.sh
bazel build //services/standalone //client/... //examples/cpp:quickstart
bin="$(bazel info bazel-bin 2>/dev/null)"
mkdir -p data
exec "$bin/services/standalone/standalone" --data_dir="$PWD/data/store" "$@"
