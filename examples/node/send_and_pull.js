#!/usr/bin/env node
// Sends one message and pulls it back, with @grpc/grpc-js and the .proto files
// loaded at run time by @grpc/proto-loader.
//
//   bash examples/node/install.sh          # once: npm ci into examples/node/node_modules
//   node examples/node/send_and_pull.js --namesrv=localhost:9876 --topic=NodeExample
//
// What a client does, in the order a RocketMQ client does it: ask the name
// server for the topic's route (a new topic borrows the route of TBW102 and the
// broker creates it on the first message), send to the master of the first
// broker group, then pull the message back (long polling) from the queue and
// offset the send reported.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const DEFAULT_TOPIC = 'TBW102';
const MASTER_ID = '0';

function parseArgs(argv) {
  const args = {
    namesrv: 'localhost:9876',
    topic: 'NodeExample',
    body: 'hello from Node.js',
    timeout: 5,
    // The repository root, which holds proto/.
    proto_root: path.resolve(__dirname, '..', '..'),
  };
  for (const arg of argv) {
    const match = /^--([a-z_]+)=(.*)$/.exec(arg);
    if (!match || !(match[1] in args)) {
      throw new Error(`unknown argument ${arg}; flags: ${Object.keys(args).join(', ')}`);
    }
    args[match[1]] = match[2];
  }
  return args;
}

function loadPackages(protoRoot) {
  const definition = protoLoader.loadSync(['proto/namesrv.proto', 'proto/broker.proto'], {
    includeDirs: [protoRoot],
    keepCase: true,  // field names as in the .proto files
    longs: String,   // int64 as decimal strings
    enums: String,   // enum values by name
    bytes: Buffer,
    defaults: true,
  });
  return grpc.loadPackageDefinition(definition).mq;
}

// Promisifies one unary call with a deadline of `seconds`.
function call(client, method, request, seconds) {
  const deadline = new Date(Date.now() + seconds * 1000);
  return new Promise((resolve, reject) => {
    client[method](request, {deadline}, (error, response) => {
      if (error) reject(error); else resolve(response);
    });
  });
}

async function findRoute(namesrv, topic, seconds) {
  for (const name of [topic, DEFAULT_TOPIC]) {
    try {
      return (await call(namesrv, 'GetRouteInfoByTopic', {topic: name}, seconds)).route;
    } catch (error) {
      if (error.code !== grpc.status.NOT_FOUND) throw error;
    }
  }
  throw new Error(`no route for ${topic} or ${DEFAULT_TOPIC}`);
}

// protobufjs gives the keys of a map<int64, ...> as 8-character strings of
// the number's little-endian bytes (its "long hash"), even with longs: String;
// newer versions may give decimal strings. Both become a decimal string here.
function int64Key(key) {
  if (/^-?[0-9]+$/.test(key)) return key;
  let value = 0n;
  for (let i = key.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(key.charCodeAt(i) & 0xff);
  return BigInt.asIntN(64, value).toString();
}

function masterAddress(route) {
  const brokers = [...route.broker_datas].sort((a, b) => a.broker_name.localeCompare(b.broker_name));
  for (const broker of brokers) {
    for (const [id, address] of Object.entries(broker.broker_addrs)) {
      if (int64Key(id) === MASTER_ID) return [broker.broker_name, address];
    }
  }
  throw new Error('the route has no master broker');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const mq = loadPackages(args.proto_root);
  const credentials = grpc.credentials.createInsecure();

  const namesrv = new mq.namesrv.v1.NameServer(args.namesrv, credentials);
  const route = await findRoute(namesrv, args.topic, args.timeout);
  namesrv.close();
  const [brokerName, address] = masterAddress(route);
  console.log(`route: broker ${brokerName} at ${address}`);

  const broker = new mq.broker.v1.Broker(address, credentials);
  try {
    const sent = await call(broker, 'SendMessage', {
      producer_group: 'node_example_producers',
      message: {
        topic: args.topic,
        properties: {TAGS: 'TagA', KEYS: 'node-example'},
        body: Buffer.from(args.body),
      },
      queue_id: -1,
      default_topic: DEFAULT_TOPIC,
      default_topic_queue_nums: 4,
      born_timestamp_ms: String(Date.now()),
      broker_name: brokerName,
    }, args.timeout);
    console.log(`sent: status ${sent.status} id ${sent.offset_msg_id} ` +
                `queue ${sent.queue_id} offset ${sent.queue_offset}`);

    const pulled = await call(broker, 'PullMessage', {
      consumer_group: 'node_example_consumers',
      topic: args.topic,
      queue_id: sent.queue_id,
      queue_offset: sent.queue_offset,
      max_msg_nums: 1,
      subscription: 'TagA',
      // Long polling: the broker holds the pull until the message is
      // dispatched to the queue (or 3 s pass).
      suspend: true,
      suspend_timeout_ms: '3000',
    }, args.timeout);
    if (pulled.status !== 'FOUND' || pulled.messages.length === 0) {
      throw new Error(`pull: ${pulled.status}, no message`);
    }
    const message = pulled.messages[0];
    console.log(`pulled: id ${message.offset_msg_id} offset ${message.queue_offset} ` +
                `body '${message.body.toString()}'`);
    // The broker's id (store host and commit-log offset) names one stored message.
    if (message.offset_msg_id !== sent.offset_msg_id || message.body.toString() !== args.body) {
      throw new Error('pull: got another message than the one sent');
    }
  } finally {
    broker.close();
  }
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(1);
});
