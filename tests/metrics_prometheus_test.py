"""Metrics through a real Prometheus server (Debian's `prometheus`).

A standalone server (with a slave store replicating from it) serves
--metrics_port; Prometheus scrapes both every second. The C++ client (mqbench)
sends and consumes messages, and the test reads the counters, the consumer
lag and the replication figures back through Prometheus's query API. The
alert rules must pass `promtool check rules` and load into Prometheus, and
every metric the alert rules and the Grafana dashboard name must be one the
servers export.

Skips (counted as skipped) only when prometheus or promtool is not installed
(tools/bootstrap.sh --test installs them).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest
import urllib.parse
import urllib.request

import grpc

import mq_test_support as support

STUBS = support.generate_python_stubs(support.temp_dir("stubs"))
sys.path.insert(0, STUBS)
from proto import broker_pb2, broker_pb2_grpc, common_pb2  # noqa: E402
from proto.apache.rocketmq.v2 import messaging_pb2 as v2  # noqa: E402
from proto.apache.rocketmq.v2 import messaging_pb2_grpc as v2_grpc  # noqa: E402

TOPIC = "MetricsTopic"
GROUP = "metrics_group"
SENT_FIRST = 300
SENT_LATER = 50
# mqbench's producer sends one warm-up message before the counted ones.
STORED_FIRST = SENT_FIRST + 1
STORED_LATER = SENT_LATER + 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def exported_names(text):
    """Metric names a /metrics page declares (# TYPE lines)."""
    return {m.group(1) for m in re.finditer(r"^# TYPE (\S+) \S+$", text, re.M)}


# Names in a PromQL expression that look like ours.
METRIC = re.compile(r"\b((?:rocketmq|process)_[a-z0-9_]+)")


def base_name(name):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


class Prometheus:
    def __init__(self, work_dir, targets, rule_file):
        self.port = free_port()
        config = os.path.join(work_dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n")
            f.write(f"rule_files:\n  - {rule_file}\n")
            f.write("scrape_configs:\n  - job_name: mq\n    static_configs:\n")
            f.write(f"      - targets: {json.dumps(targets)}\n")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(work_dir, 'tsdb')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def query(self, expr):
        """The instant vector of `expr` as [(labels, float)], or [] on any error."""
        try:
            _, body = http_get(self.url("/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
        except OSError:
            return []
        data = json.loads(body)
        if data.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {data}")
        return [(r["metric"], float(r["value"][1])) for r in data["data"]["result"]]

    def wait_value(self, expr, predicate, timeout=60.0):
        """Waits until `expr` has one sample whose value passes `predicate`."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {self.proc.stderr.read()}")
            last = self.query(expr)
            if len(last) == 1 and predicate(last[0][1]):
                return last[0][1]
            time.sleep(0.2)
        raise AssertionError(f"{expr}: still {last} after {timeout} s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@unittest.skipUnless(shutil.which("prometheus") and shutil.which("promtool"),
                     "prometheus/promtool not installed (tools/bootstrap.sh --test)")
class MetricsPrometheusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = support.temp_dir("metrics")
        cls.rules = support.runfile("deploy/k8s/monitoring/alerts.yaml")
        cls.dashboard = support.runfile("deploy/k8s/monitoring/mq-dashboard.json")
        cls.processes = []
        cls.prometheus = None
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls):
        cls.master_metrics = free_port()
        cls.server = support.ServerProcess(
            support.runfile("services/standalone/standalone"),
            ["--port=0", "--listen_address=127.0.0.1", f"--metrics_port={cls.master_metrics}",
             f"--data_dir={os.path.join(cls.work, 'master')}",
             f"--flagfile={support.runfile('tools/small_store.flags')}"])
        cls.processes.append(cls.server)
        cls.slave_metrics = free_port()
        cls.slave = support.ServerProcess(
            support.runfile("services/store/store"),
            ["--port=0", "--listen_address=127.0.0.1", f"--metrics_port={cls.slave_metrics}",
             f"--data_dir={os.path.join(cls.work, 'slave')}",
             f"--flagfile={support.runfile('tools/small_store.flags')}",
             "--role=SLAVE", "--broker_id=1", f"--master_address={cls.server.address}"])
        cls.processes.append(cls.slave)
        cls.prometheus = Prometheus(
            cls.work, [f"127.0.0.1:{cls.master_metrics}", f"127.0.0.1:{cls.slave_metrics}"],
            cls.rules)

    @classmethod
    def tearDownClass(cls):
        if cls.prometheus is not None:
            cls.prometheus.stop()
        for process in reversed(cls.processes):
            process.stop()

    def mqbench_command(self, *args):
        return [support.runfile("tools/mqbench/mqbench"), f"--namesrv={self.server.address}",
                f"--topic={TOPIC}", "--duration=60s", "--report_interval=10s"] + list(args)

    def mqbench(self, *args):
        result = subprocess.run(self.mqbench_command(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stdout)
        return result.stdout

    def scrape(self, port):
        status, body = http_get(f"http://127.0.0.1:{port}/metrics")
        self.assertEqual(status, 200)
        return body

    def test_1_counters_and_lag_read_back_through_prometheus(self):
        p = self.prometheus
        with grpc.insecure_channel(self.server.address) as channel:
            broker_pb2_grpc.BrokerStub(channel).CreateOrUpdateTopic(
                broker_pb2.CreateOrUpdateTopicRequest(config=common_pb2.TopicConfig(
                    topic_name=TOPIC, read_queue_nums=4, write_queue_nums=4, perm=6)),
                timeout=10)
        # A consumer waits for the messages; Prometheus sees it connected.
        consumer = subprocess.Popen(
            self.mqbench_command("--mode=consumer", f"--group={GROUP}",
                                 f"--messages={STORED_FIRST}", "--from_first=true"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            p.wait_value(f'rocketmq_consumer_connections{{consumer_group="{GROUP}"}}',
                         lambda v: v == 1)
            self.mqbench("--mode=producer", f"--messages={SENT_FIRST}", "--threads=1")
            output, _ = consumer.communicate(timeout=120)
            self.assertEqual(consumer.returncode, 0, output)
        finally:
            if consumer.poll() is None:
                consumer.kill()
                consumer.wait()
        self.mqbench("--mode=producer", f"--messages={SENT_LATER}", "--threads=1")

        total = STORED_FIRST + STORED_LATER
        p.wait_value(f'sum(rocketmq_messages_in_total{{topic="{TOPIC}"}})', lambda v: v == total)
        p.wait_value(f'sum(rocketmq_throughput_in_total{{topic="{TOPIC}"}})',
                     lambda v: v == total * 1024)
        p.wait_value(f'sum(rocketmq_messages_out_total{{topic="{TOPIC}",consumer_group="{GROUP}"}})',
                     lambda v: v >= STORED_FIRST)  # served; a pull may be served again
        # The consumer committed all it consumed; the later messages are the lag.
        p.wait_value(f'sum(rocketmq_consumer_lag_messages{{topic="{TOPIC}",consumer_group="{GROUP}"}})',
                     lambda v: v == STORED_LATER)
        p.wait_value(f'max(rocketmq_consumer_lag_latency_seconds{{topic="{TOPIC}",consumer_group="{GROUP}"}})',
                     lambda v: v > 0)
        p.wait_value('sum(rocketmq_send_latency_seconds_count)', lambda v: v >= total)
        p.wait_value('sum(rocketmq_storage_append_latency_seconds_count)', lambda v: v > 0)
        p.wait_value('sum(rocketmq_rpc_requests_total{method="mq.broker.v1.Broker/Heartbeat",code="OK"})',
                     lambda v: v > 0)
        # The slave replicates: the master sees it, and it catches up.
        p.wait_value('max(rocketmq_replication_slaves_connected)', lambda v: v == 1)
        p.wait_value('max(rocketmq_replication_slave_lag_bytes)', lambda v: v == 0)
        p.wait_value('max(rocketmq_replication_connected)', lambda v: v == 1)
        size = p.wait_value(
            f'rocketmq_storage_size_bytes{{instance="127.0.0.1:{self.master_metrics}"}}',
            lambda v: v > total * 1024)
        p.wait_value(f'rocketmq_storage_size_bytes{{instance="127.0.0.1:{self.slave_metrics}"}}',
                     lambda v: v == size)
        p.wait_value('sum(rocketmq_namesrv_broker_up{broker_id="0"})', lambda v: v == 1)
        p.wait_value(f'process_resident_memory_bytes{{instance="127.0.0.1:{self.master_metrics}"}}',
                     lambda v: v > 1 << 20)

    def test_2_bad_input_is_counted_as_refused(self):
        # A send to an invalid topic name, refused by the broker as bad input.
        before = sum(v for _, v in self.prometheus.query(
            'sum(rocketmq_rejected_requests_total{reason="bad_input"})'))
        with grpc.insecure_channel(self.server.address) as channel:
            stub = broker_pb2_grpc.BrokerStub(channel)
            with self.assertRaises(grpc.RpcError) as refused:
                stub.SendMessage(broker_pb2.SendMessageRequest(
                    producer_group="g", queue_id=-1,
                    message=common_pb2.Message(topic="bad topic!", body=b"x")), timeout=10)
            self.assertEqual(refused.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.prometheus.wait_value('sum(rocketmq_rejected_requests_total{reason="bad_input"})',
                                   lambda v: v == before + 1)

    def test_2_bad_input_over_rocketmq5s_protocol_is_counted_as_refused(self):
        # The same server's RocketMQ 5 front answers bad input with a v5 status
        # (gRPC OK): it is counted as the broker API's refusals are.
        before = sum(v for _, v in self.prometheus.query(
            'sum(rocketmq_rejected_requests_total{reason="bad_input"})'))
        with grpc.insecure_channel(self.server.address) as channel:
            stub = v2_grpc.MessagingServiceStub(channel)
            response = stub.SendMessage(
                v2.SendMessageRequest(), timeout=10,
                metadata=[("x-mq-client-id", "metrics-test@1@0@v5")])
            self.assertEqual(response.status.code, v2.Code.BAD_REQUEST)
        self.prometheus.wait_value('sum(rocketmq_rejected_requests_total{reason="bad_input"})',
                                   lambda v: v == before + 1)

    def test_3_alert_rules_are_valid_and_loaded(self):
        checked = subprocess.run(["promtool", "check", "rules", self.rules],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(checked.returncode, 0, checked.stdout)
        deadline = time.monotonic() + 30
        names = set()
        while time.monotonic() < deadline and not names:
            _, body = http_get(self.prometheus.url("/api/v1/rules"))
            names = {r["name"] for g in json.loads(body)["data"]["groups"] for r in g["rules"]}
            time.sleep(0.2)
        self.assertIn("MqDiskUsageHigh", names)
        self.assertIn("MqBrokerMissingFromNameServer", names)
        self.assertIn("MqConsumerLagGrowing", names)

    def test_4_rules_and_dashboard_name_only_exported_metrics(self):
        # What the servers export now, and every name Prometheus ingested in
        # this run (a consumer's series exist only while it is connected).
        exported = exported_names(self.scrape(self.master_metrics))
        exported |= exported_names(self.scrape(self.slave_metrics))
        _, body = http_get(self.prometheus.url("/api/v1/label/__name__/values"))
        exported |= {base_name(n) for n in json.loads(body)["data"]}
        self.assertIn("rocketmq_replication_slave_lag_bytes", exported)
        with open(self.rules) as f:
            rule_exprs = re.findall(r"expr:\s*(?:>-\n)?([\s\S]*?)(?:\n\s+(?:for|labels):)", f.read())
        with open(self.dashboard) as f:
            dashboard = json.load(f)
        dashboard_exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
        self.assertGreaterEqual(len(rule_exprs), 8)
        self.assertGreaterEqual(len(dashboard_exprs), 20)
        for expr in rule_exprs + dashboard_exprs:
            names = {base_name(n) for n in METRIC.findall(expr)}
            self.assertTrue(names, f"no metric in {expr!r}")
            missing = names - exported
            self.assertFalse(missing, f"{expr!r} names metrics no server exports: {missing}")
        # Each dashboard query parses and runs in Prometheus.
        for expr in dashboard_exprs:
            _, body = http_get(self.prometheus.url(
                "/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
            self.assertEqual(json.loads(body)["status"], "success", expr)

    def test_5_healthz(self):
        status, body = http_get(f"http://127.0.0.1:{self.master_metrics}/healthz")
        self.assertEqual((status, body), (200, "ok\n"))


if __name__ == "__main__":
    unittest.main()
