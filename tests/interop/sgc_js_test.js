'use strict';
// Interop: the sgc browser client (protocols/sgc/sgc.js, served by the daemon at /sgc.js) run in
// node over the npm `ws` package against the real daemon's /sgc route: the served file, pub/sub,
// RPC errors, QoS 1 and 2 (with lost messages re-sent), transactions, reconnect with recovery
// after a dropped connection and after the daemon is killed and restarted on the same port.
// Run all:  node tests/interop/sgc_js_test.js
// Run one:  node tests/interop/sgc_js_test.js "QoS 2"     (substring of the test name)

const assert = require('assert');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { test, run, requirePeer } = require('./lib/harness');
const { Daemon, ROOT } = require('./lib/daemon');

const WS = requirePeer('ws');
const SGC_JS = path.join(ROOT, 'protocols', 'sgc', 'sgc.js');
const sgcws = require(SGC_JS);

const GUID = /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A ws WebSocket that records every text the client sends (`sent`), and can drop the next
 * outgoing message matching a predicate (`dropNext`), to play a lost message.
 */
function spySocket() {
  const spy = { sent: [], drops: [] };
  spy.Ctor = class extends WS {
    send(data, ...rest) {
      const text = String(data);
      const i = spy.drops.findIndex((pred) => pred(JSON.parse(text)));
      if (i >= 0) {
        spy.drops.splice(i, 1);
        spy.sent.push({ text, dropped: true });
        return undefined;
      }
      spy.sent.push({ text, dropped: false });
      return super.send(data, ...rest);
    }
  };
  spy.dropNext = (pred) => spy.drops.push(pred);
  spy.messages = () => spy.sent.map((s) => Object.assign(JSON.parse(s.text), { dropped: s.dropped }));
  return spy;
}

const clients = [];
function client(ctx, options = {}, route = '/sgc') {
  const c = new sgcws(ctx.daemon.url(route), Object.assign({ WebSocket: WS }, options));
  c.events = [];
  for (const type of ['open', 'close', 'reconnecting', 'sgcsession', 'sgcevent', 'sgcmessage', 'sgcsubscribe',
                      'sgcunsubscribe', 'sgcacknowledgment', 'sgcpubrec', 'sgcrpcresult', 'sgcrpcerror',
                      'sgcrecovery']) {
    c.on(type, (e) => c.events.push(e));
  }
  c.on('error', () => {}); // connection refused while the daemon is down: expected
  clients.push(c);
  return c;
}

/** Resolves with the first event of `type` (already seen ones count) that satisfies `pred`. */
function waitFor(c, type, pred = () => true, timeoutMs = 10000) {
  const found = c.events.find((e) => e.type === type && pred(e));
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off(type, handler);
      const seen = c.events.map((e) => e.type).join(', ');
      reject(new Error(`no ${type} event within ${timeoutMs} ms; events seen: ${seen}`));
    }, timeoutMs);
    const handler = (e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      c.off(type, handler);
      resolve(e);
    };
    c.on(type, handler);
  });
}

const eventsOn = (c, channel) => c.events.filter((e) => e.type === 'sgcevent' && e.channel === channel);

