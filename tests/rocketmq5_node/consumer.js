// Drives the official RocketMQ 5 Node.js consumers (rocketmq-client-nodejs,
// from npm, unmodified) against one of our endpoints: a producer of the same
// package sends, then the SimpleConsumer and the PushConsumer consume. Each
// step prints one JSON line ({"step": ..., ...}); tests/rocketmq5_node_test.py
// checks them. Exits 0 when every step ran (a step's failure is reported in
// its line), 1 when the script broke.
//
//   node consumer.js --endpoints=127.0.0.1:8081 --prefix=V5 [--tls]
//
// Topics and groups (made by the test): <prefix>Simple (group
// <prefix>SimpleGroup), <prefix>CFifo (FIFO topic, orderly group
// <prefix>CFifoGroup), <prefix>Push (group <prefix>PushGroup, retry_max_times
// 2), <prefix>Shared (group <prefix>SharedGroup, two consumers). The server
// runs with --v5_auto_renew_invisible=3s (the "slow" message takes longer).
'use strict';

const { Producer, SimpleConsumer, PushConsumer, ConsumeResult } = require('rocketmq-client-nodejs');

function flag(name, fallback) {
  const prefix = `--${name}=`;
  const arg = process.argv.find((a) => a.startsWith(prefix));
  return arg === undefined ? fallback : arg.slice(prefix.length);
}

const endpoints = flag('endpoints');
const prefix = flag('prefix', 'V5');
const sslEnabled = process.argv.includes('--tls');
const topic = (name) => `${prefix}${name}`;
const group = (name) => `${prefix}${name}Group`;

const log = (...a) => process.stderr.write(a.map(String).join(' ') + '\n');
const quiet = process.env.V5_DEBUG
  ? { info: log, warn: log, error: log, debug: log }
  : { info() {}, warn() {}, error() {}, debug() {} };

function report(step, fields) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + '\n');
}

function errorFields(err) {
  return { ok: false, error: String(err && err.message ? err.message : err),
           code: err && err.code !== undefined ? err.code : null };
}

