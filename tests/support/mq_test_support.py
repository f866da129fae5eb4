"""Helpers for the Python tests: runfiles, server processes, flags, stubs.

Every server binary of the project prints "<name> listening on HOST:PORT" once
it serves and exits cleanly on SIGTERM; ServerProcess relies on both.
"""
import ctypes
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

_PR_SET_PDEATHSIG = 1


def workspace_dir():
    """The runfiles root of the workspace (the test's working directory)."""
    srcdir = os.environ.get("TEST_SRCDIR")
    workspace = os.environ.get("TEST_WORKSPACE")
    if srcdir and workspace:
        return os.path.join(srcdir, workspace)
    return os.getcwd()


def runfile(path):
    """Absolute path of a workspace-relative file listed in the test's data."""
    return os.path.join(workspace_dir(), path)


def source_dir(path):
    """The real (source tree) directory of a runfile, following its symlink."""
    return os.path.dirname(os.path.realpath(runfile(path)))


def temp_dir(prefix):
    return tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TEST_TMPDIR"))


def _die_with_parent():
    # A crashed or killed test must not leave servers behind.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class ServerProcess:
    """A server binary run as a child; waits for its "listening on" line."""

    _LISTENING = re.compile(r"(\S+) listening on (\S+):(\d+)")

    def __init__(self, binary, args, timeout=60.0):
        self.lines = []
        self._cond = threading.Condition()
        self._eof = False
        self.proc = subprocess.Popen(
            [binary] + list(args),
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            text=True,
            preexec_fn=_die_with_parent,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        match = self.wait_for(self._LISTENING, timeout)
        if match is None:
            self.kill()
            raise RuntimeError(f"{binary} did not report its address within {timeout} s")
        self.name, self.host, self.port = match.group(1), match.group(2), int(match.group(3))

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def _read(self):
        for line in self.proc.stdout:
            sys.stderr.write(f"[server] {line}")
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def wait_for(self, pattern, timeout):
        """The first match of `pattern` in a stdout line, or None after `timeout` or EOF."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    match = regex.search(line)
                    if match:
                        return match
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    return None
                self._cond.wait(left)

    def stop(self, timeout=30.0):
        """SIGTERM, then the exit code (killed after `timeout`: returns None)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        finally:
            self._reader.join(5)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def start_standalone(data_dir):
    """A standalone server (name server + broker + store) on a free loopback port."""
    return ServerProcess(
        runfile("services/standalone/standalone"),
        ["--port=0", "--listen_address=127.0.0.1", f"--data_dir={data_dir}"],
    )


_FLAG_LINE = re.compile(r"^\s+--([A-Za-z0-9_]+) \(")


def binary_flags(binary):
    """Names of the flags `binary --helpfull` lists."""
    out = subprocess.run(
        [binary, "--helpfull"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ).stdout
    flags = {m.group(1) for m in map(_FLAG_LINE.match, out.splitlines()) if m}
    if not flags:
        raise RuntimeError(f"{binary} --helpfull listed no flags:\n{out}")
    return flags


GRPC_PROTO_DIR = "/usr/share/grpc-proto"


def generate_python_stubs(out_dir, extra_grpc_protos=()):
    """Generates Python messages and stubs for proto/*.proto and RocketMQ 5's
    proto/apache/rocketmq/v2/*.proto (module proto.apache.rocketmq.v2.*) into
    `out_dir`.

    `extra_grpc_protos` are paths under /usr/share/grpc-proto (Debian's
    grpc-proto), e.g. "grpc/health/v1/health.proto"; each is generated as a
    top-level module (health_pb2, health_pb2_grpc), since a generated "grpc"
    package would hide the grpc library. Returns `out_dir`, ready for sys.path.
    """
    root = workspace_dir()
    protos = sorted(
        os.path.join(directory, name)
        for directory in ("proto", os.path.join("proto", "apache", "rocketmq", "v2"))
        if os.path.isdir(os.path.join(root, directory))
        for name in os.listdir(os.path.join(root, directory))
        if name.endswith(".proto")
    )
    # Debian's protoc and gRPC plugin, not python3-grpc-tools: its bundled
    # protoc predates proto3 `optional`, which RocketMQ 5's protocol uses.
    protoc = ["/usr/bin/protoc", "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
              f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"]
    subprocess.run(protoc + [f"-I{root}"] + protos, check=True, cwd=root)
    for proto in extra_grpc_protos:
        path = os.path.join(GRPC_PROTO_DIR, proto)
        subprocess.run(protoc + [f"-I{os.path.dirname(path)}", path], check=True)
    return out_dir
