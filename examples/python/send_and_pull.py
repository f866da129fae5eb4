#!/usr/bin/python3
"""Sends one message and pulls it back, with stubs generated from proto/.

Generate the stubs once (Debian: apt install python3-grpcio python3-grpc-tools),
from the repository root:

    mkdir -p /tmp/mq-stubs
    /usr/bin/python3 -m grpc_tools.protoc -I. \
        --python_out=/tmp/mq-stubs --grpc_python_out=/tmp/mq-stubs proto/*.proto

then, against a standalone server (bazel run //services/standalone):

    PYTHONPATH=/tmp/mq-stubs /usr/bin/python3 examples/python/send_and_pull.py \
        --namesrv=localhost:9876 --topic=PythonExample

What a client does, in the order a RocketMQ client does it: ask the name
server for the topic's route (a new topic borrows the route of TBW102 and the
broker creates it on the first message), send to the master of the first broker
group, then pull the message back (long polling) from the queue and offset the send
reported.
"""
import argparse
import sys
import time

import grpc

from proto import broker_pb2, broker_pb2_grpc, common_pb2, namesrv_pb2, namesrv_pb2_grpc

DEFAULT_TOPIC = "TBW102"
MASTER_ID = 0


def find_route(namesrv, topic, timeout):
    """The topic's route, or the default topic's route if the topic is new."""
    for name in (topic, DEFAULT_TOPIC):
        try:
            return namesrv.GetRouteInfoByTopic(
                namesrv_pb2.GetRouteInfoByTopicRequest(topic=name), timeout=timeout
            ).route
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
    raise LookupError(f"no route for {topic} or {DEFAULT_TOPIC}")


def master_address(route):
    for broker in sorted(route.broker_datas, key=lambda b: b.broker_name):
        if MASTER_ID in broker.broker_addrs:
            return broker.broker_name, broker.broker_addrs[MASTER_ID]
    raise LookupError("the route has no master broker")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namesrv", default="localhost:9876", help="name server host:port")
    parser.add_argument("--topic", default="PythonExample")
    parser.add_argument("--body", default="hello from Python")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per call")
    args = parser.parse_args()

    with grpc.insecure_channel(args.namesrv) as namesrv_channel:
        namesrv = namesrv_pb2_grpc.NameServerStub(namesrv_channel)
        route = find_route(namesrv, args.topic, args.timeout)
    broker_name, address = master_address(route)
    print(f"route: broker {broker_name} at {address}")

    with grpc.insecure_channel(address) as channel:
        broker = broker_pb2_grpc.BrokerStub(channel)
        sent = broker.SendMessage(
            broker_pb2.SendMessageRequest(
                producer_group="python_example_producers",
                message=common_pb2.Message(
                    topic=args.topic,
                    properties={"TAGS": "TagA", "KEYS": "python-example"},
                    body=args.body.encode(),
                ),
                queue_id=-1,
                default_topic=DEFAULT_TOPIC,
                default_topic_queue_nums=4,
                born_timestamp_ms=int(time.time() * 1000),
                broker_name=broker_name,
            ),
            timeout=args.timeout,
        )
        print(
            f"sent: status {broker_pb2.SendStatus.Name(sent.status)} id {sent.offset_msg_id} "
            f"queue {sent.queue_id} offset {sent.queue_offset}"
        )

        pulled = broker.PullMessage(
            broker_pb2.PullMessageRequest(
                consumer_group="python_example_consumers",
                topic=args.topic,
                queue_id=sent.queue_id,
                queue_offset=sent.queue_offset,
                max_msg_nums=1,
                subscription="TagA",
                # Long polling: the broker holds the pull until the message is
                # dispatched to the queue (or 3 s pass).
                suspend=True,
                suspend_timeout_ms=3000,
            ),
            timeout=args.timeout,
        )
    if pulled.status != broker_pb2.FOUND or not pulled.messages:
        print(f"pull: {broker_pb2.PullStatus.Name(pulled.status)}, no message", file=sys.stderr)
        return 1
    message = pulled.messages[0]
    print(
        f"pulled: id {message.offset_msg_id} offset {message.queue_offset} "
        f"body {message.body.decode()!r}"
    )
    # The broker's id (store host and commit-log offset) names one stored message.
    if message.offset_msg_id != sent.offset_msg_id or message.body.decode() != args.body:
        print("pull: got another message than the one sent", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
