#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the run commands need.
# Idempotent: installs only what is missing. Works as root or through sudo.
# --bench also installs what the benchmark suite compares against and plots
# with (//benchmarks/suite:suite): Redis and gnuplot. --test also installs what
# the tests run against for real: Prometheus (server and promtool).
set -euo pipefail

PACKAGES=(
  bazel-bootstrap bazel-rules-java bazel-platforms
  build-essential pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgoogle-glog-dev libgflags-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libjemalloc-dev
  grpc-proto python3-grpcio python3-grpc-tools python3-protobuf python3-yaml
  iproute2 libcpp-httplib-dev libssl-dev
)
for arg in "$@"; do
  case "$arg" in
    --bench) PACKAGES+=(redis-server redis-tools gnuplot-nox) ;;
    --test) PACKAGES+=(prometheus openssl) ;;
    *) echo "bootstrap: unknown option $arg (--bench, --test)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "bootstrap: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
