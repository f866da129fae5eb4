"""The benchmark suite: our servers, the gRPC transport ceiling and Redis, in one run.

Runs perf_suite (echo ceilings, standalone and split deployments), then a
private Redis (loopback, temporary directory) under redis-benchmark XADD of the
same message size at the same in-flight windows, --repeat times in turn; each
row reports the run with the median rate (and the range over the runs), since
one run on a small shared machine moves by a third. Writes into --out:
  suite.tsv                 every measured row (id, msgs/s, p50, p99, ...)
  suite.md                  the table: each figure, its peer row, the ratio, the target
  throughput_vs_window.svg  throughput against the in-flight window (gnuplot)
Stops every process it started, also when interrupted.

Run it through Bazel, which builds everything first:
  bazel run -c opt //benchmarks/suite:suite -- [--duration=5] [--out=DIR]
"""

import argparse
import csv
import io
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A private redis-server with AOF on, in a temporary directory."""

    def __init__(self, workdir):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=workdir)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--save", "", "--appendonly", "yes",
             "--appendfsync", "everysec", "--logfile", os.path.join(self.dir, "log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while self.cli("PING") != "PONG":
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start; see " + self.dir)
            time.sleep(0.05)

    def cli(self, *args):
        result = subprocess.run(["redis-cli", "-p", str(self.port), *args],
                                capture_output=True, text=True, timeout=60)
        return result.stdout.strip()

    def xadd(self, clients, pipeline, requests, value):
        """Returns (rps, p50_ms, p99_ms) of redis-benchmark XADD."""
        out = subprocess.run(
            ["redis-benchmark", "-p", str(self.port), "-c", str(clients), "-P", str(pipeline),
             "-n", str(requests), "--csv", "XADD", "bench", "*", "f", value],
            capture_output=True, text=True, timeout=900, check=True).stdout
        rows = list(csv.DictReader(io.StringIO(out)))
        row = rows[-1]
        self.cli("DEL", "bench")
        return float(row["rps"]), float(row["p50_latency_ms"]), float(row["p99_latency_ms"])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def measure_redis(redis, clients, pipeline, value, seconds):
    """XADD for about `seconds`: a short calibration run sizes the real one."""
    rps, _, _ = redis.xadd(clients, pipeline, max(2000, 200 * clients), value)
    return redis.xadd(clients, pipeline, max(10000, int(rps * seconds)), value)


def run_redis(args, windows, rows):
    value = "v" * args.body_bytes
    redis = Redis(args.workdir)
    try:
        for fsync in ("everysec", "always"):
            redis.cli("CONFIG", "SET", "appendfsync", fsync)
            sweep = windows if fsync == "everysec" else [args.in_flight]
            for clients in sweep:
                rps, p50, p99 = measure_redis(redis, clients, 1, value, args.duration)
                rows.setdefault(f"redis.{fsync}.p1.c{clients}", []).append((rps, p50, p99))
                print(f"  redis XADD {fsync}, {clients} clients, pipeline 1: "
                      f"{rps:,.0f}/s p50 {p50} ms p99 {p99} ms", flush=True)
            rps, p50, p99 = measure_redis(redis, args.in_flight, 32, value, args.duration)
            rows.setdefault(f"redis.{fsync}.p32.c{args.in_flight}", []).append((rps, p50, p99))
            print(f"  redis XADD {fsync}, {args.in_flight} clients, pipeline 32: "
                  f"{rps:,.0f}/s p50 {p50} ms p99 {p99} ms", flush=True)
    finally:
        redis.stop()


def run_perf_suite(args, windows, rows):
    command = [args.perf_suite, f"--duration={args.duration}s", f"--body_bytes={args.body_bytes}",
               f"--in_flight={args.in_flight}", "--windows=" + ",".join(map(str, windows)),
               f"--catchup_messages={args.catchup_messages}",
               f"--batch_in_flight={args.batch_in_flight}", f"--channels={args.channels}",
               f"--coalesce={args.coalesce}"]
    if args.rows:
        command.append(f"--rows={args.rows}")
    env = dict(os.environ, TEST_TMPDIR=args.workdir)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        for line in proc.stdout:
            if line.startswith("ROW\t"):
                _, row_id, value, p50, p99, _calls, failures = line.rstrip("\n").split("\t")
                rows.setdefault(row_id, []).append((float(value), float(p50), float(p99)))
                if int(failures):
                    print(f"  ({row_id}: {failures} failed calls)", flush=True)
            else:
                print(line, end="", flush=True)
        if proc.wait() != 0:
            raise RuntimeError(f"perf_suite exited with {proc.returncode}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()


# (row, its peer, the least ratio row/peer we aim for, what the ratio means)
def comparisons(n):
    r = []
    for kind in ("standalone", "split"):
        r += [
            (f"{kind}.send.w{n}", f"echo.unary.w{n}", 0.8 if kind == "standalone" else None,
             "null unary echo"),
            (f"{kind}.send.w{n}", f"redis.everysec.p1.c{n}", 1.0 if kind == "standalone" else None,
             "Redis XADD, pipeline 1, everysec"),
            (f"{kind}.stream", f"echo.stream", None, "null bidi-stream echo"),
            (f"{kind}.stream", f"redis.everysec.p1.c{n}", None, "Redis XADD, pipeline 1, everysec"),
            (f"{kind}.producer", f"echo.unary.w{n}", 0.8 if kind == "standalone" else None,
             "null unary echo"),
            (f"{kind}.producer", f"redis.everysec.p1.c{n}", 1.0 if kind == "standalone" else None,
             "Redis XADD, pipeline 1, everysec"),
            (f"{kind}.batch", f"redis.everysec.p32.c{n}", 1.5 if kind == "standalone" else None,
             "Redis XADD, pipeline 32, everysec"),
            (f"{kind}.batch", "echo.batch", None, "null batch echo"),
            (f"{kind}.syncflush.w1", f"redis.always.p1.c{n}", None,
             "Redis XADD, pipeline 1, always"),
            (f"{kind}.syncflush.w{n}", f"redis.always.p1.c{n}", 1.0 if kind == "standalone" else None,
             "Redis XADD, pipeline 1, always"),
            (f"{kind}.syncflush.producer", f"redis.always.p1.c{n}",
             1.0 if kind == "standalone" else None, "Redis XADD, pipeline 1, always"),
            (f"{kind}.syncflush.batch", f"redis.always.p32.c{n}",
             1.0 if kind == "standalone" else None, "Redis XADD, pipeline 32, always"),
            # Issue 33: the Producer with coalesced sends.
            (f"{kind}.producer_sync", f"redis.everysec.p1.c{n}",
             1.2 if kind == "standalone" else None, "Redis XADD, pipeline 1, everysec"),
            (f"{kind}.producer_sync", f"echo.unary.w{n}", 1.5 if kind == "standalone" else None,
             "null unary echo"),
            (f"{kind}.producer_async1024", f"redis.everysec.p32.c{n}",
             1.2 if kind == "standalone" else None, "Redis XADD, pipeline 32, everysec"),
            (f"{kind}.producer_batch", f"redis.everysec.p32.c{n}",
             1.2 if kind == "standalone" else None, "Redis XADD, pipeline 32, everysec"),
            (f"{kind}.syncflush.producer_sync", f"redis.always.p1.c{n}",
             1.0 if kind == "standalone" else None, "Redis XADD, pipeline 1, always"),
            (f"{kind}.catchup", f"{kind}.batch", 3.0, "batched produce rate"),
            (f"{kind}.e2e", None, None, ""),
        ]
    r += [
        (f"split.send.w{n}", f"standalone.send.w{n}", 0.7, "standalone"),
        ("split.batch", "standalone.batch", 0.7, "standalone"),
        ("split.producer", "standalone.producer", 0.7, "standalone"),
        ("split.producer_sync", "standalone.producer_sync", 0.7, "standalone"),
        ("split.producer_batch", "standalone.producer_batch", 0.7, "standalone"),
        (f"echo.stream", f"echo.unary.w{n}", None, "null unary echo"),
    ]
    # Each coalesced Producer row against the same row without coalescing.
    for kind in ("standalone", "split"):
        for row in ("producer", "producer_sync", "producer_async1024", "producer_batch",
                    "syncflush.producer", "syncflush.producer_sync"):
            r.append((f"{kind}.{row}", f"{kind}.{row}.nocoalesce", None, "not coalesced"))
    return r


LABELS = {
    "send": "sync send, {n} in flight, async flush",
    "stream": "sync send over SendMessageStream, {n} in flight, async flush",
    "producer": "Producer async sends (callbacks), {n} in flight, async flush",
    "producer_sync": "Producer sync sends, {n} threads, async flush",
    "producer_async1024": "Producer async sends (callbacks), 1,024 in flight, async flush",
    "producer_batch": "Producer batched sends ({batch} per call), {bif} threads, async flush",
    "syncflush.producer_sync": "sync-flush Producer sync sends, {n} threads",
    "batch": "batched send ({batch} per call, {bif} in flight)",
    "syncflush.w1": "sync-flush send, 1 in flight",
    "syncflush.w{n}": "sync-flush send, {n} in flight",
    "syncflush.producer": "sync-flush Producer async sends, {n} in flight",
    "syncflush.batch": "sync-flush batched send ({batch} per call, {bif} in flight)",
    "catchup": "consumer catch-up read of {catchup} stored",
    "e2e": "produce→consume at half the peak send rate",
}


def label(row_id, args):
    n = args.in_flight
    fmt = dict(n=n, batch=32, bif=args.batch_in_flight, catchup=f"{args.catchup_messages:,}")
    if row_id.startswith("echo."):
        return {"echo.stream": f"null gRPC bidi-stream echo, {n} in flight",
                "echo.batch": f"null gRPC batch echo ({32} per call, {args.batch_in_flight} in flight)"
                }.get(row_id, f"null gRPC unary echo, {row_id.split('.w')[-1]} in flight")
    if row_id.startswith("redis."):
        _, fsync, pipeline, clients = row_id.split(".")
        return f"Redis 7 XADD, {clients[1:]} clients, pipeline {pipeline[1:]}, appendfsync {fsync}"
    kind, rest = row_id.split(".", 1)
    if rest.endswith(".nocoalesce"):
        return label(row_id[:-len(".nocoalesce")], args) + ", **not coalesced**"
    if rest.startswith("producer.w"):
        return f"{kind}: Producer async sends, {rest[len('producer.w'):]} in flight, async flush"
    for key, text in LABELS.items():
        if rest == key.format(n=n) or (key == "send" and rest == f"send.w{n}"):
            return f"{kind}: {text.format(**fmt)}"
    return f"{kind}: {rest}"


def table(args, rows, spread, machine):
    n = args.in_flight
    out = [f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {machine}; {args.body_bytes} B messages, "
           f"{args.duration} s per run, median of {args.repeat} runs, client and servers on "
           f"this machine, {args.channels} gRPC channels.", "",
           "| row | msgs/s | runs (min–max) | p50 ms | p99 ms | compared with | ratio | target | met |",
           "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |"]
    last = [None]

    def fmt_row(row_id, peer=None, target=None, what=""):
        value, p50, p99 = rows[row_id]
        ratio = target_text = met = ""
        if peer is not None and peer in rows and rows[peer][0] > 0:
            ratio = f"{value / rows[peer][0]:.2f}"
            if target is not None:
                target_text = f"≥ {target}"
                met = "yes" if value / rows[peer][0] >= target else "**no**"
        name = label(row_id, args) if row_id != last[0] else "″"
        last[0] = row_id
        low, high = spread[row_id]
        out.append(f"| {name} | {value:,.0f} | {low:,.0f}–{high:,.0f} | {p50:.2f} | {p99:.2f} | "
                   f"{label(peer, args) if peer else ''} | {ratio} | {target_text} | {met} |")

    for row_id in [f"echo.unary.w{n}", "echo.stream", "echo.batch"]:
        if row_id in rows:
            fmt_row(row_id)
    for row_id, peer, target, _ in comparisons(n):
        if row_id in rows:
            fmt_row(row_id, peer, target)
    def redis_order(key):
        _, fsync, pipeline, clients = key.split(".")
        return fsync, int(pipeline[1:]), int(clients[1:])

    for key in sorted((k for k in rows if k.startswith("redis.")), key=redis_order):
        fmt_row(key)
    out.append("")
    if "standalone.producer_sync" in rows and f"echo.unary.w{n}" in rows:
        p99, echo_p99 = rows["standalone.producer_sync"][2], rows[f"echo.unary.w{n}"][2]
        out.append(f"- standalone Producer sync send p99 at {n} threads: {p99:.2f} ms, "
                   f"{p99 / echo_p99:.2f}× the null unary echo's {echo_p99:.2f} ms (target ≤ 1.5×: "
                   f"{'met' if p99 <= 1.5 * echo_p99 else '**not met**'})")
    for row_id, what in ((f"standalone.send.w{n}", "sync send (unary)"),
                         ("standalone.producer", "Producer send")):
        if row_id in rows:
            p99 = rows[row_id][2]
            out.append(f"- standalone {what} p99 at {n} in flight: {p99:.2f} ms "
                       f"(target ≤ 5 ms: {'met' if p99 <= 5 else '**not met**'})")
    for kind in ("standalone", "split"):
        if f"{kind}.rss_anon" in rows:
            anon, file_pages = rows[f"{kind}.rss_anon"][0], rows[f"{kind}.rss_file"][0]
            out.append(f"- {kind} server memory under the batched load: {anon:.1f} MiB private "
                       f"(target ≤ 256 MiB: {'met' if anon <= 256 else '**not met**'}), plus "
                       f"{file_pages:.0f} MiB of the mmap'd commit log resident (page cache)")
    return "\n".join(out) + "\n"


def plot(args, rows, windows, svg):
    n = args.in_flight
    series = [("null gRPC unary echo", "echo.unary.w{}"),
              ("Producer, coalesced (standalone)", "standalone.producer.w{}"),
              ("Producer, not coalesced (standalone)", "standalone.producer.w{}.nocoalesce"),
              ("Producer, coalesced (split)", "split.producer.w{}"),
              ("broker API, unary sync send (standalone)", "standalone.send.w{}"),
              ("Redis XADD pipeline 1 (everysec)", "redis.everysec.p1.c{}")]

    def row_of(pattern, w):
        # The Producer row at the suite's own window has no .w suffix.
        key = pattern.format(w)
        if w == n and ".producer.w" in pattern:
            key = key.replace(f".producer.w{n}", ".producer")
        return key

    data_path = svg + ".dat"
    with open(data_path, "w") as f:
        for title, pattern in series:
            points = [(w, rows[row_of(pattern, w)][0]) for w in windows
                      if row_of(pattern, w) in rows]
            if not points:
                continue
            f.write(f'"{title}"\n')
            for w, v in points:
                f.write(f"{w} {v:.0f}\n")
            f.write("\n\n")
    with open(data_path) as f:
        plotted = f.read().count('"') // 2
    if plotted == 0:
        os.remove(data_path)
        return
    script = f"""
