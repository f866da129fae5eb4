#!/usr/bin/env bash
# A two-group cluster with slaves on one machine, as separate processes:
# one name server (:9876); broker groups broker-a and broker-b, each a master
# (store + broker, SYNC_MASTER) and a slave (store + broker replicating from
# the master's store). Data and logs go to ./data/cluster; the stores use the
# small sizes of tools/small_store.flags (about 180 MB of disk for the four).
#   tools/local_cluster.sh start    build and start everything
#   tools/local_cluster.sh stop     stop everything cleanly (SIGTERM) and wait
#                                   until every process has exited
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/data/cluster"

start() {
  bash tools/bootstrap.sh
  bazel build //services/... //tools/mqadmin
  local bin
  bin="$(bazel info bazel-bin 2>/dev/null)/services"
  mkdir -p "$dir"
  : > "$dir/pids"
  run() {  # name, binary, args...
    local name=$1 binary=$2
    shift 2
    "$bin/$binary" "$@" > "$dir/$name.out" 2> "$dir/$name.log" &
    local pid=$!
    echo "$pid" >> "$dir/pids"
    for _ in $(seq 1 300); do
      grep -q "listening on" "$dir/$name.out" 2>/dev/null && { echo "$name: $(cat "$dir/$name.out")"; return; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    echo "$name did not start: $(tail -n 1 "$dir/$name.log") (log: $dir/$name.log)" >&2
    exit 1
  }
  run namesrv namesrv/namesrv --port=9876
  local group base small="$PWD/tools/small_store.flags"
  for group in a b; do
    base=$([ "$group" = a ] && echo 10 || echo 20)
    run "store-$group-master" store/store --flagfile="$small" --port=${base}912 \
      --data_dir="$dir/$group-master" \
      --broker_name=broker-$group --role=SYNC_MASTER
    run "broker-$group-master" broker/broker --port=${base}911 --broker_name=broker-$group \
      --role=SYNC_MASTER --store_address=127.0.0.1:${base}912 --namesrv_addr=127.0.0.1:9876
    run "store-$group-slave" store/store --flagfile="$small" --port=${base}922 \
      --data_dir="$dir/$group-slave" \
      --broker_name=broker-$group --broker_id=1 --role=SLAVE --master_address=127.0.0.1:${base}912
    run "broker-$group-slave" broker/broker --port=${base}921 --broker_name=broker-$group \
      --broker_id=1 --role=SLAVE --store_address=127.0.0.1:${base}922 --namesrv_addr=127.0.0.1:9876
  done
  echo "cluster running; name server 127.0.0.1:9876; logs in $dir"
}

stop() {
  [ -f "$dir/pids" ] || { echo "no cluster running from $dir"; return; }
  # Brokers first (they unregister and persist offsets), then stores, then the
  # name server; each must have exited before the next is stopped.
  local pid failed=0
  while read -r pid; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "process $pid did not exit within 30 s of SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      failed=1
    fi
  done < <(tac "$dir/pids")
  rm -f "$dir/pids"
  echo "cluster stopped"
  return "$failed"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
