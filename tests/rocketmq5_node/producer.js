// Drives the official RocketMQ 5 Node.js client (rocketmq-client-nodejs, from
// npm, unmodified) against one of our endpoints. Each step prints one JSON
// line ({"step": ..., ...}); tests/rocketmq5_node_test.py checks them and reads
// the sent messages back with mqadmin. Exits 0 when every step ran (failures
// of a step are reported in its line, not thrown), 1 when the script broke.
//
//   node producer.js --endpoints=127.0.0.1:8081 --prefix=V5 [--tls]
'use strict';

const { Producer } = require('rocketmq-client-nodejs');
// The TransactionResolution enum the client answers check-backs with.
const { TransactionResolution } = require(
  'rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb');

function flag(name, fallback) {
  const prefix = `--${name}=`;
  const arg = process.argv.find((a) => a.startsWith(prefix));
  return arg === undefined ? fallback : arg.slice(prefix.length);
}

const endpoints = flag('endpoints');
const prefix = flag('prefix', 'V5');
const sslEnabled = process.argv.includes('--tls');
const topics = {
  normal: `${prefix}Normal`,
  fifo: `${prefix}Fifo`,
  delay: `${prefix}Delay`,
  tx: `${prefix}Tx`,
  binary: `${prefix}Binary`,
};

// A logger that keeps the client's chatter off stdout (stdout is the report).
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

// The check-back: bodies that say "check-commit" are committed, anything
// else rolled back.
const checked = [];
const checker = {
  async check(messageView) {
    const body = messageView.body.toString();
    checked.push({ messageId: messageView.messageId, body });
    report('check', { messageId: messageView.messageId, body,
                      corrupted: messageView.corrupted === true });
    return body.includes('check-commit') ? TransactionResolution.COMMIT
                                         : TransactionResolution.ROLLBACK;
  },
};

async function main() {
  const producer = new Producer({
    endpoints,
    sslEnabled,
    logger: quiet,
    // Only the transactional topic: the check-backs go to the producers that
    // announce it. (With several topics, Node 1.0.8 can miss its first
    // settings reply while it fetches the later routes and wait forever.)
    topic: topics.tx,
    checker,
    requestTimeout: 5000,
  });
  await attempt('startup', async () => {
    await producer.startup();
    return { maxBodySize: producer.publishingSettings.maxBodySizeBytes };
  });

  for (let i = 0; i < 3; i++) {
    await attempt('normal', async () => {
      const body = `${prefix} normal ${i}`;
      const r = await producer.send({ topic: topics.normal, tag: 'TagA', keys: [`key${i}`],
                                      properties: new Map([['color', 'blue']]),
                                      body: Buffer.from(body) });
      return { messageId: r.messageId, offset: Number(r.offset), body };
    });
  }
  // Binary bodies, read back by our C++ consumer: every byte value, and half
  // the limit of a byte pattern.
  const half = producer.publishingSettings.maxBodySizeBytes / 2;
  for (const body of [Buffer.from([...Array(256).keys()]),
                      Buffer.from(Array.from({ length: half }, (_, i) => (i * 7 + 3) % 256))]) {
    await attempt('binary', async () => {
      const r = await producer.send({ topic: topics.binary, body });
      return { messageId: r.messageId, bodyHex: body.toString('hex') };
    });
  }
  for (const group of ['groupA', 'groupB']) {
    for (let i = 0; i < 3; i++) {
      await attempt('fifo', async () => {
        const body = `${prefix} fifo ${group} ${i}`;
        const r = await producer.send({ topic: topics.fifo, messageGroup: group,
                                        body: Buffer.from(body) });
        return { messageId: r.messageId, offset: Number(r.offset), body, group };
      });
    }
  }
  await attempt('delay', async () => {
    const body = `${prefix} delay 0`;
    const at = Date.now() + 2000;
    const r = await producer.send({ topic: topics.delay, deliveryTimestamp: new Date(at),
                                    body: Buffer.from(body) });
    return { messageId: r.messageId, body, deliverAt: at };
  });
  await attempt('delay_beyond_horizon', async () => {
    const r = await producer.send({ topic: topics.delay,
                                    deliveryTimestamp: new Date(Date.now() + 400 * 86400000),
                                    body: Buffer.from(`${prefix} delay too far`) });
    return { messageId: r.messageId };
  });
  for (const decision of ['commit', 'rollback', 'check-commit', 'check-rollback']) {
    await attempt('transaction', async () => {
      const body = `${prefix} tx ${decision}`;
      const transaction = producer.beginTransaction();
      const r = await producer.send({ topic: topics.tx, body: Buffer.from(body) }, transaction);
      if (decision === 'commit') await transaction.commit();
      if (decision === 'rollback') await transaction.rollback();
      // check-*: neither; the server asks the checker later.
      return { messageId: r.messageId, body, decision };
    });
  }
  await attempt('unknown_topic', async () => {
    const r = await producer.send({ topic: `${prefix}NoSuchTopic`, body: Buffer.from('x') });
    return { messageId: r.messageId };
  });
  await attempt('too_large', async () => {
    const size = producer.publishingSettings.maxBodySizeBytes + 1;
    const r = await producer.send({ topic: topics.normal, body: Buffer.alloc(size, 0x61) });
    return { messageId: r.messageId };
  });
  await attempt('type_mismatch', async () => {
    // A NORMAL message to the FIFO-only topic.
    const r = await producer.send({ topic: topics.fifo, body: Buffer.from('not fifo') });
    return { messageId: r.messageId };
  });

  // Wait (bounded) for the check-backs of the two undecided transactions.
  const deadline = Date.now() + Number(flag('check_wait_ms', '20000'));
  while (checked.filter((c) => c.body.includes(`${prefix} tx check-`)).length < 2 &&
         Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  report('checks_done', { count: checked.length });
  // The test looks at the broker's client table now; a line on stdin (or its
  // end) says go on.
  await new Promise((resolve) => {
    process.stdin.once('data', resolve);
    process.stdin.once('end', resolve);
  });
  await attempt('shutdown', async () => {
    await producer.shutdown();
    return {};
  });
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`producer.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
