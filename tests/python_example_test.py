"""The Python example and the grpcurl document, against a real standalone server.

Stubs are generated from proto/ at test time with Debian's python3-grpc-tools
(and gRPC's health and reflection protos from Debian's grpc-proto, for the
grpcurl replay).
"""
import os
import subprocess
import sys
import unittest

import mq_test_support as support

STUBS = support.generate_python_stubs(
    support.temp_dir("stubs"),
    extra_grpc_protos=("grpc/health/v1/health.proto", "grpc/reflection/v1alpha/reflection.proto"),
)
sys.path.insert(0, STUBS)

import grpcurl_doc  # noqa: E402
import health_pb2  # noqa: E402,F401  (registers grpc.health.v1 for the replay)
import reflection_pb2  # noqa: E402
import reflection_pb2_grpc  # noqa: E402
from proto import broker_pb2, namesrv_pb2, store_pb2  # noqa: E402,F401
from proto.apache.rocketmq.v2 import messaging_pb2  # noqa: E402,F401


class ServerTestCase(unittest.TestCase):
    def setUp(self):
        # The grpcurl document shows broker-a's outputs on a fresh server.
        self.server = support.ServerProcess(
            support.runfile("services/standalone/standalone"),
            ["--port=0", "--listen_address=127.0.0.1", "--broker_name=broker-a",
             f"--flagfile={support.runfile('tools/small_store.flags')}",
             f"--data_dir={support.temp_dir('standalone')}"],
        )

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0, "the standalone server did not exit cleanly")


class PythonExampleTest(ServerTestCase):
    def test_sends_and_pulls_a_message(self):
        result = subprocess.run(
            ["/usr/bin/python3", support.runfile("examples/python/send_and_pull.py"),
             f"--namesrv={self.server.address}", "--topic=PythonExampleTest",
             "--body=hello from the test"],
            env=dict(os.environ, PYTHONPATH=STUBS),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
        )
        sys.stderr.write(result.stdout)
        self.assertEqual(result.returncode, 0, result.stdout)
        self.assertIn("sent: status SEND_OK", result.stdout)
        self.assertIn("body 'hello from the test'", result.stdout)


class PythonStreamExampleTest(ServerTestCase):
    def test_sends_over_one_stream_and_every_answer_is_stored(self):
        result = subprocess.run(
            ["/usr/bin/python3", support.runfile("examples/python/send_stream.py"),
             f"--namesrv={self.server.address}", "--topic=PythonStreamTest", "--count=500"],
            env=dict(os.environ, PYTHONPATH=STUBS),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
        )
        sys.stderr.write(result.stdout)
        self.assertEqual(result.returncode, 0, result.stdout)
        self.assertIn("500 of 500 stored over one stream", result.stdout)
        self.assertIn("0 failed, 0 unanswered, 0 not SEND_OK", result.stdout)


class GrpcurlDocumentTest(ServerTestCase):
    def test_every_command_works_and_prints_what_the_document_shows(self):
        with open(support.runfile("examples/grpcurl.md")) as f:
            commands = grpcurl_doc.parse_commands(f.read())
        verbs = {command.verb for command in commands}
        for needed in ("list", "describe", "mq.broker.v1.Broker/SendMessage",
                       "mq.broker.v1.Broker/PullMessage",
                       "mq.namesrv.v1.NameServer/GetRouteInfoByTopic"):
            self.assertIn(needed, verbs, f"examples/grpcurl.md has no '{needed}' example")

        replayer = grpcurl_doc.Replayer(self.server.address, reflection_pb2, reflection_pb2_grpc)
        try:
            for command in commands:
                with self.subTest(command=str(command)):
                    self.assertEqual(command.address, "localhost:9876")
                    output = replayer.run(command)
                    grpcurl_doc.check_output(command, output)
        finally:
            replayer.close()
        # Every command but the last few ("More") shows its output.
        self.assertGreaterEqual(sum(1 for c in commands if c.expected is not None), 8)