async function attempt(step, fn) {
  try {
    report(step, { ok: true, ...(await fn()) });
  } catch (err) {
    report(step, errorFields(err));
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls `done()` every 50 ms until true or `ms` passed; returns done().
async function waitFor(done, ms) {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(50);
  return done();
}

const view = (m) => ({ messageId: m.messageId, body: m.body.toString(), attempt: m.deliveryAttempt,
                       tag: m.tag, group: m.messageGroup, corrupted: m.corrupted === true,
                       keys: m.keys, properties: Object.fromEntries(m.properties) });

async function send(producer, topicName, bodies, extra = {}) {
  const ids = {};
  for (const body of bodies) {
    const r = await producer.send({ topic: topicName, body: Buffer.from(body), ...extra });
    ids[body] = r.messageId;
  }
  return ids;
}

async function simpleConsumer(producer) {
  const consumer = new SimpleConsumer({
    endpoints, sslEnabled, logger: quiet, consumerGroup: group('Simple'),
    subscriptions: new Map([[topic('Simple'), '*']]), awaitDuration: 3000, requestTimeout: 3000,
  });
  await consumer.startup();
  try {
    const bodies = ['ack', 'change', 'expire'];
    const sent = await send(producer, topic('Simple'), bodies,
                            { tag: 'TagS', keys: ['k1'], properties: new Map([['color', 'red']]) });
    // Received: each once, first attempt, 4 s invisible.
    const got = {};
    const receivedAt = Date.now();
    for (let i = 0; i < 10 && Object.keys(got).length < 3; i++) {
      for (const m of await consumer.receive(10, 4000)) got[m.body.toString()] = m;
    }
    report('simple_received', { sent, messages: Object.values(got).map(view) });
    await attempt('simple_ack', async () => {
      await consumer.ack(got.ack);
      return {};
    });
    const change = got.change;
    const oldHandle = change.receiptHandle;
    await attempt('simple_change', async () => {
      await consumer.changeInvisibleDuration(change, 10000);
      return { handleChanged: change.receiptHandle !== oldHandle && !!change.receiptHandle };
    });
    // The handle the change replaced is refused; the new one acks.
    await attempt('simple_ack_old_handle', async () => {
      await consumer.ack({ endpoints: change.endpoints, topic: change.topic,
                           messageId: change.messageId, receiptHandle: oldHandle });
      return {};
    });
    await attempt('simple_ack_new_handle', async () => {
      await consumer.ack(change);
      return {};
    });
    // 'expire' was not acked: it comes again, second attempt, once its 4 s
    // are over; nothing else comes again.
    const again = [];
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline && !again.some((m) => m.body.toString() === 'expire')) {
      again.push(...await consumer.receive(10, 10000));
    }
    const expired = again.find((m) => m.body.toString() === 'expire');
    report('simple_redelivered', { messages: again.map(view),
                                   afterMs: Date.now() - receivedAt });
    if (expired) await attempt('simple_ack_redelivered', async () => {
      await consumer.ack(expired);
      return {};
    });
    // Settled: nothing more within one long poll.
    const rest = await consumer.receive(10, 10000);
    report('simple_rest', { messages: rest.map(view) });
  } finally {
    await consumer.shutdown();
  }
}

async function fifoConsumer(producer) {
  const consumer = new SimpleConsumer({
    endpoints, sslEnabled, logger: quiet, consumerGroup: group('CFifo'),
    subscriptions: new Map([[topic('CFifo'), '*']]), awaitDuration: 2000, requestTimeout: 3000,
  });
  await consumer.startup();
  try {
    const sent = [];
    for (let i = 0; i < 4; i++) {
      for (const g of ['groupA', 'groupB']) {
        const body = `${g}-${i}`;
        const r = await producer.send({ topic: topic('CFifo'), messageGroup: g,
                                        body: Buffer.from(body) });
        sent.push({ body, group: g, messageId: r.messageId });
      }
    }
    // The orderly group's queues hand out their next message only once the
    // one in flight is acked: a second receive before the acks gets none.
    const heads = await consumer.receive(10, 10000);
    const held = await consumer.receive(10, 10000);
    report('fifo_gate', { heads: heads.map(view), held: held.map(view) });
    // Received in order per group; each acked before the next receive.
    const received = [];
    for (const m of [...heads, ...held]) {
      received.push(view(m));
      await consumer.ack(m);
    }
    const deadline = Date.now() + 20000;
    while (received.length < sent.length && Date.now() < deadline) {
      for (const m of await consumer.receive(10, 10000)) {
        received.push(view(m));
        await consumer.ack(m);
      }
    }
    report('fifo', { sent, received });
  } finally {
    await consumer.shutdown();
  }
}

function pushConsumer(groupName, topicName, consume) {
  return new PushConsumer({
    endpoints, sslEnabled, logger: quiet, consumerGroup: groupName, requestTimeout: 3000,
    subscriptions: new Map([[topicName, '*']]), messageListener: { consume },
  });
}

async function pushConsumption(producer) {
  // body -> [{attempt, at}] of its deliveries.
  const deliveries = {};
  const consumer = pushConsumer(group('Push'), topic('Push'), async (m) => {
    const body = m.body.toString();
    (deliveries[body] = deliveries[body] || []).push({ attempt: m.deliveryAttempt, at: Date.now() });
    if (body === 'always-fail') return ConsumeResult.FAILURE;
    if (body === 'fail-once' && m.deliveryAttempt === 1) return ConsumeResult.FAILURE;
    // Longer than the front's invisible time for push consumers: renewed.
    if (body === 'slow') await sleep(Number(flag('slow_ms', '5000')));
    return ConsumeResult.SUCCESS;
  });
  await consumer.startup();
  let sent;
  try {
    sent = await send(producer, topic('Push'), ['ok-0', 'ok-1', 'ok-2', 'fail-once', 'always-fail',
                                                'slow']);
    const maxAttempts = Number(flag('push_max_attempts', '3'));
    const settled = () => ['ok-0', 'ok-1', 'ok-2', 'slow'].every((b) => deliveries[b]) &&
      (deliveries['fail-once'] || []).length >= 2 &&
      (deliveries['always-fail'] || []).length >= maxAttempts;
    await waitFor(settled, 30000);
    // Anything delivered again would show within a second more.
    await sleep(1500);
  } finally {
    await consumer.shutdown();
  }
  report('push', { sent, deliveries });
}

async function sharedConsumption(producer) {
  const byConsumer = [{}, {}];
  const consumers = [0, 1].map((i) => pushConsumer(group('Shared'), topic('Shared'), async (m) => {
    const body = m.body.toString();
    byConsumer[i][body] = (byConsumer[i][body] || 0) + 1;
    await sleep(20);
    return ConsumeResult.SUCCESS;
  }));
  await Promise.all(consumers.map((c) => c.startup()));
  const bodies = Array.from({ length: 40 }, (_, i) => `shared-${i}`);
  try {
    // Both consumers are polling before the sends.
    await sleep(2000);
    await send(producer, topic('Shared'), bodies);
    const seen = () => new Set([...Object.keys(byConsumer[0]), ...Object.keys(byConsumer[1])]);
    await waitFor(() => seen().size >= bodies.length, 20000);
    await sleep(1500);
  } finally {
    await Promise.all(consumers.map((c) => c.shutdown()));
  }
  report('shared', { sent: bodies, byConsumer });
}

async function main() {
  const producer = new Producer({ endpoints, sslEnabled, logger: quiet, requestTimeout: 5000 });
  await producer.startup();
  const scenarios = flag('scenarios', 'simple,fifo,push,shared').split(',');
  const steps = { simple: simpleConsumer, fifo: fifoConsumer, push: pushConsumption,
                  shared: sharedConsumption };
  for (const name of scenarios) {
    const started = Date.now();
    await attempt(`${name}_done`, async () => {
      await steps[name](producer);
      return { ms: Date.now() - started };
    });
  }
  await producer.shutdown();
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`consumer.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
