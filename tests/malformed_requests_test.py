"""Generated malformed requests against every RPC of every service, in both
deployments (the standalone server, and a name server, store and broker as
separate processes), as a hostile or broken client would send them.

Each answer must be a clear one: never INTERNAL or UNKNOWN, never an empty
message, always the mq-response-code trailer on an error. Afterwards every
service is still SERVING, the data sent before is intact, a normal send and
pull work, and the servers stop cleanly and start again with the data intact.
The payloads come from a fixed seed, so a failure repeats.
"""
import os
import random
import sys
import time
import unittest

import grpc

import mq_test_support as support

STUBS = support.generate_python_stubs(
    support.temp_dir("stubs"), extra_grpc_protos=("grpc/health/v1/health.proto",))
sys.path.insert(0, STUBS)

import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402
from google.protobuf import descriptor as pb_descriptor  # noqa: E402
from proto import broker_pb2, broker_pb2_grpc, namesrv_pb2, store_pb2  # noqa: E402

SEED = 20261206
# Payloads per unary method (random bytes, cut and flipped encodings, hostile
# field values).
PAYLOADS_PER_METHOD = 150
DEADLINE_S = 10.0
HOSTILE_STRINGS = [
    "", " ", "a/b", "..", "../commitlog", "/etc/passwd", "caf\u00e9", "nu\x00l", "line\nbreak",
    "x" * 100_000, "%RETRY%g", "TBW102",
]
HOSTILE_INTS = [-1, -(2**31), 2**31 - 1, 2**62, 0, 7, 1023, 1024]
BAD_CODES = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)


def _is_int(field):
    return field.type in (pb_descriptor.FieldDescriptor.TYPE_INT32,
                          pb_descriptor.FieldDescriptor.TYPE_INT64,
                          pb_descriptor.FieldDescriptor.TYPE_UINT32,
                          pb_descriptor.FieldDescriptor.TYPE_UINT64,
                          pb_descriptor.FieldDescriptor.TYPE_SINT32,
                          pb_descriptor.FieldDescriptor.TYPE_SINT64)


def _fill(message, rng, depth=0):
    """Sets every field of `message` to a hostile value (nested messages too)."""
    for field in message.DESCRIPTOR.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.type == pb_descriptor.FieldDescriptor.TYPE_STRING:
                getattr(message, field.name)[rng.choice(HOSTILE_STRINGS) or "k"] = \
                    rng.choice(HOSTILE_STRINGS)
            continue
        repeated = field.label == pb_descriptor.FieldDescriptor.LABEL_REPEATED
        if field.type == pb_descriptor.FieldDescriptor.TYPE_MESSAGE:
            if depth >= 3:
                continue
            child = getattr(message, field.name).add() if repeated else getattr(message, field.name)
            _fill(child, rng, depth + 1)
        elif field.type == pb_descriptor.FieldDescriptor.TYPE_STRING:
            value = rng.choice(HOSTILE_STRINGS)
            getattr(message, field.name).append(value) if repeated else setattr(
                message, field.name, value)
        elif field.type == pb_descriptor.FieldDescriptor.TYPE_BYTES:
            value = rng.choice([b"", b"\xff" * 64, os.urandom(16)])
            getattr(message, field.name).append(value) if repeated else setattr(
                message, field.name, value)
        elif field.type == pb_descriptor.FieldDescriptor.TYPE_BOOL:
            value = rng.random() < 0.5
            getattr(message, field.name).append(value) if repeated else setattr(
                message, field.name, value)
        elif field.type == pb_descriptor.FieldDescriptor.TYPE_ENUM:
            value = rng.choice([v.number for v in field.enum_type.values] + [99])
            getattr(message, field.name).append(value) if repeated else setattr(
                message, field.name, value)
        elif _is_int(field):
            value = rng.choice(HOSTILE_INTS)
            if field.type in (pb_descriptor.FieldDescriptor.TYPE_UINT32,
                              pb_descriptor.FieldDescriptor.TYPE_UINT64):
                value = abs(value) % (2**32)
            if field.type in (pb_descriptor.FieldDescriptor.TYPE_INT32,
                              pb_descriptor.FieldDescriptor.TYPE_SINT32):
                value = max(min(value, 2**31 - 1), -(2**31))
            getattr(message, field.name).append(value) if repeated else setattr(
                message, field.name, value)
        elif field.type == pb_descriptor.FieldDescriptor.TYPE_DOUBLE:
            setattr(message, field.name, rng.choice([-1.0, 1e308]))
    return message


def payloads(message_class, rng, count):
    """`count` request encodings, most of them malformed."""
    out = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))))
            continue
        encoded = _fill(message_class(), rng).SerializeToString()
        if kind == 1 and len(encoded) > 1:
            out.append(encoded[: rng.randrange(1, len(encoded))])
        elif kind == 2 and encoded:
            flipped = bytearray(encoded)
            for _ in range(rng.randrange(1, 4)):
                flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            out.append(bytes(flipped))
        else:
            out.append(encoded)
    return out


