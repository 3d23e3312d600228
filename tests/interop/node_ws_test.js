'use strict';
// Interop: the npm `ws` client (version pinned in package.json) against the switchboard daemon.
// Run all:  node tests/interop/node_ws_test.js
// Run one:  node tests/interop/node_ws_test.js "close 3000"   (substring of the test name)
// Binary:   SWITCHBOARD_BIN=/path/to/switchboard (default build/bin/switchboard)

const assert = require('assert');
const crypto = require('crypto');
const { test, run, requirePeer } = require('./lib/harness');
const { Daemon } = require('./lib/daemon');

const WebSocket = requirePeer('ws');

const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20];

/** A string whose UTF-8 encoding is exactly n bytes, mixing 1- to 4-byte characters. */
function makeText(n, seed = 0) {
  const cycle = ['a', '\u00e9', '\u20ac', '\u{1F600}', 'Z', '0', ' '];
  const out = [];
  let total = 0;
  for (let i = seed; total < n; i++) {
    let c = cycle[i % cycle.length];
    let b = Buffer.byteLength(c);
    if (total + b > n) { c = 'x'; b = 1; }
    out.push(c);
    total += b;
  }
  const s = out.join('');
  assert.strictEqual(Buffer.byteLength(s), n);
  return s;
}

function makeBytes(n, seed = 0) {
  const out = Buffer.alloc(n);
  let x = (seed * 2654435761 + n + 1) >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const describe = (isBinary, buf) => `${isBinary ? 'binary' : 'text'} ${buf.length} bytes`;

/** A client connection with a queue of received messages and a promise of its close event. */
class Client {
  constructor(url, options = {}) {
    this.ws = new WebSocket(url, { handshakeTimeout: 10000, ...options });
    this.queue = [];
    this.waiters = [];
    this.pongs = [];
    this.ws.on('message', (data, isBinary) => this._push({ data, isBinary }));
    this.ws.on('pong', (data) => this.pongs.push(Buffer.from(data)));
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of this.waiters) w.reject(new Error(`connection closed (code ${code}) while waiting for a message`));
        this.waiters = [];
        resolve(this.closeInfo);
      });
    });
    this.ws.on('error', (e) => { this.error = e; });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
  }

  static async open(url, options) {
    const c = new Client(url, options);
    await c.opened;
    return c;
  }

  _push(m) {
    if (this.waiters.length) this.waiters.shift().resolve(m);
    else this.queue.push(m);
  }

  /** Next message as { data: Buffer, isBinary }, within `ms`. */
  next(ms = 10000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closeInfo) return Promise.reject(new Error(`connection closed (code ${this.closeInfo.code})`));
    return new Promise((resolve, reject) => {
      const w = { resolve, reject };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no message within ${ms} ms`));
      }, ms);
      w.resolve = (m) => { clearTimeout(timer); resolve(m); };
      w.reject = (e) => { clearTimeout(timer); reject(e); };
      this.waiters.push(w);
    });
  }

  async expect(expected, isBinary, what) {
    let m;
    try {
      m = await this.next();
    } catch (e) {
      const reason = this.closeInfo ? ` reason '${this.closeInfo.reason}'` : '';
      throw new Error(`${what}: no echo: ${e.message}${reason}`);
    }
    const expBuf = Buffer.isBuffer(expected) ? expected : Buffer.from(expected);
    assert.strictEqual(m.isBinary, isBinary,
      `${what}: sent ${describe(isBinary, expBuf)}, got back ${describe(m.isBinary, m.data)} (opcode changed)`);
    if (!expBuf.equals(m.data)) {
      let first = 0;
      while (first < Math.min(expBuf.length, m.data.length) && expBuf[first] === m.data[first]) first++;
      assert.fail(`${what}: sent ${describe(isBinary, expBuf)}, got back ${describe(m.isBinary, m.data)}, ` +
                  `first differing byte at ${first}`);
    }
  }

  send(data, options = {}) {
    return new Promise((resolve, reject) => this.ws.send(data, options, (e) => (e ? reject(e) : resolve())));
  }

  async waitClosed(ms = 10000) {
    let timer;
    const t = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no close event within ${ms} ms`)), ms); });
    try {
      return await Promise.race([this.closed, t]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close() {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(1000);
      try { await this.waitClosed(6000); } catch (_) { this.ws.terminate(); }
    }
  }
}

