"""Runs the grpcurl commands of a Markdown file without grpcurl.

grpcurl cannot be installed on the build machines, so the commands written in
examples/grpcurl.md are replayed here with the Python gRPC stubs: each request
body is parsed into the real request message (google.protobuf.json_format, the
same JSON mapping grpcurl uses), sent to a live server, and the response is
compared with the output block the document shows after the command.

Understood grpcurl syntax (what the document may use):
  grpcurl -plaintext [-emit-defaults] [-d JSON] ADDRESS list [SERVICE]
  grpcurl -plaintext [-emit-defaults] [-d JSON] ADDRESS describe SYMBOL
  grpcurl -plaintext [-emit-defaults] [-d JSON] ADDRESS package.Service/Method
"""
import json
import re
import shlex

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)

# Response fields whose values differ from run to run (addresses with the
# server's port, times, ids made of them): only their presence is compared.
VARYING_FIELDS = frozenset({
    "msgId", "offsetMsgId", "bornTimestampMs", "storeTimestampMs", "bornHost", "storeHost",
    "brokerAddrs", "storeSize", "lastUpdateTimestampMs", "bodyCrc",
})


class Command:
    def __init__(self, argv, expected, expected_lang):
        self.argv = argv
        self.expected = expected
        self.expected_lang = expected_lang
        self.flags = {}
        rest = []
        i = 1
        while i < len(argv):
            arg = argv[i]
            if arg in ("-plaintext", "-emit-defaults"):
                self.flags[arg] = True
            elif arg == "-d":
                self.flags[arg] = argv[i + 1]
                i += 1
            elif arg.startswith("-"):
                raise ValueError(f"grpcurl flag {arg} is not understood: {' '.join(argv)}")
            else:
                rest.append(arg)
            i += 1
        if argv[0] != "grpcurl" or len(rest) < 2 or "-plaintext" not in self.flags:
            raise ValueError(f"not a plaintext grpcurl command: {' '.join(argv)}")
        self.address, self.verb, self.symbols = rest[0], rest[1], rest[2:]

    def __str__(self):
        return shlex.join(self.argv)


def _split_commands(script):
    """The argv of each grpcurl command in a shell block; a command ends at the
    end of a line outside quotes ('-d' bodies span lines)."""
    commands = []
    pending = None
    for line in re.sub(r"\\\n", " ", script).splitlines():
        if pending is None:
            if not line.strip().startswith("grpcurl "):
                continue
            pending = line
        else:
            pending += "\n" + line
        try:
            argv = shlex.split(pending)
        except ValueError:  # a quote is still open
            continue
        commands.append(argv)
        pending = None
    if pending is not None:
        raise ValueError(f"unterminated command: {pending}")
    return commands


def parse_commands(markdown):
    """The grpcurl commands of `markdown`, each with the output block after it."""
    blocks = [(m.group(1), m.group(2)) for m in _FENCE.finditer(markdown)]
    commands = []
    for index, (lang, text) in enumerate(blocks):
        if lang not in ("sh", "bash", "shell"):
            continue
        argvs = _split_commands(text)
        for position, argv in enumerate(argvs):
            expected = expected_lang = None
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            # Only a block's last command can have the output block after it.
            if position == len(argvs) - 1 and following and following[0] in ("json", "text"):
                expected_lang, expected = following
            commands.append(Command(argv, expected, expected_lang))
    return commands


