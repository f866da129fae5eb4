"""The Node.js example (@grpc/grpc-js + @grpc/proto-loader) against a real
standalone server.

Skips only when Node.js is not installed. Its npm dependencies live in
examples/node/node_modules (installed by examples/node/install.sh, which CI
runs before the tests); if they are missing this test runs that script, and
fails if it cannot install them. The target is tagged "local": node_modules is
in the source tree, outside the runfiles.
"""
import os
import shutil
import subprocess
import sys
import unittest

import mq_test_support as support


class NodeExampleTest(unittest.TestCase):
    def setUp(self):
        self.node = shutil.which("node")
        if self.node is None:
            self.skipTest("Node.js is not installed (no `node` on PATH)")
        self.example_dir = support.source_dir("examples/node/send_and_pull.js")
        if not os.path.isdir(os.path.join(self.example_dir, "node_modules", "@grpc", "grpc-js")):
            install = subprocess.run(
                ["bash", os.path.join(self.example_dir, "install.sh")],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
            )
            sys.stderr.write(install.stdout)
            self.assertEqual(install.returncode, 0,
                             "examples/node/install.sh could not install the npm packages")
        self.server = support.start_standalone(support.temp_dir("standalone"))

    def tearDown(self):
        if hasattr(self, "server"):
            self.assertEqual(self.server.stop(), 0, "the standalone server did not exit cleanly")

    def test_sends_and_pulls_a_message(self):
        result = subprocess.run(
            [self.node, os.path.join(self.example_dir, "send_and_pull.js"),
             f"--namesrv={self.server.address}", "--topic=NodeExampleTest",
             "--body=hello from the node test", f"--proto_root={support.workspace_dir()}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
        )
        sys.stderr.write(result.stdout)
        self.assertEqual(result.returncode, 0, result.stdout)
        self.assertIn("sent: status SEND_OK", result.stdout)
        self.assertIn("body 'hello from the node test'", result.stdout)