/** Runs fn(client) on a fresh connection to /echo and always closes it. */
async function withClient(ctx, options, fn) {
  const c = await Client.open(ctx.daemon.url('/echo'), options);
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

const NO_DEFLATE = { perMessageDeflate: false };

// --- echo of several sizes, without and with the client's default permessage-deflate offer ---
for (const [mode, options] of [['no extension', NO_DEFLATE], ['deflate offered', {}]]) {
  for (const size of SIZES) {
    test(`text echo ${size} bytes (${mode})`, (ctx) => withClient(ctx, options, async (c) => {
      const s = makeText(size);
      for (const round of ['first', 'second']) {
        await c.send(s);
        await c.expect(s, false, `${round} text echo of ${size} bytes`);
      }
    }));
    test(`binary echo ${size} bytes (${mode})`, (ctx) => withClient(ctx, options, async (c) => {
      const b = makeBytes(size);
      for (const round of ['first', 'second']) {
        await c.send(b);
        await c.expect(b, true, `${round} binary echo of ${size} bytes`);
      }
    }));
  }
}

test('deflate offer gets a valid answer', (ctx) => withClient(ctx, {}, async (c) => {
  const ext = c.ws.extensions;
  assert.ok(ext === '' || /^permessage-deflate\b/.test(ext), `Sec-WebSocket-Extensions answered: '${ext}'`);
  await c.send('hello');
  await c.expect('hello', false, 'text after handshake');
}));

// --- fragmentation ---
async function sendFragments(c, pieces, binary) {
  for (let i = 0; i < pieces.length; i++) {
    await c.send(pieces[i], { binary, fin: i === pieces.length - 1 });
  }
}

for (const [mode, options] of [['no extension', NO_DEFLATE], ['deflate offered', {}]]) {
  test(`fragmented text (${mode})`, (ctx) => withClient(ctx, options, async (c) => {
    const pieces = ['Hel', 'lo, ', 'w\u00f6rld ', '\u20ac\u{1F600}', '', makeText(70000, 3), '!'];
    await sendFragments(c, pieces, false);
    await c.expect(pieces.join(''), false, `text sent as ${pieces.length} fragments`);
  }));
  test(`fragmented binary (${mode})`, (ctx) => withClient(ctx, options, async (c) => {
    const pieces = [1, 0, 125, 126, 65536, 3].map((n, i) => makeBytes(n, i));
    await sendFragments(c, pieces, true);
    await c.expect(Buffer.concat(pieces), true, `binary sent as ${pieces.length} fragments`);
  }));
}

test('fragmented text with UTF-8 characters split across frames', (ctx) => withClient(ctx, NO_DEFLATE, async (c) => {
  const whole = Buffer.from('caf\u00e9 \u{1F600} end');
  // Split inside the 2-byte é (after byte 3 + 1) and inside the 4-byte emoji.
  const pieces = [whole.subarray(0, 4), whole.subarray(4, 8), whole.subarray(8)];
  await sendFragments(c, pieces, false);
  await c.expect(whole, false, 'text split inside characters');
}));

test('ping between fragments is answered and the message still echoes', (ctx) => withClient(ctx, NO_DEFLATE, async (c) => {
  await c.send('first half, ', { binary: false, fin: false });
  await new Promise((resolve, reject) => c.ws.ping(Buffer.from('mid-message'), undefined, (e) => (e ? reject(e) : resolve())));
  await c.send('second half', { binary: false, fin: true });
  await c.expect('first half, second half', false, 'message with a ping between fragments');
  for (let i = 0; i < 250 && c.pongs.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepStrictEqual(c.pongs.map(String), ['mid-message'], 'pong for the ping between fragments');
}));

test('fragmented and whole messages alternate', (ctx) => withClient(ctx, NO_DEFLATE, async (c) => {
  for (let i = 0; i < 5; i++) {
    await sendFragments(c, [`frag${i}-a `, `frag${i}-b`], false);
    await c.send(makeBytes(10, i));
    await c.expect(`frag${i}-a frag${i}-b`, false, `round ${i} fragmented`);
    await c.expect(makeBytes(10, i), true, `round ${i} whole`);
  }
}));

// --- ping / pong ---
function pingTest(name, payload) {
  test(name, (ctx) => withClient(ctx, NO_DEFLATE, async (c) => {
    const pong = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no pong within 10 s for ping of ${payload.length} bytes`)), 10000);
      c.ws.once('pong', (data) => { clearTimeout(timer); resolve(Buffer.from(data)); });
    });
    c.ws.ping(payload);
    const got = await pong;
    assert.ok(got.equals(payload), `ping payload ${payload.toString('hex')} came back as pong ${got.toString('hex')}`);
    await c.send('after ping');
    await c.expect('after ping', false, 'text after ping');
  }));
}
pingTest('ping with empty payload', Buffer.alloc(0));
pingTest('ping with text payload', Buffer.from('hello switchboard'));
pingTest('ping with 125-byte payload', makeBytes(125, 7));

test('ten pings, ten pongs in order', (ctx) => withClient(ctx, NO_DEFLATE, async (c) => {
  const expected = [];
  for (let i = 0; i < 10; i++) { expected.push(`ping ${i}`); c.ws.ping(`ping ${i}`); }
  const deadline = Date.now() + 10000;
  while (c.pongs.length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepStrictEqual(c.pongs.map(String), expected);
}));

// --- close codes ---
function closeTest(code, reason) {
  test(`close ${code} with reason`, (ctx) => withClient(ctx, NO_DEFLATE, async (c) => {
    await c.send('before close');
    await c.expect('before close', false, 'text before close');
    const started = Date.now();
    c.ws.close(code, reason);
    const info = await c.waitClosed(6000);
    assert.strictEqual(info.code, code,
      `closed with ${code} '${reason}': the close event had code ${info.code} reason '${info.reason}' ` +
      '(1006 = no close frame came back)');
    assert.ok(Date.now() - started < 4000, `closing handshake took ${Date.now() - started} ms`);
    assert.ok(!c.error, `error during close: ${c.error}`);
  }));
}
closeTest(1000, 'normal closure');
closeTest(3000, 'registered app code');
closeTest(4999, 'private code \u00e9');

test('server close on shutdown (SIGTERM) is 1001', async () => {
  const d = await new Daemon().start();
  try {
    const c = await Client.open(d.url('/echo'), NO_DEFLATE);
    await c.send('hello');
    await c.expect('hello', false, 'text before shutdown');
    d.proc.kill('SIGTERM');
    const info = await c.waitClosed(10000);
    assert.strictEqual(info.code, 1001, `close event on server shutdown: code ${info.code} reason '${info.reason}'` +
                       ' (1006 = the connection dropped without a close frame)');
    const exit = await Promise.race([d.exited, new Promise((r) => setTimeout(() => r('still running'), 10000))]);
    assert.notStrictEqual(exit, 'still running', 'daemon still running 10 s after SIGTERM');
  } finally {
    await d.stop();
  }
});

test('server close on invalid UTF-8 text is 1007', (ctx) => withClient(ctx, NO_DEFLATE, async (c) => {
  await c.send(Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]), { binary: false });
  const info = await c.waitClosed(10000);
  assert.strictEqual(info.code, 1007, `close event after invalid UTF-8: code ${info.code} reason '${info.reason}'`);
}));

// --- many messages ---
test('1000 sequential round trips', (ctx) => withClient(ctx, NO_DEFLATE, async (c) => {
  for (let i = 0; i < 1000; i++) {
    const binary = i % 2 === 1;
    const msg = binary ? Buffer.from(`binary ${i}`) : `message ${i}`;
    await c.send(msg, { binary });
    await c.expect(msg, binary, `round trip ${i}`);
  }
}));

test('1000 pipelined messages come back in order', (ctx) => withClient(ctx, NO_DEFLATE, async (c) => {
  const msgs = [];
  for (let i = 0; i < 1000; i++) {
    msgs.push(i % 3 ? { data: `msg ${i} ${'x'.repeat(i % 300)}`, binary: false } : { data: makeBytes(i % 500, i), binary: true });
  }
  for (const m of msgs) c.ws.send(m.data, { binary: m.binary });
  for (let i = 0; i < msgs.length; i++) await c.expect(msgs[i].data, msgs[i].binary, `pipelined message ${i}`);
}));

test('ten concurrent clients, 100 messages each, no cross-talk', async (ctx) => {
  const clients = await Promise.all(Array.from({ length: 10 }, () => Client.open(ctx.daemon.url('/echo'), NO_DEFLATE)));
  try {
    await Promise.all(clients.map(async (c, n) => {
      const msgs = Array.from({ length: 100 }, (_, i) => `client ${n} message ${i}`);
      for (const m of msgs) c.ws.send(m);
      for (let i = 0; i < msgs.length; i++) await c.expect(msgs[i], false, `client ${n} message ${i}`);
    }));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

run({
  before: async () => ({ daemon: await new Daemon().start() }),
  afterEach: async (ctx) => {
    if (!ctx.daemon.alive()) {
      const code = ctx.daemon.exitCode;
      ctx.daemon = await new Daemon().start();
      throw new Error(`the daemon exited with ${code} during this test`);
    }
  },
  after: async (ctx) => { await ctx.daemon.stop(); },
});
