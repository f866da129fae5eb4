#!/bin/sh
# Entry point of the mq image: the first argument names the program, the rest
# are its flags. `exec` keeps the program as PID 1's replacement so it gets
# SIGTERM from `docker stop` and Kubernetes directly.
set -eu

bin_dir="${MQ_BIN_DIR:-/usr/local/bin}"

usage() {
  cat <<USAGE
usage: <program> [flags...]
programs:
  namesrv      name server (default port 9876)
  broker       broker; needs --store_address of its store (default port 10911)
  store        store of one broker (default port 10912)
  standalone   name server + broker + store in one process (default port 9876)
  proxy        RocketMQ 5 protocol for the official 5.x clients; needs --namesrv_addr
               (default port 8081)
  mqadmin      admin command-line tool
Every program prints its flags with --helpfull.
USAGE
}

if [ "$#" -eq 0 ]; then
  usage >&2
  exit 2
fi

program="$1"
shift
case "$program" in
  namesrv | broker | store | standalone | proxy | mqadmin)
    exec "$bin_dir/$program" "$@"
    ;;
  help | -h | --help)
    usage
    ;;
  *)
    echo "mq-entrypoint: unknown program '$program'" >&2
    usage >&2
    exit 2
    ;;
esac