def _compare(expected, actual, path):
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise AssertionError(f"{path}: expected an object, got {actual!r}")
        for key, value in expected.items():
            if key not in actual:
                raise AssertionError(f"{path}.{key}: missing in the response {actual!r}")
            if key not in VARYING_FIELDS:
                _compare(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            raise AssertionError(f"{path}: expected {len(expected)} items, got {actual!r}")
        for i, (e, a) in enumerate(zip(expected, actual)):
            _compare(e, a, f"{path}[{i}]")
    elif expected != actual:
        raise AssertionError(f"{path}: expected {expected!r}, got {actual!r}")


def _message_class(descriptor):
    # GetMessageClass is protobuf >= 4.21's name; older versions have a factory.
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


class Replayer:
    """Replays commands against `address` (instead of the one written)."""

    def __init__(self, address, reflection_pb2, reflection_pb2_grpc):
        self.channel = grpc.insecure_channel(address)
        self._reflection_pb2 = reflection_pb2
        self._reflection = reflection_pb2_grpc.ServerReflectionStub(self.channel)
        self.outputs = []

    def close(self):
        self.channel.close()

    def _reflect(self, **request):
        responses = list(self._reflection.ServerReflectionInfo(
            iter([self._reflection_pb2.ServerReflectionRequest(**request)]), timeout=10))
        response = responses[0]
        if response.HasField("error_response"):
            raise AssertionError(f"reflection {request}: {response.error_response.error_message}")
        return response

    def _pool_for(self, symbol):
        """A descriptor pool with the files reflection returns for `symbol`."""
        response = self._reflect(file_containing_symbol=symbol)
        files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
                 for raw in response.file_descriptor_response.file_descriptor_proto]
        pool = descriptor_pool.DescriptorPool()
        pending = {f.name: f for f in files}
        while pending:  # add dependencies first
            for name, proto in list(pending.items()):
                if all(dep not in pending for dep in proto.dependency):
                    pool.Add(proto)
                    del pending[name]
        return pool

    def run(self, command):
        """Runs one command; returns its output as grpcurl would print it."""
        if command.verb == "list":
            output = self._list(command.symbols)
        elif command.verb == "describe":
            output = self._describe(command.symbols)
        else:
            output = self._call(command)
        self.outputs.append((command, output))
        return output

    def _list(self, symbols):
        if not symbols:
            services = self._reflect(list_services="").list_services_response.service
            return "\n".join(sorted(s.name for s in services))
        service = self._pool_for(symbols[0]).FindServiceByName(symbols[0])
        return "\n".join(sorted(f"{service.full_name}.{m.name}" for m in service.methods))

    def _describe(self, symbols):
        symbol = symbols[0]
        pool = self._pool_for(symbol)
        service_name, _, method_name = symbol.rpartition(".")
        try:
            method = pool.FindServiceByName(service_name).methods_by_name[method_name]
        except KeyError:
            method = None
        if method is not None:
            return (f"{symbol} is a method:\n"
                    f"rpc {method.name} ( .{method.input_type.full_name} ) returns "
                    f"( .{method.output_type.full_name} );")
        message = pool.FindMessageTypeByName(symbol)
        lines = [f"{symbol} is a message:", f"message {message.name} {{"]
        for field in message.fields:
            lines.append(f"  {field.name} = {field.number};")
        lines.append("}")
        return "\n".join(lines)

    def _call(self, command):
        service_name, _, method_name = command.verb.partition("/")
        pool = descriptor_pool.Default()
        method = pool.FindServiceByName(service_name).methods_by_name[method_name]
        request_class = _message_class(method.input_type)
        response_class = _message_class(method.output_type)
        request = json_format.Parse(command.flags.get("-d", "{}"), request_class())
        call = self.channel.unary_unary(
            f"/{service_name}/{method_name}",
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        response = call(request, timeout=10)
        return json.dumps(
            json_format.MessageToDict(
                response, including_default_value_fields="-emit-defaults" in command.flags),
            indent=2)


def check_output(command, output):
    """Raises AssertionError if `output` disagrees with the document's block."""
    if command.expected is None:
        return
    expected = command.expected.strip()
    if command.verb == "list":
        if sorted(expected.splitlines()) != sorted(output.splitlines()):
            raise AssertionError(f"{command}: the document shows\n{expected}\nthe server has\n{output}")
    elif command.verb == "describe":
        # The document shows grpcurl's full rendering; the kind line, the rpc
        # line of a method, and each field's name and number must agree.
        actual_lines = output.splitlines()
        expected_lines = expected.splitlines()
        if expected_lines[0] != actual_lines[0]:
            raise AssertionError(f"{command}: '{expected_lines[0]}' but the server says "
                                 f"'{actual_lines[0]}'")
        if actual_lines[0].endswith("is a method:"):
            if expected_lines[1].strip() != actual_lines[1]:
                raise AssertionError(f"{command}: '{expected_lines[1]}' vs '{actual_lines[1]}'")
        else:
            fields = {line.strip() for line in actual_lines[2:-1]}
            shown = [re.search(r"(\w+) = (\d+);", line) for line in expected_lines[2:-1]]
            shown = {f"{m.group(1)} = {m.group(2)};" for m in shown if m}
            if shown != fields:
                raise AssertionError(f"{command}: the document shows fields {sorted(shown)}, "
                                     f"the message has {sorted(fields)}")
    else:
        _compare(json.loads(expected), json.loads(output), command.verb)
