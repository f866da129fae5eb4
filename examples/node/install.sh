#!/usr/bin/env bash
# Installs the Node.js example's dependencies into examples/node/node_modules,
# exactly as package-lock.json pins them. Run once (CI runs it before the
# tests); later runs do nothing while node_modules matches the lock file.
# Offline-tolerant: npm's cache is preferred over the registry.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
  echo "examples/node/install.sh: npm is not installed; skipping" >&2
  exit 0
fi

stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ -d node_modules/@grpc/grpc-js ] && [ -d node_modules/@grpc/proto-loader ] &&
  [ "$stamp" -nt package-lock.json ]; then
  exit 0
fi
npm ci --prefer-offline --no-audit --no-fund --loglevel=error