async function waitUntil(cond, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function subscribed(c, channel) {
  c.subscribe(channel);
  return waitFor(c, 'sgcsubscribe', (e) => e.channel === channel);
}

function get(port, p) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

test('GET /sgc.js serves protocols/sgc/sgc.js byte for byte as JavaScript', async (ctx) => {
  const r = await get(ctx.daemon.port, '/sgc.js');
  assert.strictEqual(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/javascript\b/);
  assert.ok(r.body.equals(fs.readFileSync(SGC_JS)), `body (${r.body.length} bytes) differs from sgc.js`);
  const chat = await get(ctx.daemon.port, '/chat');
  assert.strictEqual(chat.status, 200);
  assert.match(chat.headers['content-type'], /^text\/html\b/);
  assert.ok(chat.body.equals(fs.readFileSync(path.join(ROOT, 'protocols', 'sgc', 'chat.html'))),
            'GET /chat differs from protocols/sgc/chat.html');
});

test('--sgc-path: /chat names the moved route; without sgc there is no /chat', async () => {
  const moved = await new Daemon(['--sgc-path', '/rt/sgc']).start();
  try {
    const chat = await get(moved.port, '/chat');
    assert.strictEqual(chat.status, 200);
    assert.ok(chat.body.toString().includes('<meta name="sgc-path" content="/rt/sgc">'),
              'the meta tag does not name /rt/sgc');
    const c = client({ daemon: moved }, {}, '/rt/sgc');
    await waitFor(c, 'sgcsession');
    c.close();
  } finally {
    await moved.stop();
  }
  const off = await new Daemon(['--sgc-path', '']).start();
  try {
    assert.strictEqual((await get(off.port, '/chat')).status, 404);
    assert.strictEqual((await get(off.port, '/sgc.js')).status, 200);
  } finally {
    await off.stop();
  }
});

test('session: GUID, state open, subprotocol esegece.com', async (ctx) => {
  const c = client(ctx);
  assert.strictEqual(c.state(), 'connecting');
  const s = await waitFor(c, 'sgcsession');
  assert.match(s.guid, GUID);
  assert.strictEqual(c.session, s.guid);
  assert.strictEqual(c.state(), 'open');
  assert.strictEqual(c.socket.protocol, 'esegece.com');
  c.getsession();
  await waitUntil(() => c.events.filter((e) => e.type === 'sgcsession').length === 2, 'second sgcsession');
  c.close();
  await waitFor(c, 'close');
  assert.strictEqual(c.state(), 'closed');
});

test('publish/subscribe: strings and JSON values, sequences, unsubscribe, broadcast', async (ctx) => {
  const spy = spySocket();
  const a = client(ctx, { WebSocket: spy.Ctor });
  const b = client(ctx);
  // Subscribe before the connection is open: sent on open.
  a.subscribe('news');
  const sub = await waitFor(a, 'sgcsubscribe', (e) => e.channel === 'news');
  assert.strictEqual(sub.resubscribed, false);
  const subMsg = spy.messages().find((m) => m.method === 'sgc@subscribe');
  assert.deepStrictEqual(subMsg.params, { channel: 'news', since: 0 });
  assert.match(subMsg.id, GUID);
  await waitFor(b, 'open');
  b.publish('hello', 'news');
  b.publish({ n: 1, list: [1, 2.50, 'x'] }, 'news');
  b.publish('{not json', 'news');
  await waitUntil(() => eventsOn(a, 'news').length === 3, 'three events');
  const got = eventsOn(a, 'news');
  assert.deepStrictEqual(got.map((e) => e.message), ['hello', { n: 1, list: [1, 2.5, 'x'] }, '{not json']);
  assert.deepStrictEqual(got.map((e) => e.sequence), [1, 2, 3]);
  // Publisher ids are GUIDs and each got its acknowledgment.
  await waitUntil(() => b.events.filter((e) => e.type === 'sgcacknowledgment').length === 3, 'three ACKs');
  // Comma list: one subscribe per name.
  a.subscribe('x1,x2');
  await waitFor(a, 'sgcsubscribe', (e) => e.channel === 'x2');
  b.publish('to x2', 'x2');
  await waitFor(a, 'sgcevent', (e) => e.channel === 'x2' && e.message === 'to x2');
  // Unsubscribe: no more events.
  a.unsubscribe('news');
  await waitFor(a, 'sgcunsubscribe', (e) => e.channel === 'news');
  b.publish('after', 'news');
  b.publish('marker', 'x1');
  await waitFor(a, 'sgcevent', (e) => e.channel === 'x1' && e.message === 'marker');
  assert.strictEqual(eventsOn(a, 'news').length, 3, 'an event arrived after unsubscribe');
  // Broadcast to everyone: a sgcmessage on both.
  b.broadcast('to all');
  await waitFor(a, 'sgcmessage', (e) => e.message === 'to all' && e.channel === '');
  await waitFor(b, 'sgcmessage', (e) => e.message === 'to all');
});

test('RPC: unknown method answers -32601 (event and promise)', async (ctx) => {
  const c = client(ctx);
  await waitFor(c, 'open');
  const id = c.rpc('', 'no.such.method', '{"a":1}');
  assert.match(id, GUID);
  const err = await waitFor(c, 'sgcrpcerror', (e) => e.id === id);
  assert.strictEqual(err.code, -32601);
  assert.strictEqual(err.method, 'no.such.method');
  assert.ok(c.events.some((e) => e.type === 'sgcacknowledgment' && e.id === id), 'the ACK came first');
  const mine = c.rpc('my-id-1', 'other.missing');
  assert.strictEqual(mine, 'my-id-1');
  await waitFor(c, 'sgcrpcerror', (e) => e.id === 'my-id-1' && e.code === -32601);
  await assert.rejects(c.call('still.missing', { x: 1 }), (e) => e.code === -32601 && /not found/i.test(e.message));
  c.notify('some.notification', 'text'); // no answer expected; the connection stays usable
  await assert.rejects(c.call('again.missing', []), (e) => e.code === -32601);
});

test('QoS 1: acknowledged, and a lost publish is re-sent after qosTimeout', async (ctx) => {
  const spy = spySocket();
  const a = client(ctx);
  await subscribed(a, 'q1');
  const b = client(ctx, { WebSocket: spy.Ctor, qosInterval: 100, qosTimeout: 400 });
  b.qoslevel1();
  await waitFor(b, 'open');
  spy.dropNext((m) => m.method === 'sgc@publish');
  const started = Date.now();
  const id = b.publish('once', 'q1');
  assert.deepStrictEqual(b.pending, [id]);
  await waitFor(b, 'sgcacknowledgment', (e) => e.id === id);
  const took = Date.now() - started;
  assert.ok(took >= 350, `ACK after ${took} ms: the dropped publish cannot have been the one answered`);
  assert.deepStrictEqual(b.pending, []);
  const publishes = spy.messages().filter((m) => m.method === 'sgc@publish');
  assert.strictEqual(publishes.length, 2);
  assert.deepStrictEqual(publishes.map((m) => m.dropped), [true, false]);
  assert.strictEqual(publishes[1].id, id);
  assert.strictEqual(publishes[1].params.qos, 'qosLevel1');
  await waitFor(a, 'sgcevent', (e) => e.message === 'once');
});

test('QoS 2: PUBLISH, PUBREC, automatic PUBREL, ACK; lost PUBREL re-sent; delivered once', async (ctx) => {
  const spy = spySocket();
  const a = client(ctx);
  await subscribed(a, 'q2');
  const b = client(ctx, { WebSocket: spy.Ctor, qosInterval: 100, qosTimeout: 400 });
  b.qoslevel2();
  await waitFor(b, 'open');
  const id = b.publish('exactly once', 'q2');
  await waitFor(b, 'sgcpubrec', (e) => e.id === id);
  await waitFor(b, 'sgcacknowledgment', (e) => e.id === id);
  assert.deepStrictEqual(b.pending, []);
  const flow = spy.messages().filter((m) => m.id === id).map((m) => m.method);
  assert.deepStrictEqual(flow, ['sgc@publish', 'sgc@pubrel']);
  const pubrel = spy.messages().find((m) => m.method === 'sgc@pubrel');
  assert.strictEqual(pubrel.qos, 'qosLevel2');
  assert.deepStrictEqual(pubrel.params, { qos: 'qosLevel2' });
  // The PUBREL is lost once: re-sent after the timeout, and the message still arrives once.
  spy.dropNext((m) => m.method === 'sgc@pubrel');
  const id2 = b.publish('second', 'q2');
  await waitFor(b, 'sgcacknowledgment', (e) => e.id === id2);
  const flow2 = spy.messages().filter((m) => m.id === id2).map((m) => m.method + (m.dropped ? ' (dropped)' : ''));
  assert.deepStrictEqual(flow2, ['sgc@publish', 'sgc@pubrel (dropped)', 'sgc@pubrel']);
  // A PUBLISH that arrives twice before its PUBREL (the first PUBREL lost, the PUBLISH
  // duplicated): the server answers PUBREC twice and processes the message once.
  spy.dropNext((m) => m.method === 'sgc@pubrel');
  const id3 = b.publish('third', 'q2');
  await waitFor(b, 'sgcpubrec', (e) => e.id === id3);
  b.socket.send(spy.sent.find((s) => JSON.parse(s.text).id === id3).text);
  await waitFor(b, 'sgcacknowledgment', (e) => e.id === id3);
  assert.strictEqual(b.events.filter((e) => e.type === 'sgcpubrec' && e.id === id3).length, 2);
  await waitUntil(() => eventsOn(a, 'q2').length >= 3, 'three events');
  await sleep(300);
  assert.deepStrictEqual(eventsOn(a, 'q2').map((e) => e.message), ['exactly once', 'second', 'third']);
});

test('transactions: held until commit, dropped on rollback', async (ctx) => {
  const a = client(ctx);
  await subscribed(a, 'tx');
  const b = client(ctx);
  await waitFor(b, 'open');
  b.starttransaction('tx');
  b.publish('t1', 'tx');
  b.publish('t2', 'tx');
  await waitUntil(() => b.events.filter((e) => e.type === 'sgcacknowledgment').length === 2, 'ACKs of stored messages');
  await sleep(200);
  assert.strictEqual(eventsOn(a, 'tx').length, 0, 'delivered before commit');
  b.commit('tx');
  await waitUntil(() => eventsOn(a, 'tx').length === 2, 'two events after commit');
  b.starttransaction('tx');
  b.publish('dropped', 'tx');
  b.rollback('tx');
  b.publish('t3', 'tx');
  await waitFor(a, 'sgcevent', (e) => e.message === 't3');
  assert.deepStrictEqual(eventsOn(a, 'tx').map((e) => e.message), ['t1', 't2', 't3']);
});

test('dropped connection: reconnect, resubscribe with since, missed events recovered once', async (ctx) => {
  const spy = spySocket();
  const a = client(ctx, { WebSocket: spy.Ctor, reconnectDelay: 1000 });
  await subscribed(a, 'rec');
  const b = client(ctx, { queue: 2 });
  await waitFor(b, 'open');
  for (const m of ['m1', 'm2', 'm3']) b.publish(m, 'rec');
  await waitUntil(() => eventsOn(a, 'rec').length === 3, 'm1..m3');
  a.socket.terminate(); // the TCP connection drops without a close frame
  const closed = await waitFor(a, 'close');
  assert.strictEqual(closed.willReconnect, true);
  assert.strictEqual(a.state(), 'reconnecting');
  b.qoslevel1();
  const ids = ['m4', 'm5', 'm6'].map((m) => b.publish(m, 'rec'));
  await waitUntil(() => ids.every((id) => b.events.some((e) => e.type === 'sgcacknowledgment' && e.id === id)), 'ACKs of m4..m6');
  assert.ok(!a.events.some((e) => e.type === 'open' && e.reconnected), 'reconnected too early for this test');
  const rec = await waitFor(a, 'sgcrecovery', (e) => e.channel === 'rec');
  assert.deepStrictEqual({ since: rec.since, sequence: rec.sequence, recovered: rec.recovered },
                         { since: 3, sequence: 6, recovered: true });
  await waitUntil(() => eventsOn(a, 'rec').length >= 6, 'm4..m6 replayed');
  await sleep(200);
  assert.deepStrictEqual(eventsOn(a, 'rec').map((e) => `${e.message}#${e.sequence}`),
                         ['m1#1', 'm2#2', 'm3#3', 'm4#4', 'm5#5', 'm6#6']);
  const resub = spy.messages().filter((m) => m.method === 'sgc@subscribe').map((m) => m.params);
  assert.deepStrictEqual(resub, [{ channel: 'rec', since: 0 }, { channel: 'rec', since: 3 }]);
  assert.ok(a.events.some((e) => e.type === 'reconnecting' && e.attempt === 1), 'no reconnecting event');
  assert.ok(a.events.some((e) => e.type === 'open' && e.reconnected === true));
  // Live events keep flowing, and a second drop with nothing missed recovers with no replay.
  b.publish('m7', 'rec');
  await waitFor(a, 'sgcevent', (e) => e.message === 'm7' && e.sequence === 7);
  a.socket.terminate();
  const rec2 = await waitFor(a, 'sgcrecovery', (e) => e.since === 7);
  assert.strictEqual(rec2.recovered, true);
  assert.strictEqual(rec2.sequence, 7);
  await sleep(200);
  assert.strictEqual(eventsOn(a, 'rec').length, 7, 'a replay was delivered twice');
});

test('daemon killed and restarted on the same port: clients reconnect, resubscribe, gap reported', async (ctx) => {
  // A daemon of its own, so the shared one stays up for the other tests.
  const daemon = await new Daemon().start();
  const port = daemon.port;
  const local = { daemon };
  try {
    const spy = spySocket();
    const opts = { reconnectDelay: 200, reconnectMaxDelay: 1000, qosInterval: 100, qosTimeout: 500 };
    const a = client(local, Object.assign({ WebSocket: spy.Ctor }, opts));
    await subscribed(a, 'r');
    const b = client(local, Object.assign({ queue: 2, qos: 1 }, opts));
    await waitFor(b, 'open');
    b.publish('before1', 'r');
    b.publish('before2', 'r');
    await waitUntil(() => eventsOn(a, 'r').length === 2, 'two events before the kill');
    const session = a.session;
    await daemon.kill();
    await waitFor(a, 'close');
    await waitFor(b, 'close');
    // Published while the daemon is down: kept (QoS 1) and sent after the reconnect.
    const lateId = b.publish('while down', 'r');
    await sleep(700);
    assert.ok(['reconnecting'].includes(a.state()), `state while down: ${a.state()}`);
    assert.ok(a.events.filter((e) => e.type === 'reconnecting').length >= 2, 'backoff retries while down');
    await daemon.start(port);
    const rec = await waitFor(a, 'sgcrecovery', (e) => e.channel === 'r', 15000);
    assert.strictEqual(rec.since, 2);
    assert.strictEqual(rec.recovered, false, 'history cannot survive a restart');
    assert.notStrictEqual(a.session, session);
    await waitFor(b, 'sgcacknowledgment', (e) => e.id === lateId, 15000);
    await waitFor(a, 'sgcevent', (e) => e.message === 'while down', 5000);
    // New events on the re-created channel start again at 1 and are not taken for duplicates.
    b.publish('after', 'r');
    await waitFor(a, 'sgcevent', (e) => e.message === 'after', 5000);
    const msgs = eventsOn(a, 'r').map((e) => e.message);
    assert.deepStrictEqual(msgs, ['before1', 'before2', 'while down', 'after']);
    assert.deepStrictEqual(eventsOn(a, 'r').slice(2).map((e) => e.sequence), [1, 2]);
    const subs = spy.messages().filter((m) => m.method === 'sgc@subscribe').map((m) => m.params.since);
    assert.deepStrictEqual(subs, [0, 2]);
    a.close();
    b.close();
    await waitFor(a, 'close', (e) => !e.willReconnect);
    assert.strictEqual(a.state(), 'closed');
    await sleep(400);
    assert.strictEqual(a.socket, null, 'reconnected after close()');
  } finally {
    await daemon.stop();
  }
});

run({
  before: async () => ({ daemon: await new Daemon().start() }),
  afterEach: async (ctx) => {
    for (const c of clients.splice(0)) c.close();
    if (!ctx.daemon.alive()) {
      const code = ctx.daemon.exitCode;
      ctx.daemon = await new Daemon().start();
      throw new Error(`the daemon exited with ${code} during this test`);
    }
  },
  after: async (ctx) => {
    await ctx.daemon.stop();
  },
});
