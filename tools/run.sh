#!/usr/bin/env bash
# Installs what is missing, builds, and runs the standalone server (name
# server + broker + store in one process) on port 9876 with its data in
# ./data/store under the project, with the small store sizes of
# tools/small_store.flags (about 45 MB of disk). Extra arguments go to the
# server and win over that file, e.g.
#   tools/run.sh --port=9877 --flush_disk_type=SYNC_FLUSH
# Stop it with Ctrl-C (a clean shutdown; the data stays for the next run).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/bootstrap.sh
bazel build //services/standalone //client/... //examples/cpp:quickstart
bin="$(bazel info bazel-bin 2>/dev/null)"
mkdir -p data
exec "$bin/services/standalone/standalone" --flagfile="$PWD/tools/small_store.flags" \
  --data_dir="$PWD/data/store" "$@"