def _channel(address):
    # A connection of its own: after a server restart on the same port, a
    # pooled connection to the stopped process must not be reused.
    return grpc.insecure_channel(address, options=[
        ("grpc.use_local_subchannel_pool", 1), ("grpc.max_receive_message_length", 64 << 20)])


def _raw(channel, method):
    return channel.unary_unary(method, request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)


class Deployment:
    """The servers of one deployment and the addresses of each service."""

    def __init__(self, split):
        self.split = split
        self.data_dirs = {}
        self.servers = {}
        self.start()

    def _start(self, name, binary, args):
        self.servers[name] = support.ServerProcess(support.runfile(binary), args)

    def start(self):
        common = ["--listen_address=127.0.0.1", "--shutdown_grace=1s"]
        store_flags = ["--commit_log_file_size=1048576", "--max_message_size=65536",
                       "--consume_queue_units_per_file=2000", "--index_slot_count=2000",
                       "--index_max_entries=8000", "--broker_name=broker-a"]
        ports = {name: server.port for name, server in self.servers.items()}
        port = lambda name: f"--port={ports.get(name, 0)}"  # noqa: E731
        for name in ("store", "standalone"):
            self.data_dirs.setdefault(name, support.temp_dir(name))
        if not self.split:
            self._start("standalone", "services/standalone/standalone",
                        common + store_flags + [port("standalone"),
                                                f"--data_dir={self.data_dirs['standalone']}"])
            address = self.servers["standalone"].address
            self.addresses = {"namesrv": address, "broker": address, "store": address}
            return
        self._start("namesrv", "services/namesrv/namesrv",
                    ["--listen_address=127.0.0.1", port("namesrv")])
        self._start("store", "services/store/store",
                    common + store_flags + [port("store"), f"--data_dir={self.data_dirs['store']}"])
        self._start("broker", "services/broker/broker",
                    ["--listen_address=127.0.0.1", port("broker"), "--broker_name=broker-a",
                     "--max_message_size=65536",
                     f"--store_address={self.servers['store'].address}",
                     f"--namesrv_addr={self.servers['namesrv'].address}"])
        self.addresses = {name: self.servers[name].address
                          for name in ("namesrv", "broker", "store")}

    def stop(self):
        codes = {}
        for name in ("broker", "standalone", "store", "namesrv"):
            if name in self.servers:
                codes[name] = self.servers[name].stop()
        return codes

    def kill(self):
        for server in self.servers.values():
            server.kill()


