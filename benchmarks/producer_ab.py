#!/usr/bin/env python3
"""Producer throughput of two builds, measured as alternating pairs in one run.

Each build is a directory holding a `standalone` and an `mqbench` binary
(e.g. copied from bazel-bin after `bazel build -c opt //services/standalone
//tools/mqbench:mqbench` at two commits). For every send mode and round, each
build gets a fresh standalone server (small store sizes, a temporary data
directory) and one mqbench run against it; the builds take turns, so load
from elsewhere on the machine falls on both. Prints one row per mode with
each build's median msgs/s, p99, and the median of the per-pair ratios B/A.

  benchmarks/producer_ab.py --a=/tmp/bench-before --b=/tmp/bench-after \
      --modes=sync,async,batch --rounds=3 --duration=8s
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUMMARY = re.compile(r"\[Complete\].*Total: (\d+) \| Failed: (\d+) \| Duration\(s\): ([\d.]+) "
                     r"\|.*TPS\(avg\): (\d+) \| RT\(ms\) p50: ([\d.]+) p99: ([\d.]+)")


def start_server(build, data_dir):
  flags = os.path.join(ROOT, "tools", "small_store.flags")
  server = subprocess.Popen(
      [os.path.join(build, "standalone"), "--port=0", "--data_dir=" + data_dir,
       "--flagfile=" + flags],
      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
  deadline = time.time() + 60
  while time.time() < deadline:
    line = server.stdout.readline()
    if not line:
      break
    match = re.search(r"listening on \S*?:(\d+)", line)
    if match:
      return server, int(match.group(1))
  server.kill()
  raise RuntimeError("standalone of %s did not report its port" % build)


def run_once(build, mode, duration):
  data_dir = tempfile.mkdtemp(prefix="producer_ab_")
  server, port = start_server(build, data_dir)
  try:
    args = [os.path.join(build, "mqbench"), "--mode=producer", "--send_mode=" + mode,
            "--namesrv=127.0.0.1:%d" % port, "--topic=AB", "--message_size=1024",
            "--duration=" + duration, "--report_interval=1h"]
    args += ["--threads=16", "--batch_size=32"] if mode == "batch" else ["--threads=64"]
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         timeout=300).stdout
    match = SUMMARY.search(out)
    if not match:
      raise RuntimeError("no summary from mqbench %s: %s" % (mode, out[-500:]))
    total, failed, seconds, _, p50, p99 = match.groups()
    if int(failed):
      print("warning: %s %s: %s failed sends" % (build, mode, failed), file=sys.stderr)
    return int(total) / float(seconds), float(p99)
  finally:
    server.send_signal(signal.SIGTERM)
    try:
      server.wait(timeout=30)
    except subprocess.TimeoutExpired:
      server.kill()
    shutil.rmtree(data_dir, ignore_errors=True)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--a", required=True, help="directory of build A (the baseline)")
  parser.add_argument("--b", required=True, help="directory of build B")
  parser.add_argument("--modes", default="sync,async,batch")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--duration", default="8s")
  args = parser.parse_args()
  print("| mode | A msgs/s (median) | B msgs/s (median) | B/A (median of pairs) | "
        "A p99 ms | B p99 ms |")
  print("| --- | ---: | ---: | ---: | ---: | ---: |")
  for mode in args.modes.split(","):
    a_rates, b_rates, ratios, a_p99, b_p99 = [], [], [], [], []
    for round_index in range(args.rounds):
      # Alternate which build goes first, so neither always runs on a warmer machine.
      order = [("a", args.a), ("b", args.b)]
      if round_index % 2:
        order.reverse()
      results = {}
      for name, build in order:
        results[name] = run_once(build, mode, args.duration)
      a_rates.append(results["a"][0])
      b_rates.append(results["b"][0])
      a_p99.append(results["a"][1])
      b_p99.append(results["b"][1])
      ratios.append(results["b"][0] / results["a"][0])
    print("| %s | %.0f | %.0f | %.2f | %.1f | %.1f |" %
          (mode, statistics.median(a_rates), statistics.median(b_rates),
           statistics.median(ratios), statistics.median(a_p99), statistics.median(b_p99)))
    sys.stdout.flush()


if __name__ == "__main__":
  main()