set terminal svg size 900,560 dynamic font 'sans,12'
set output '{svg}'
set title 'Throughput vs in-flight window ({args.body_bytes} B messages, one machine)'
set xlabel 'calls in flight (Redis: clients)'
set ylabel 'messages per second'
set logscale x 2
set key left top
set grid
plot for [i=0:{plotted - 1}] '{data_path}' index i using 1:2 with linespoints lw 2 title columnheader(1)
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.remove(data_path)


def machine_text():
    cores = os.cpu_count()
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return f"{platform.node()}: {cores} cores, {mem_kib / 1024 / 1024:.0f} GiB, {platform.platform()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--perf_suite", default="benchmarks/suite/perf_suite")
    parser.add_argument("--out", default=os.path.join(
        os.environ.get("BUILD_WORKSPACE_DIRECTORY", "."), "benchmarks", "latest"))
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--body_bytes", type=int, default=1024)
    parser.add_argument("--in_flight", type=int, default=64)
    parser.add_argument("--windows", default="1,4,16,64,256")
    parser.add_argument("--batch_in_flight", type=int, default=8)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--catchup_messages", type=int, default=1000000)
    parser.add_argument("--skip_redis", action="store_true")
    parser.add_argument("--rows", default="",
                        help="only the perf_suite rows whose id starts with one of these "
                             "(comma-separated); empty: every row")
    parser.add_argument("--coalesce", default="on,off",
                        help="Producer rows with coalescing on, off, or both (on,off)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of everything")
    args = parser.parse_args()
    windows = [int(w) for w in args.windows.split(",")]
    if args.in_flight not in windows:
        windows.append(args.in_flight)
    for tool in ("redis-server", "redis-cli", "redis-benchmark", "gnuplot"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: run tools/bootstrap.sh --bench")
    os.makedirs(args.out, exist_ok=True)
    args.workdir = tempfile.mkdtemp(prefix="mq-suite-")
    samples = {}  # row id -> [(msgs/s, p50, p99)], one per run
    try:
        for run in range(1, args.repeat + 1):
            print(f"run {run} of {args.repeat}:", flush=True)
            run_perf_suite(args, windows, samples)
            if not args.skip_redis:
                print("Redis 7 (private instance, AOF on):", flush=True)
                run_redis(args, windows, samples)
    finally:
        shutil.rmtree(args.workdir, ignore_errors=True)
    rows, spread = {}, {}
    for key, runs in samples.items():
        ordered = sorted(runs)
        rows[key] = ordered[(len(ordered) - 1) // 2]
        spread[key] = (ordered[0][0], ordered[-1][0])
    with open(os.path.join(args.out, "suite.tsv"), "w") as f:
        f.write("# row\tmsgs/s (median run)\tp50 ms\tp99 ms\tmin msgs/s\tmax msgs/s\n")
        for key in sorted(rows):
            f.write("\t".join([key] + [f"{v:g}" for v in rows[key] + spread[key]]) + "\n")
    text = table(args, rows, spread, machine_text())
    with open(os.path.join(args.out, "suite.md"), "w") as f:
        f.write(text)
    plot(args, rows, windows, os.path.join(args.out, "throughput_vs_window.svg"))
    print("\n" + text)
    print(f"written to {args.out}: suite.md, suite.tsv, throughput_vs_window.svg")


if __name__ == "__main__":
    main()
