#!/usr/bin/env bash
# Installs the official RocketMQ 5 Node.js client (rocketmq-client-nodejs,
# pinned in package-lock.json) into tests/rocketmq5_node/node_modules for
# tests/rocketmq5_node_test.py. CI runs it before the tests; later runs do
# nothing while node_modules matches the lock file. npm's cache is preferred
# over the registry. Fails when npm is missing or the install fails: the test
# needs the client.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
  echo "tests/rocketmq5_node/install.sh: npm is not installed (apt-get install nodejs npm)" >&2
  exit 1
fi

stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ -d node_modules/rocketmq-client-nodejs ] &&
  [ "$stamp" -nt package-lock.json ]; then
  exit 0
fi
npm ci --prefer-offline --no-audit --no-fund --loglevel=error
