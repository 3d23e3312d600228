'use strict';
// Interop: the Files browser client (protocols/files/files.js, served by the daemon at /files.js)
// run in node over the npm `ws` package against the real daemon's /ws/files route
// (protocols/files/server.hpp, relay on): the frame against the digest's example, the SHA-256
// against node's crypto, files sent at QoS 0, 1 and 2 landing in --files-dir byte for byte,
// files relayed through a channel to another client at each QoS, refusals ("File too large.",
// "File Rejected.", a checksum that does not match), and a QoS 2 transfer resumed after its
// connection drops.
// Run all:  node tests/interop/files_js_test.js
// Run one:  node tests/interop/files_js_test.js "relay"     (substring of the test name)

const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { test, run, requirePeer } = require('./lib/harness');
const { Daemon, ROOT } = require('./lib/daemon');

const WS = requirePeer('ws');
const sgcfiles = require(path.join(ROOT, 'protocols', 'files', 'files.js'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** A ws WebSocket recording every frame the client sends, decoded (`sent`); `tamper` may
 * replace an outgoing frame's bytes. */
function spySocket() {
  const spy = { sent: [], tamper: null, sockets: [] };
  spy.Ctor = class extends WS {
    constructor(...args) {
      super(...args);
      spy.sockets.push(this);
    }
    send(data, ...rest) {
      if (typeof data !== 'string') {
        let bytes = new Uint8Array(data.buffer ? data.buffer : data, data.byteOffset || 0, data.byteLength);
        if (spy.tamper) bytes = spy.tamper(bytes) || bytes;
        spy.sent.push(sgcfiles.decodeFrame(bytes));
        return super.send(bytes, ...rest);
      }
      spy.sent.push(JSON.parse(data));
      return super.send(data, ...rest);
    }
  };
  return spy;
}

const clients = [];
const EVENTS = ['open', 'close', 'reconnecting', 'sgcsubscribe', 'sgcunsubscribe', 'sgcfilesent', 'sgcfilesenterror',
                'sgcfilereceived', 'sgcfilereceivederror', 'sgcfileprogress', 'sgcrpcerror'];
function client(ctx, options = {}) {
  const c = new sgcfiles(ctx.daemon.url('/ws/files'), Object.assign({ WebSocket: WS }, options));
  c.events = [];
  for (const type of EVENTS) c.on(type, (e) => c.events.push(e));
  c.on('error', () => {});
  clients.push(c);
  return c;
}

function waitFor(c, type, pred = () => true, timeoutMs = 15000) {
  const found = c.events.find((e) => e.type === type && pred(e));
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off(type, handler);
      reject(new Error(`no ${type} event within ${timeoutMs} ms; events seen: ${c.events.map((e) => e.type).join(', ')}`));
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

async function waitUntil(cond, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** `name` in the receive dir, waiting for it to appear (the relay reads it after the rename). */
async function stored(dir, name) {
  const p = path.join(dir, name);
  await waitUntil(() => fs.existsSync(p), `${p} to appear`);
  return fs.readFileSync(p);
}

let counter = 0;
const fresh = (p) => `${p}${process.pid}-${++counter}`;

test('the frame: the digest example byte for byte, and back', () => {
  const fields = { id: '{id}', fileId: '{fileid}', fileName: 'report.pdf', fileSize: 1048576, filePosition: 0,
                   bufferSize: 65536, data: '', streaming: 'stmNone', qos: 2, method: 'sgc@file', text: '', channel: '' };
  const bytes = sgcfiles.encodeFrame(fields);
  assert.strictEqual(Buffer.from(bytes).toString(),
                     '0000000070{id}|{fileid}|report.pdf|1048576|0|65536||stmNone|qosLevel2|sgc@file||');
  const withPayload = sgcfiles.encodeFrame(Object.assign({}, fields, { fileName: 'naïve.txt' }), new Uint8Array([0, 124, 255]));
  const back = sgcfiles.decodeFrame(withPayload.buffer);
  assert.strictEqual(back.fileName, 'naïve.txt');
  assert.strictEqual(back.qos, 2);
  assert.deepStrictEqual(Array.from(back.payload), [0, 124, 255]);
  assert.strictEqual(Number(Buffer.from(withPayload.subarray(0, 10)).toString()), Buffer.byteLength(
    '{id}|{fileid}|naïve.txt|1048576|0|65536||stmNone|qosLevel2|sgc@file||'));
  assert.throws(() => sgcfiles.encodeFrame(Object.assign({}, fields, { data: 'a|b' })), /cannot hold '\|'/);
  assert.strictEqual(sgcfiles.decodeFrame(Buffer.from('0000000099short')), null, 'a header length that lies');
  assert.strictEqual(sgcfiles.decodeFrame(Buffer.from('0000000003a|b')), null, 'too few fields');
});

test('SHA-256 in files.js equals node crypto (block edges, chunked updates)', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100003]) {
    const data = crypto.randomBytes(n);
    assert.strictEqual(new sgcfiles.Sha256().update(data).hex(), sha(data), `${n} bytes`);
    const h = new sgcfiles.Sha256();
    for (let i = 0; i < n; i += 37) h.update(data.subarray(i, i + 37));
    assert.strictEqual(h.hex(), sha(data), `${n} bytes in 37-byte pieces`);
  }
});

test('sendFile at QoS 0, 1 and 2: stored byte for byte, progress to the end, done resolves', async (ctx) => {
  const spy = spySocket();
  const c = client(ctx, { WebSocket: spy.Ctor, chunkSize: 50000 });
  await waitFor(c, 'open');
  for (const qos of [0, 1, 2]) {
    const data = crypto.randomBytes(300001 + qos);
    const name = `${fresh('q' + qos)}.bin`;
    const t = c.sendFile(data, { qos, name, data: 'meta' });
    const progress = [];
    t.on('progress', (e) => progress.push(e.bytes));
    const sent = await t.done;
    assert.strictEqual(sent.size, data.length);
    assert.strictEqual(sent.sha256, sha(data));
    assert.ok((await stored(ctx.dir, name)).equals(data), `QoS ${qos}: the stored file differs`);
    assert.strictEqual(progress[progress.length - 1], data.length);
    assert.strictEqual(progress.length, 7, `QoS ${qos}: seven chunks of <= 50000 bytes`);
    const frames = spy.sent.filter((f) => f.fileId === t.fileId);
    const header = frames[0];
    assert.strictEqual(header.streaming, 'stmNone');
    assert.strictEqual(header.text, `sha256:${sha(data)}`);
    assert.strictEqual(header.qos, qos);
    const chunks = frames.filter((f) => f.method === 'sgc@file' && f.streaming !== 'stmNone');
    assert.deepStrictEqual(chunks.map((f) => f.filePosition), [50000, 100000, 150000, 200000, 250000, 300000, data.length]);
    assert.deepStrictEqual(chunks.map((f) => f.streaming), ['stmContinue', 'stmContinue', 'stmContinue', 'stmContinue',
                                                             'stmContinue', 'stmContinue', 'stmLast']);
    if (qos === 2) {
      // Pulled: each chunk after the server's filerec, which we acknowledged.
      const acks = frames.filter((f) => f.method === 'sgc@acknowledgment');
      assert.strictEqual(acks.length, 7, 'one ack per filerec');
    }
  }
  // An empty file and a Blob.
  const t0 = c.sendFile(new Blob([]), { qos: 2, name: `${fresh('empty')}.txt` });
  await t0.done;
  assert.strictEqual((await stored(ctx.dir, t0.name)).length, 0);
  const tb = c.sendFile(new Blob(['hello ', 'blob']), { qos: 1, name: `${fresh('blob')}.txt` });
  await tb.done;
  assert.strictEqual((await stored(ctx.dir, tb.name)).toString(), 'hello blob');
});

test('relay: a file sent to a channel reaches its other subscribers at QoS 0, 1 and 2', async (ctx) => {
  const room = fresh('room');
  const a = client(ctx);
  const b = client(ctx);
  const outsider = client(ctx);
  for (const c of [a, b]) {
    c.subscribe(room);
    await waitFor(c, 'sgcsubscribe', (e) => e.channel === room);
  }
  await waitFor(outsider, 'open');
  for (const qos of [0, 1, 2]) {
    const data = crypto.randomBytes(200000 + qos);
    const name = `${fresh('relay' + qos)}.bin`;
    const t = a.sendFile(data, { qos, name, channel: room, data: 'from%20Ann' });
    await t.done;
    const got = await waitFor(b, 'sgcfilereceived', (e) => e.name === name);
    assert.strictEqual(got.size, data.length);
    assert.strictEqual(got.qos, qos);
    assert.strictEqual(got.channel, room);
    assert.strictEqual(got.data, 'from%20Ann');
    assert.strictEqual(got.sha256, sha(data));
    assert.ok(Buffer.from(got.bytes).equals(data), `QoS ${qos}: relayed bytes differ`);
    assert.ok(Buffer.from(await got.blob.arrayBuffer()).equals(data), 'the blob differs');
  }
  await sleep(300);
  assert.ok(!a.events.some((e) => e.type === 'sgcfilereceived'), 'the sender got its own file back');
  assert.ok(!outsider.events.some((e) => e.type === 'sgcfilereceived'), 'a client outside the channel got it');
  // Unsubscribed: no more files.
  b.unsubscribe(room);
  await waitFor(b, 'sgcunsubscribe', (e) => e.channel === room);
  const before = b.events.filter((e) => e.type === 'sgcfilereceived').length;
  await a.sendFile(Buffer.from('late'), { qos: 1, name: `${fresh('late')}.txt`, channel: room }).done;
  await sleep(300);
  assert.strictEqual(b.events.filter((e) => e.type === 'sgcfilereceived').length, before);
});

test('refusals: too large, a hidden name, a checksum that does not match', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-files-'));
  const daemon = await new Daemon(['--files-dir', dir, '--files-max-size', '1000']).start();
  try {
    const spy = spySocket();
    const c = client({ daemon }, { WebSocket: spy.Ctor });
    await waitFor(c, 'open');
    // QoS 0 is fire and forget: done once queued; the refusal still arrives as an event.
    const t0 = c.sendFile(crypto.randomBytes(1001), { qos: 0, name: 'big.bin' });
    await t0.done;
    const e0 = await waitFor(c, 'sgcfilesenterror', (e) => e.fileId === t0.fileId);
    assert.deepStrictEqual([e0.text, e0.remote], ['File too large.', true]);
    for (const qos of [1, 2]) {
      const t = c.sendFile(crypto.randomBytes(1001), { qos, name: 'big.bin' });
      await assert.rejects(t.done, (e) => e.message === 'File too large.' && e.remote === true);
    }
    await c.sendFile(crypto.randomBytes(1000), { qos: 1, name: 'fits.bin' }).done;
    await assert.rejects(c.sendFile(Buffer.from('x'), { qos: 2, name: '.hidden' }).done,
                         (e) => e.message === 'File Rejected.' && e.remote);
    // The server checks our sha256: in the header: a wrong one fails the transfer.
    spy.tamper = (bytes) => {
      const f = sgcfiles.decodeFrame(bytes);
      if (!f || f.streaming !== 'stmNone' || f.method !== 'sgc@file') return null;
      return sgcfiles.encodeFrame(Object.assign({}, f, { text: `sha256:${'0'.repeat(64)}` }), f.payload);
    };
    await assert.rejects(c.sendFile(Buffer.from('checked'), { qos: 2, name: 'sum.txt' }).done,
                         (e) => e.message === 'Error receiving file, checksum mismatch.' && e.remote);
    spy.tamper = null;
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['fits.bin'], 'only the accepted file is kept');
  } finally {
    await daemon.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('QoS 2 resume: the connection drops mid-transfer; the header again resumes from the .part', async (ctx) => {
  const spy = spySocket();
  const c = client(ctx, { WebSocket: spy.Ctor, chunkSize: 65536, reconnectDelay: 100, reconnectMaxDelay: 200 });
  await waitFor(c, 'open');
  const data = crypto.randomBytes(4 << 20);
  const name = `${fresh('resume')}.bin`;
  const t = c.sendFile(data, { qos: 2, name });
  // Drop the TCP connection (no close frame) once a quarter is across.
  await new Promise((resolve) => t.on('progress', (e) => { if (e.bytes >= data.length / 4) resolve(); }));
  spy.sockets[0].terminate();
  await waitFor(c, 'close', (e) => e.willReconnect);
  await waitFor(c, 'open', (e) => e.reconnected);
  const sent = await t.done;
  assert.strictEqual(sent.sha256, sha(data));
  assert.ok((await stored(ctx.dir, name)).equals(data), 'the resumed file differs');
  // After the reconnect the header went again with the same FileId and the first chunk asked
  // for started past 0.
  const frames = spy.sent.filter((f) => f.fileId === t.fileId && f.method === 'sgc@file');
  const headers = frames.filter((f) => f.streaming === 'stmNone');
  assert.strictEqual(headers.length, 2, 'one header per connection');
  const second = frames.indexOf(headers[1]);
  const next = frames[second + 1];
  assert.ok(next.filePosition - next.payload.length > 0, `resumed at ${next.filePosition - next.payload.length}`);
});

let tmp = null;
run({
  before: async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-files-'));
    return { dir: tmp, daemon: await new Daemon(['--files-dir', tmp]).start() };
  },
  afterEach: async (ctx) => {
    for (const c of clients.splice(0)) c.close();
    if (!ctx.daemon.alive()) {
      const code = ctx.daemon.exitCode;
      ctx.daemon = await new Daemon(['--files-dir', ctx.dir]).start();
      throw new Error(`the daemon exited with ${code} during this test`);
    }
  },
  after: async (ctx) => {
    try {
      await ctx.daemon.stop();
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
});