class MalformedRequestsTest(unittest.TestCase):

    def run_deployment(self, split):
        deployment = Deployment(split)
        try:
            self._check(deployment)
        finally:
            deployment.kill()

    def test_standalone(self):
        self.run_deployment(split=False)

    def test_split(self):
        self.run_deployment(split=True)

    def _send(self, broker_address, body):
        stub = broker_pb2_grpc.BrokerStub(_channel(broker_address))
        request = broker_pb2.SendMessageRequest(
            producer_group="fuzz", queue_id=0, default_topic="TBW102",
            default_topic_queue_nums=4)
        request.message.topic = "FuzzData"
        request.message.body = body
        return stub.SendMessage(request, timeout=DEADLINE_S)

    def _pull(self, broker_address, offset):
        # Held until the message is consumable: a send is answered once it is
        # in the commit log, and its consume queue entry may follow a moment
        # later on a loaded machine.
        stub = broker_pb2_grpc.BrokerStub(_channel(broker_address))
        request = broker_pb2.PullMessageRequest(
            consumer_group="fuzz-reader", topic="FuzzData", queue_id=0, queue_offset=offset,
            max_msg_nums=32, commit_offset=-1, subscription="*", suspend=True,
            suspend_timeout_ms=int(DEADLINE_S * 1000 / 2))
        return stub.PullMessage(request, timeout=DEADLINE_S)

    def _check_answer(self, where, code, details, trailers):
        self.assertNotIn(code, BAD_CODES, f"{where}: {code} {details!r}")
        if code != grpc.StatusCode.OK:
            self.assertTrue(details, f"{where}: {code} with an empty message")
            self.assertIn("mq-response-code", dict(trailers or ()),
                          f"{where}: {code} {details[:200]!r} has no mq-response-code")

    def _fuzz_unary(self, address, service, module, rng):
        channel = _channel(address)
        calls = 0
        for method in service.methods:
            if method.client_streaming or method.server_streaming:
                continue
            path = f"/{service.full_name}/{method.name}"
            call = _raw(channel, path)
            request_class = getattr(module, method.input_type.name)
            for payload in payloads(request_class, rng, PAYLOADS_PER_METHOD):
                try:
                    _, state = call.with_call(payload, timeout=DEADLINE_S)
                    code, details, trailers = grpc.StatusCode.OK, "", state.trailing_metadata()
                except grpc.RpcError as error:
                    code, details, trailers = (error.code(), error.details(),
                                               error.trailing_metadata())
                self._check_answer(f"{path} {payload[:40]!r}", code, details, trailers)
                calls += 1
        return calls

    def _fuzz_streams(self, addresses, rng):
        """Garbage among good frames on the send stream; garbage on the others."""
        channel = _channel(addresses["broker"])
        stream = channel.stream_stream("/mq.broker.v1.Broker/SendMessageStream",
                                       request_serializer=lambda b: b,
                                       response_deserializer=broker_pb2.SendStreamResponse.FromString)
        good = []
        for request_id in (501, 502):
            request = broker_pb2.SendStreamRequest(request_id=request_id)
            request.send.producer_group = "fuzz"
            request.send.queue_id = 1
            request.send.message.topic = "FuzzData"
            request.send.message.body = f"stream {request_id}".encode()
            good.append(request.SerializeToString())
        for garbage in (b"\xff\xff\xff\xff", good[0][:-3],
                        bytes(rng.randrange(256) for _ in range(20))):
            responses = stream(iter([good[0], garbage, good[1]]), timeout=DEADLINE_S)
            answered = []
            with self.assertRaises(grpc.RpcError) as ended:
                for response in responses:
                    answered.append(response.request_id)
            # Every frame written is either answered or covered by the
            # stream's non-OK end: 501 answered, the rest refused with the
            # stream.
            self.assertEqual(answered, [501])
            self.assertEqual(ended.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("could not be parsed", ended.exception.details())
            self.assertIn("mq-response-code", dict(ended.exception.trailing_metadata() or ()))
        store_channel = _channel(addresses["store"])
        for path in ("/mq.store.v1.Store/WatchQueues", "/mq.store.v1.Store/Replicate"):
            for garbage in (b"\xff\xff\xff", b"\x0a\xff"):
                if path.endswith("WatchQueues"):
                    call = store_channel.unary_stream(path, request_serializer=lambda b: b,
                                                      response_deserializer=lambda b: b)
                    responses = call(garbage, timeout=3)
                else:
                    call = store_channel.stream_stream(path, request_serializer=lambda b: b,
                                                       response_deserializer=lambda b: b)
                    responses = call(iter([garbage]), timeout=3)
                try:
                    for _ in responses:
                        pass
                    code, details, trailers = grpc.StatusCode.OK, "", responses.trailing_metadata()
                except grpc.RpcError as error:
                    code, details, trailers = (error.code(), error.details(),
                                               error.trailing_metadata())
                self._check_answer(f"{path} {garbage!r}", code, details, trailers)

    def _check_serving(self, addresses):
        for name, address in addresses.items():
            health = health_pb2_grpc.HealthStub(_channel(address))
            services = {"namesrv": "mq.namesrv.v1.NameServer", "broker": "mq.broker.v1.Broker",
                        "store": "mq.store.v1.Store"}
            for service in ("", services[name]):
                answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
                self.assertEqual(answer.status, health_pb2.HealthCheckResponse.SERVING,
                                 f"{name} {service!r}")

    def _check_data(self, broker_address, sent):
        pulled = self._pull(broker_address, sent.queue_offset)
        self.assertGreaterEqual(len(pulled.messages), 1)
        self.assertEqual(pulled.messages[0].body, b"before the fuzz")

    def _rss_kib(self, deployment):
        out = {}
        for name, server in deployment.servers.items():
            with open(f"/proc/{server.proc.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        out[name] = int(line.split()[1])
        return out

    def _check(self, deployment):
        rng = random.Random(SEED + deployment.split)
        addresses = deployment.addresses
        sent = self._send(addresses["broker"], b"before the fuzz")
        rss_before = self._rss_kib(deployment)
        started = time.monotonic()
        calls = 0
        for name, module, service in (
                ("namesrv", namesrv_pb2, namesrv_pb2.DESCRIPTOR.services_by_name["NameServer"]),
                ("broker", broker_pb2, broker_pb2.DESCRIPTOR.services_by_name["Broker"]),
                ("store", store_pb2, store_pb2.DESCRIPTOR.services_by_name["Store"])):
            calls += self._fuzz_unary(addresses[name], service, module, rng)
        self._fuzz_streams(addresses, rng)
        rss_after = self._rss_kib(deployment)
        sys.stderr.write(
            f"{'split' if deployment.split else 'standalone'}: {calls} malformed unary calls in "
            f"{time.monotonic() - started:.1f} s; RSS KiB before {rss_before}, "
            f"after {rss_after}\n")

        # Memory is bounded: refused requests leave nothing behind (the store
        # grew 57 -> 187 MB under such a load when it kept them).
        for name, kib in rss_after.items():
            self.assertLess(kib - rss_before[name], 64 << 10, f"{name} grew {rss_before} -> {rss_after}")

        self._check_serving(addresses)
        self._check_data(addresses["broker"], sent)
        after = self._send(addresses["broker"], b"after the fuzz")
        self.assertEqual(after.status, broker_pb2.SEND_OK)
        self.assertEqual(self._pull(addresses["broker"], after.queue_offset).messages[0].body,
                         b"after the fuzz")

        codes = deployment.stop()
        self.assertTrue(all(code == 0 for code in codes.values()), codes)
        deployment.start()
        self._check_serving(deployment.addresses)
        self._check_data(deployment.addresses["broker"], sent)


if __name__ == "__main__":
    unittest.main()
