"""The official RocketMQ 5 Node.js client (rocketmq-client-nodejs 1.0.8 from
npm, unmodified) produces to us over apache.rocketmq.v2: against a standalone
server (local mode: the MessagingService on the server's own port) and
against a split deployment (name server, store, broker and the separate
proxy process: cluster mode), each over plaintext and through its TLS port
(--tls_mode=permissive, self-signed certificate the client is told to trust).

Producing: tests/rocketmq5_node/producer.js starts a producer and sends normal, FIFO,
delayed and transactional messages (commit, rollback, and two left undecided
that the broker's check-back resolves through the Telemetry stream), then
sends to an unknown topic, a body over the limit and a NORMAL message to a
FIFO-only topic, and shuts down. Every message sent is read back
byte-for-byte with mqadmin consumeMessage: ids, bodies, tags, keys, user
properties, FIFO groups each in one queue in order, only the committed
transactions visible; and binary bodies (every byte value, half the size
limit) with our C++ push consumer (tests/retry_consumer --print_body).

Consuming (on the brokers' POP): tests/rocketmq5_node/consumer.js runs the
SimpleConsumer (receive and ack; change invisible duration, the replaced
handle refused; a message not acked delivered again with attempt 2 after its
invisible time, nothing else again; FIFO order per message group) and the
PushConsumer (success; a failure retried after the backoff; a message that
always fails dead-lettered after the group's retry_max_times + 1 attempts, read
back with mqadmin queryDlqMsg; a message consumed for longer than the front's
invisible time not delivered again, as the front renews it; two consumers of
one group sharing 40 messages, none twice). Plain gRPC calls check what the
Node client never sends: bad and stale receipt handles, an unknown group,
invisible and polling times out of range (clear codes, nothing changed), and
a nack's 1 ms invisible duration raised to 1 s rather than refused.

Fails (never skips) when Node.js or the npm package is missing: CI installs
them (tests/rocketmq5_node/install.sh from tools/test.sh). Tagged "local":
node_modules lives in the source tree.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

import grpc

import mq_test_support as support

STUBS = support.generate_python_stubs(support.temp_dir("stubs"))
sys.path.insert(0, STUBS)

from proto.apache.rocketmq.v2 import messaging_pb2 as v2  # noqa: E402
from proto.apache.rocketmq.v2 import messaging_pb2_grpc as v2_grpc  # noqa: E402

MAX_BODY = 65536
# Push consumers: short long polls (their shutdown waits for one) and a short
# invisible time the front renews.
V5_FLAGS = ["--v5_long_polling_timeout=2s", "--v5_auto_renew_invisible=3s"]
# Groups are made by the test (with their retry and order settings), so an
# unknown group is refused.
BROKER_FLAGS = ["--transaction_timeout=1s", "--transaction_check_interval=300ms",
                "--transaction_check_max=1000", f"--max_message_size={MAX_BODY}",
                "--auto_create_subscription_group=false"] + V5_FLAGS
STORE_FLAGS = ["--commit_log_file_size=4194304", "--consume_queue_units_per_file=2000",
               "--index_slot_count=2000", "--index_max_entries=8000",
               f"--max_message_size={MAX_BODY}"]
COMMON = ["--listen_address=127.0.0.1", "--shutdown_grace=1s"]
# Plaintext on --port, TLS with a self-signed certificate on a free port.
TLS_FLAGS = ["--tls_mode=permissive", "--tls_port=0"]
# Topic -> mqadmin updateTopic attribute (None: the default, every type).
TOPICS = {"Normal": None, "Fifo": "+message.type=FIFO", "Delay": "+message.type=DELAY",
          "Tx": "+message.type=TRANSACTION", "Binary": None,
          # Consumed (consumer.js; Rules: the plain gRPC checks).
          "Simple": None, "CFifo": "+message.type=FIFO", "Push": None, "Shared": None,
          "Rules": None}
# Group suffix -> mqadmin updateSubGroup options.
GROUPS = {"SimpleGroup": [], "CFifoGroup": ["-o", "true"], "PushGroup": ["-r", "2"],
          "SharedGroup": [], "RulesGroup": [], "BinaryReader": []}
PUSH_MAX_ATTEMPTS = 3  # PushGroup's retry_max_times + 1


def node_dir():
    return support.source_dir("tests/rocketmq5_node/producer.js")


class RocketMQ5NodeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = shutil.which("node")
        if cls.node is None:
            raise AssertionError("Node.js is not installed (no `node` on PATH); "
                                 "tools/bootstrap.sh installs it")
        if not os.path.isdir(os.path.join(node_dir(), "node_modules", "rocketmq-client-nodejs")):
            install = subprocess.run(["bash", os.path.join(node_dir(), "install.sh")],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     timeout=600)
            sys.stderr.write(install.stdout)
            if install.returncode != 0:
                raise AssertionError("tests/rocketmq5_node/install.sh could not install "
                                     "rocketmq-client-nodejs")
        cls.mqadmin = support.runfile("tools/mqadmin/mqadmin")

    def setUp(self):
        self.servers = []

    def tearDown(self):
        # Stopped in reverse start order; each must exit cleanly.
        codes = [(s.name, s.stop()) for s in reversed(self.servers)]
        for name, code in codes:
            self.assertEqual(code, 0, f"{name} did not exit cleanly")

    def start(self, binary, args):
        server = support.ServerProcess(support.runfile(binary), args)
        self.servers.append(server)
        return server

    def admin(self, namesrv, *args, check=True):
        result = subprocess.run([self.mqadmin, args[0], "-n", namesrv, *args[1:]],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                timeout=30)
        if check:
            self.assertEqual(result.returncode, 0, result.stdout)
        return result.stdout

    def create_topics(self, namesrv, prefix):
        for suffix, attribute in TOPICS.items():
            args = ["updateTopic", "-t", prefix + suffix, "-c", "DefaultCluster", "-r", "4",
                    "-w", "4"]
            if attribute:
                args += ["-a", attribute]
            out = self.admin(namesrv, *args)
            if attribute:
                self.assertIn("attributes={" + attribute.upper().replace("MESSAGE.TYPE",
                                                                        "message.type"), out)
        for suffix, options in GROUPS.items():
            self.admin(namesrv, "updateSubGroup", "-g", prefix + suffix, "-c", "DefaultCluster",
                       *options)
        # Routes reach the name server with the broker's next registration.
        deadline = time.monotonic() + 30
        for suffix in TOPICS:
            while "brokerName" not in self.admin(namesrv, "topicRoute", "-t", prefix + suffix,
                                                 check=False):
                self.assertLess(time.monotonic(), deadline, f"no route for {prefix}{suffix}")
                time.sleep(0.2)

    def messages(self, namesrv, topic):
        """Messages of `topic` as mqadmin consumeMessage prints them."""
        out = self.admin(namesrv, "consumeMessage", "-t", topic, "-c", "100")
        found = []
        for block in out.split("\n\n"):
            fields = dict(re.findall(r"^([A-Za-z ]+):\s+(.*)$", block, re.M))
            if "Message ID" in fields:
                found.append(fields)
        return found

    def run_consumer(self, endpoint, prefix, tls_cert):
        """Runs consumer.js; returns its report lines by step."""
        env = {**os.environ, "HOME": support.temp_dir("home")}
        args = [f"--endpoints={endpoint}", f"--prefix={prefix}",
                f"--push_max_attempts={PUSH_MAX_ATTEMPTS}"]
        if tls_cert:
            env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = tls_cert
            args.append("--tls")
        proc = subprocess.Popen(
            [self.node, os.path.join(node_dir(), "consumer.js")] + args,
            stdout=subprocess.PIPE, stderr=sys.stderr, text=True, cwd=node_dir(), env=env)
        killer = threading.Timer(120, proc.kill)
        killer.start()
        steps = {}
        try:
            for line in proc.stdout:
                sys.stderr.write(f"[consumer.js] {line[:400]}\n")
                event = json.loads(line)
                steps.setdefault(event["step"], []).append(event)
            self.assertEqual(proc.wait(), 0, "consumer.js failed (or was killed after 120 s)")
        finally:
            killer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return steps

    def run_producer(self, endpoint, prefix, while_running, tls_cert):
        """Runs producer.js (over TLS, trusting `tls_cert`, when given); calls
        `while_running()` once its sends are done, before it shuts down.
        Returns its report lines by step."""
        env = {**os.environ, "HOME": support.temp_dir("home")}
        args = [f"--endpoints={endpoint}", f"--prefix={prefix}", "--check_wait_ms=20000"]
        if tls_cert:
            # Node verifies the server's certificate; NODE_EXTRA_CA_CERTS does
            # not reach grpc-js, this does.
            env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = tls_cert
            args.append("--tls")
        proc = subprocess.Popen(
            [self.node, os.path.join(node_dir(), "producer.js")] + args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=sys.stderr, text=True,
            cwd=node_dir(), env=env)
        killer = threading.Timer(60, proc.kill)
        killer.start()
        steps = {}
        try:
            for line in proc.stdout:
                sys.stderr.write(f"[producer.js] {line}")
                event = json.loads(line)
                steps.setdefault(event["step"], []).append(event)
                if event["step"] == "checks_done":
                    try:
                        while_running()
                    finally:
                        proc.stdin.write("go\n")
                        proc.stdin.flush()
            self.assertEqual(proc.wait(), 0, "producer.js failed (or was killed after 60 s)")
        finally:
            killer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return steps

    def consume_with_cpp(self, namesrv, topic, expected_ids):
        """Our C++ push consumer's deliveries of `topic` until every id in
        `expected_ids` came (bounded): {message id: body in hex}."""
        proc = subprocess.Popen(
            [support.runfile("tests/retry_consumer"), f"--namesrv_addr={namesrv}",
             f"--group={topic}Reader", f"--topic={topic}", f"--instance_name={topic}-reader",
             "--print_body"],
            stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        killer = threading.Timer(30, proc.kill)
        killer.start()
        consumed = {}
        try:
            for line in proc.stdout:
                fields = line.split()
                if fields[0] != "consumed":
                    continue
                consumed[fields[1]] = fields[4] if len(fields) > 4 else ""
                if expected_ids <= set(consumed):
                    proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(), 0, "the C++ consumer failed (or was killed after 30 s)")
        finally:
            killer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return consumed

    def check_server_side_rules(self, namesrv, endpoint, prefix):
        """What the Node client checks itself (and so never sends) is checked
        by the server too; plain gRPC calls, as a client without those checks."""
        with grpc.insecure_channel(endpoint) as channel:
            stub = v2_grpc.MessagingServiceStub(channel)
            metadata = (("x-mq-client-id", "python-test@1"),)

            def send(topic, body, **system):
                message = v2.Message(topic=v2.Resource(name=topic), body=body)
                message.system_properties.message_id = "0102FC0000000130390B14FB08000000FF"
                for key, value in system.items():
                    setattr(message.system_properties, key, value)
                return stub.SendMessage(v2.SendMessageRequest(messages=[message]),
                                        metadata=metadata, timeout=10)

            mismatch = send(prefix + "Fifo", b"normal", message_type=v2.NORMAL)
            self.assertEqual(mismatch.status.code, v2.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
                             mismatch)
            self.assertEqual(len(mismatch.entries), 1)
            too_large = send(prefix + "Normal", b"x" * (MAX_BODY + 1), message_type=v2.NORMAL)
            self.assertEqual(too_large.status.code, v2.MESSAGE_BODY_TOO_LARGE, too_large)
            empty = send(prefix + "Normal", b"", message_type=v2.NORMAL)
            self.assertEqual(empty.status.code, v2.MESSAGE_BODY_EMPTY, empty)
            beat = stub.Heartbeat(v2.HeartbeatRequest(client_type=v2.PRODUCER), timeout=10)
            self.assertEqual(beat.status.code, v2.CLIENT_ID_REQUIRED, beat)
            receive = list(stub.ReceiveMessage(v2.ReceiveMessageRequest(), metadata=metadata,
                                               timeout=10))
            self.assertEqual(receive[0].status.code, v2.ILLEGAL_CONSUMER_GROUP, receive)
            self.check_consumer_rules(stub, metadata, namesrv, prefix, send)
            end = stub.EndTransaction(
                v2.EndTransactionRequest(topic=v2.Resource(name=prefix + "Tx"),
                                         transaction_id="not-ours", resolution=v2.COMMIT),
                metadata=metadata, timeout=10)
            self.assertEqual(end.status.code, v2.INVALID_TRANSACTION_ID, end)

    def check_consumer_rules(self, stub, metadata, namesrv, prefix, send):
        """The consumer RPCs' refusals: codes the clients know, nothing changed."""
        topic, group = v2.Resource(name=prefix + "Rules"), v2.Resource(name=prefix + "RulesGroup")
        access_point = v2.Endpoints(scheme=v2.IPv4,
                                    addresses=[v2.Address(host="127.0.0.1", port=1)])
        assignment = stub.QueryAssignment(
            v2.QueryAssignmentRequest(topic=topic, group=group, endpoints=access_point),
            metadata=metadata, timeout=10)
        self.assertEqual(assignment.status.code, v2.OK, assignment)
        self.assertEqual(len(assignment.assignments), 1, assignment)
        queue = assignment.assignments[0].message_queue
        self.assertEqual(queue.id, -1)
        self.assertEqual(list(queue.broker.endpoints.addresses), list(access_point.addresses))
        unknown_topic = stub.QueryAssignment(
            v2.QueryAssignmentRequest(topic=v2.Resource(name=prefix + "NoSuchTopic"), group=group,
                                      endpoints=access_point), metadata=metadata, timeout=10)
        self.assertEqual(unknown_topic.status.code, v2.TOPIC_NOT_FOUND, unknown_topic)

        def receive(invisible_ms=30000, polling_ms=3000, **fields):
            request = v2.ReceiveMessageRequest(
                group=group, message_queue=queue, batch_size=10,
                filter_expression=v2.FilterExpression(type=v2.TAG, expression="*"))
            request.invisible_duration.FromMilliseconds(invisible_ms)
            request.long_polling_timeout.FromMilliseconds(polling_ms)
            for key, value in fields.items():
                if key == "group":
                    request.group.name = value
                else:
                    setattr(request, key, value)
            frames = list(stub.ReceiveMessage(request, metadata=metadata, timeout=10))
            self.assertTrue(frames[0].HasField("status"), frames)
            return frames[0].status.code, [f.message for f in frames if f.HasField("message")]

        def ack(handle):
            return stub.AckMessage(v2.AckMessageRequest(
                group=group, topic=topic,
                entries=[v2.AckMessageEntry(message_id="x", receipt_handle=handle)]),
                metadata=metadata, timeout=10)

        def change(handle, ms):
            request = v2.ChangeInvisibleDurationRequest(group=group, topic=topic,
                                                        receipt_handle=handle, message_id="x")
            request.invisible_duration.FromMilliseconds(ms)
            return stub.ChangeInvisibleDuration(request, metadata=metadata, timeout=10)

        self.assertEqual(receive(group=prefix + "NoSuchGroup")[0], v2.CONSUMER_GROUP_NOT_FOUND)
        self.assertEqual(receive(invisible_ms=13 * 3600 * 1000)[0], v2.ILLEGAL_INVISIBLE_TIME)
        self.assertEqual(receive(polling_ms=-1000)[0], v2.ILLEGAL_POLLING_TIME)
        self.assertEqual(receive(polling_ms=0)[0], v2.MESSAGE_NOT_FOUND)

        self.assertEqual(send(prefix + "Rules", b"rules", message_type=v2.NORMAL).status.code,
                         v2.OK)
        code, messages = receive()
        self.assertEqual(code, v2.OK)
        self.assertEqual([m.body for m in messages], [b"rules"])
        handle = messages[0].system_properties.receipt_handle
        broker = queue.broker.name
        # Refused, each changing nothing: not a handle, a stale one of ours,
        # an invisible time out of range.
        for bad in ("garbage", f"{broker}:1:{broker}:{prefix}Rules:0:0:999999"):
            refused = ack(bad)
            self.assertEqual(refused.status.code, v2.INVALID_RECEIPT_HANDLE, refused)
            self.assertEqual(refused.entries[0].status.code, v2.INVALID_RECEIPT_HANDLE, refused)
            self.assertEqual(change(bad, 10000).status.code, v2.INVALID_RECEIPT_HANDLE)
            forward = stub.ForwardMessageToDeadLetterQueue(
                v2.ForwardMessageToDeadLetterQueueRequest(group=group, topic=topic,
                                                          receipt_handle=bad, message_id="x"),
                metadata=metadata, timeout=10)
            self.assertEqual(forward.status.code, v2.INVALID_RECEIPT_HANDLE, forward)
        self.assertEqual(change(handle, 13 * 3600 * 1000).status.code, v2.ILLEGAL_INVISIBLE_TIME)
        self.assertEqual(change(handle, -1).status.code, v2.ILLEGAL_INVISIBLE_TIME)
        # A 1 ms invisible time (the Node push consumer's nack) is raised to
        # 1 s: the message shows again, second attempt; the handle it
        # replaced is refused.
        changed_at = time.monotonic()
        changed = change(handle, 1)
        self.assertEqual(changed.status.code, v2.OK, changed)
        self.assertNotEqual(changed.receipt_handle, handle)
        self.assertEqual(ack(handle).status.code, v2.INVALID_RECEIPT_HANDLE)
        code, again = receive(polling_ms=5000)
        self.assertEqual(code, v2.OK)
        self.assertGreater(time.monotonic() - changed_at, 0.9)
        self.assertEqual([(m.body, m.system_properties.delivery_attempt) for m in again],
                         [(b"rules", 2)])
        self.assertEqual(ack(again[0].system_properties.receipt_handle).status.code, v2.OK)
        self.assertEqual(receive(polling_ms=0)[0], v2.MESSAGE_NOT_FOUND)

        # Forwarded to the DLQ at once (a FIFO push consumer giving up): settled.
        self.assertEqual(send(prefix + "Rules", b"give up", message_type=v2.NORMAL).status.code,
                         v2.OK)
        code, messages = receive()
        self.assertEqual([m.body for m in messages], [b"give up"])
        handle = messages[0].system_properties.receipt_handle
        forward = stub.ForwardMessageToDeadLetterQueue(
            v2.ForwardMessageToDeadLetterQueueRequest(
                group=group, topic=topic, receipt_handle=handle,
                message_id=messages[0].system_properties.message_id, delivery_attempt=1,
                max_delivery_attempts=1), metadata=metadata, timeout=10)
        self.assertEqual(forward.status.code, v2.OK, forward)
        self.assertEqual(ack(handle).status.code, v2.INVALID_RECEIPT_HANDLE)
        dead = self.admin(namesrv, "queryDlqMsg", "-g", prefix + "RulesGroup", "-c",
                          "DefaultCluster")
        self.assertIn(messages[0].system_properties.message_id, dead)
        self.assertIn("Dead letters: 1", dead)

    def check_consumers(self, namesrv, endpoint, prefix, tls_cert):
        steps = self.run_consumer(endpoint, prefix, tls_cert)
        for step in ("simple_done", "fifo_done", "push_done", "shared_done"):
            self.assertTrue(steps[step][0]["ok"], steps[step])

        # SimpleConsumer: every message once, first attempt, as sent.
        received = steps["simple_received"][0]
        sent = received["sent"]
        self.assertEqual({m["body"]: m["messageId"] for m in received["messages"]}, sent)
        for m in received["messages"]:
            self.assertEqual((m["attempt"], m["tag"], m["keys"], m["properties"], m["corrupted"]),
                             (1, "TagS", ["k1"], {"color": "red"}, False), m)
        for step in ("simple_ack", "simple_ack_new_handle", "simple_ack_redelivered"):
            self.assertTrue(steps[step][0]["ok"], steps[step])
        self.assertTrue(steps["simple_change"][0]["handleChanged"], steps["simple_change"])
        stale = steps["simple_ack_old_handle"][0]
        self.assertFalse(stale["ok"], stale)
        self.assertEqual(stale["code"], 40013, stale)  # INVALID_RECEIPT_HANDLE
        # Only the message not acked came again: second attempt, after its
        # 4 s invisible time.
        again = steps["simple_redelivered"][0]
        self.assertEqual([(m["body"], m["attempt"], m["messageId"]) for m in again["messages"]],
                         [("expire", 2, sent["expire"])], again)
        self.assertGreaterEqual(again["afterMs"], 3500, again)
        self.assertEqual(steps["simple_rest"][0]["messages"], [])

        # FIFO: a queue's next message waits for the ack of the one in flight
        # (the groups' first ones came; nothing more before their acks) ...
        gate = steps["fifo_gate"][0]
        self.assertTrue(gate["heads"], gate)
        self.assertLessEqual({m["body"] for m in gate["heads"]}, {"groupA-0", "groupB-0"}, gate)
        self.assertEqual(gate["held"], [], gate)
        # ... so each message group comes in send order, each message once.
        fifo = steps["fifo"][0]
        for g in ("groupA", "groupB"):
            self.assertEqual([m["body"] for m in fifo["received"] if m["group"] == g],
                             [m["body"] for m in fifo["sent"] if m["group"] == g], fifo)
        self.assertEqual(len(fifo["received"]), len(fifo["sent"]), fifo)

        # PushConsumer.
        push = steps["push"][0]
        deliveries = push["deliveries"]
        attempts = {body: [d["attempt"] for d in ds] for body, ds in deliveries.items()}
        self.assertEqual(attempts, {"ok-0": [1], "ok-1": [1], "ok-2": [1], "slow": [1],
                                    "fail-once": [1, 2],
                                    "always-fail": list(range(1, PUSH_MAX_ATTEMPTS + 1))}, push)
        # The nack's backoff (1 s, sent as 1 ms) held the retry back.
        retry = deliveries["fail-once"]
        self.assertGreaterEqual(retry[1]["at"] - retry[0]["at"], 900, retry)
        dead = self.admin(namesrv, "queryDlqMsg", "-g", prefix + "PushGroup", "-c",
                          "DefaultCluster")
        self.assertIn(push["sent"]["always-fail"], dead)
        self.assertIn("Dead letters: 1", dead)

        # Two consumers of one group: every message once, both had some.
        shared = steps["shared"][0]
        counts = shared["byConsumer"]
        self.assertEqual(sorted(set(counts[0]) | set(counts[1])), sorted(shared["sent"]))
        self.assertFalse(set(counts[0]) & set(counts[1]), shared)
        self.assertEqual({n for c in counts for n in c.values()}, {1}, shared)
        self.assertTrue(counts[0] and counts[1], shared)

    def check_deployment(self, namesrv, endpoint, prefix, tls_cert=None):
        self.create_topics(namesrv, prefix)
        if tls_cert is None:
            self.check_server_side_rules(namesrv, endpoint, prefix)

        def producer_listed():
            # The Node producer is in the broker's client table under its
            # transactional topic (the v5 producer group), with the language
            # and version of its x-mq-language and x-mq-client-version.
            out = self.admin(namesrv, "producerConnection", "-g", prefix + "Tx")
            self.assertRegex(out, r"\S+@\d+@\d+@\S+\s+HTTP\s+1\.0\.8\s", out)

        steps = self.run_producer(endpoint, prefix, producer_listed, tls_cert)
        # Its shutdown (NotifyClientTermination) took it out of the table.
        self.assertIn("has no live producer",
                      self.admin(namesrv, "producerConnection", "-g", prefix + "Tx", check=False))

        self.assertTrue(steps["startup"][0]["ok"], steps["startup"])
        self.assertEqual(steps["startup"][0]["maxBodySize"], MAX_BODY)
        for step in ("normal", "binary", "fifo", "delay", "transaction", "shutdown"):
            for event in steps[step]:
                self.assertTrue(event["ok"], event)
        # Refusals, with the v5 codes the client reports.
        unknown = steps["unknown_topic"][0]
        self.assertFalse(unknown["ok"])
        self.assertEqual(unknown["code"], 40402, unknown)
        too_large = steps["too_large"][0]
        self.assertFalse(too_large["ok"])
        self.assertIn(f"max size={MAX_BODY} bytes", too_large["error"])
        mismatch = steps["type_mismatch"][0]
        self.assertFalse(mismatch["ok"])
        self.assertIn("message type not match", mismatch["error"])
        horizon = steps["delay_beyond_horizon"][0]
        self.assertFalse(horizon["ok"])
        self.assertEqual(horizon["code"], 40012, horizon)

        # Normal: ids, bodies, tag, keys and user properties kept; offsets distinct.
        normal = {m["Message ID"]: m for m in self.messages(namesrv, prefix + "Normal")}
        self.assertEqual(len(normal), 3, normal)
        for sent in steps["normal"]:
            stored = normal[sent["messageId"]]
            self.assertEqual(stored["Body"], sent["body"])
            self.assertEqual(stored["Tags"], "TagA")
            self.assertIn(stored["Keys"], {"key0", "key1", "key2"})
            self.assertIn("color=blue", stored["Properties"])

        # Binary bodies through our C++ push consumer, byte-for-byte.
        sent = {e["messageId"]: e["bodyHex"] for e in steps["binary"]}
        self.assertEqual(len(sent), 2, steps["binary"])
        self.assertEqual(self.consume_with_cpp(namesrv, prefix + "Binary", set(sent)), sent)

        # FIFO: each group in one queue, in send order.
        fifo = self.messages(namesrv, prefix + "Fifo")
        self.assertEqual(len(fifo), 6, fifo)
        by_id = {m["Message ID"]: m for m in fifo}
        for group in ("groupA", "groupB"):
            sent = [e for e in steps["fifo"] if e["group"] == group]
            stored = [by_id[e["messageId"]] for e in sent]
            self.assertEqual([m["Body"] for m in stored], [e["body"] for e in sent])
            self.assertEqual(len({m["Queue"] for m in stored}), 1, stored)
            offsets = [int(m["Queue Offset"]) for m in stored]
            self.assertEqual(offsets, sorted(offsets))
            for m in stored:
                self.assertIn(f"__SHARDINGKEY={group}", m["Properties"])

        # Delayed: delivered to its topic once due, not before.
        delay = steps["delay"][0]
        deadline = time.monotonic() + 20
        while not self.messages(namesrv, prefix + "Delay"):
            self.assertLess(time.monotonic(), deadline, "the delayed message was not delivered")
            time.sleep(0.2)
        self.assertGreaterEqual(time.time() * 1000, delay["deliverAt"])
        delivered = self.messages(namesrv, prefix + "Delay")
        self.assertEqual([(m["Message ID"], m["Body"]) for m in delivered],
                         [(delay["messageId"], delay["body"])])

        # Transactions: the check-back asked about exactly the two undecided
        # ones (intact bodies), and only the committed ones are visible.
        checked = {c["body"] for c in steps.get("check", [])}
        self.assertEqual(checked, {f"{prefix} tx check-commit", f"{prefix} tx check-rollback"})
        for check in steps["check"]:
            self.assertFalse(check["corrupted"], check)
        ids = {e["decision"]: e["messageId"] for e in steps["transaction"]}
        self.assertEqual(check_ids := {c["messageId"] for c in steps["check"]},
                         {ids["check-commit"], ids["check-rollback"]}, check_ids)
        visible = {m["Message ID"]: m["Body"] for m in self.messages(namesrv, prefix + "Tx")}
        self.assertEqual(visible, {ids["commit"]: f"{prefix} tx commit",
                                   ids["check-commit"]: f"{prefix} tx check-commit"})

        self.check_consumers(namesrv, endpoint, prefix, tls_cert)

    def tls_endpoint(self, server):
        """The TLS port and self-signed certificate a --tls_mode=permissive
        server printed."""
        port = server.wait_for(r" TLS port \S+:(\d+)", 10)
        cert = server.wait_for(r" TLS certificate: (\S+)", 10)
        self.assertIsNotNone(port, "no TLS port printed")
        self.assertIsNotNone(cert, "no TLS certificate printed")
        return f"127.0.0.1:{port.group(1)}", cert.group(1)

    def test_standalone_local_mode(self):
        server = self.start("services/standalone/standalone",
                            COMMON + STORE_FLAGS + BROKER_FLAGS + TLS_FLAGS +
                            ["--port=0", f"--data_dir={support.temp_dir('standalone')}"])
        self.check_deployment(server.address, server.address, "Sa")
        # The same through the TLS port: routes point the client back to it.
        tls_address, cert = self.tls_endpoint(server)
        self.check_deployment(server.address, tls_address, "SaTls", tls_cert=cert)

    def test_split_deployment_through_proxy(self):
        namesrv = self.start("services/namesrv/namesrv", ["--listen_address=127.0.0.1", "--port=0"])
        store = self.start("services/store/store",
                           COMMON + STORE_FLAGS + ["--port=0", "--broker_name=broker-a",
                                                   f"--data_dir={support.temp_dir('store')}"])
        self.start("services/broker/broker",
                   COMMON + BROKER_FLAGS + ["--port=0", "--broker_name=broker-a",
                                            f"--store_address={store.address}",
                                            f"--namesrv_addr={namesrv.address}"])
        proxy = self.start("services/proxy/proxy",
                           COMMON + TLS_FLAGS + V5_FLAGS +
                           ["--port=0", f"--namesrv_addr={namesrv.address}",
                            f"--max_body_size={MAX_BODY}",
                            f"--tls_dir={support.temp_dir('proxy-tls')}"])
        self.check_deployment(namesrv.address, proxy.address, "Split")
        tls_address, cert = self.tls_endpoint(proxy)
        self.check_deployment(namesrv.address, tls_address, "SplitTls", tls_cert=cert)


if __name__ == "__main__":
    unittest.main()
