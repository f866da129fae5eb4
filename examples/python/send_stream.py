#!/usr/bin/python3
"""Sends many messages over one Broker.SendMessageStream and checks every answer.

With the stubs generated as in send_and_pull.py, against a standalone server:

    PYTHONPATH=/tmp/mq-stubs /usr/bin/python3 examples/python/send_stream.py \
        --namesrv=localhost:9876 --topic=PythonStream --count=1000

A producer that keeps many sends in flight writes them to one stream instead
of making a call per message. Each request carries a request_id of the
client's choosing; the broker answers each with the same id as its send
completes (in completion order), with either a SendMessageResponse or a
SendError. This writes every request, half-closes the stream, and matches the
answers to the requests by id.
"""
import argparse
import sys
import time

import grpc

from proto import broker_pb2, broker_pb2_grpc, common_pb2, namesrv_pb2_grpc
from send_and_pull import DEFAULT_TOPIC, find_route, master_address


def requests(args, broker_name):
    for i in range(args.count):
        yield broker_pb2.SendStreamRequest(
            request_id=i,
            send=broker_pb2.SendMessageRequest(
                producer_group="python_stream_producers",
                message=common_pb2.Message(
                    topic=args.topic, properties={"TAGS": "TagA"}, body=f"message {i}".encode()
                ),
                queue_id=-1,
                default_topic=DEFAULT_TOPIC,
                default_topic_queue_nums=4,
                born_timestamp_ms=int(time.time() * 1000),
                broker_name=broker_name,
            ),
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namesrv", default="localhost:9876", help="name server host:port")
    parser.add_argument("--topic", default="PythonStream")
    parser.add_argument("--count", type=int, default=1000, help="messages to send")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for the stream")
    args = parser.parse_args()

    with grpc.insecure_channel(args.namesrv) as namesrv_channel:
        route = find_route(namesrv_pb2_grpc.NameServerStub(namesrv_channel), args.topic, 5.0)
    broker_name, address = master_address(route)

    stored, failed = {}, {}
    started = time.monotonic()
    with grpc.insecure_channel(address) as channel:
        broker = broker_pb2_grpc.BrokerStub(channel)
        for answer in broker.SendMessageStream(requests(args, broker_name), timeout=args.timeout):
            if answer.WhichOneof("outcome") == "response":
                stored[answer.request_id] = answer.response
            else:
                failed[answer.request_id] = answer.error
    seconds = time.monotonic() - started

    for request_id, error in sorted(failed.items())[:5]:
        print(f"request {request_id} failed: code {error.code}: {error.message}", file=sys.stderr)
    not_ok = [i for i, r in stored.items() if r.status != broker_pb2.SEND_OK]
    missing = args.count - len(stored) - len(failed)
    print(f"{len(stored)} of {args.count} stored over one stream in {seconds:.2f} s "
          f"({args.count / seconds:.0f} msgs/s); {len(failed)} failed, {missing} unanswered, "
          f"{len(not_ok)} not SEND_OK")
    return 0 if len(stored) == args.count and not not_ok else 1


if __name__ == "__main__":
    sys.exit(main())
