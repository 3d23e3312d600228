'use strict';
// Interop: the Presence browser client (protocols/presence/presence.js, served by the daemon at
// /presence.js) run in node over the npm `ws` package against the real daemon's /ws/presence
// route (protocols/presence/server.hpp): the served files and their routes, session and the
// automatic member announcement, join / leave / publish / get@members with the numbered
// errors, invitations and their response, member@update, sgc@b64 values, acknowledgments, and
// reconnect after the daemon is killed and restarted on the same port.
// Run all:  node tests/interop/presence_js_test.js
// Run one:  node tests/interop/presence_js_test.js "invitation"     (substring of the test name)

const assert = require('assert');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { test, run, requirePeer } = require('./lib/harness');
const { Daemon, ROOT } = require('./lib/daemon');

const WS = requirePeer('ws');
const PRESENCE_JS = path.join(ROOT, 'protocols', 'presence', 'presence.js');
const FILES_JS = path.join(ROOT, 'protocols', 'files', 'files.js');
const PRESENCE_HTML = path.join(ROOT, 'protocols', 'presence', 'presence.html');
const sgcpresence = require(PRESENCE_JS);

const GUID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/i;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A ws WebSocket recording every text the client sends (`sent`) and receives (`got`). */
function spySocket() {
  const spy = { sent: [], got: [] };
  spy.Ctor = class extends WS {
    constructor(...args) {
      super(...args);
      this.on('message', (d) => spy.got.push(String(d)));
    }
    send(data, ...rest) {
      spy.sent.push(String(data));
      return super.send(data, ...rest);
    }
  };
  return spy;
}

const clients = [];
const EVENTS = ['open', 'close', 'reconnecting', 'ready', 'sgcsession', 'sgcnewmember', 'sgcremovemember',
                'sgcupdatemember', 'sgcnewchannelmember', 'sgcremovechannelmember', 'sgcpublishmsg',
                'sgcgetmembers', 'sgcerrormemberchannel', 'sgcerrorpublishmsg', 'sgcchannelinvitation',
                'sgcchannelinvitationresponse', 'sgcacknowledgment'];
function client(ctx, options = {}, route = '/ws/presence') {
  const c = new sgcpresence(ctx.daemon.url(route), Object.assign({ WebSocket: WS }, options));
  c.events = [];
  for (const type of EVENTS) c.on(type, (e) => c.events.push(e));
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

async function waitUntil(cond, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const names = (map) => Array.from(map ? map.values() : [], (m) => m.name).sort();

async function ready(ctx, name, options = {}) {
  const c = client(ctx, Object.assign({ name }, options));
  await waitFor(c, 'ready');
  return c;
}

/** Joins `channel`; done once the join is confirmed and the channel's member list came back. */
async function joined(c, channel) {
  const seen = c.events.length;
  c.join(channel);
  await waitFor(c, 'sgcnewchannelmember', (e) => e.channel === channel && e.member.id === c.member.id);
  await waitUntil(() => c.events.slice(seen).some((e) => e.type === 'sgcgetmembers' && e.channel === channel),
                  `the member list of ${channel}`);
  assert.ok(c.channels.get(channel).has(c.member.id), `${channel} does not list its joiner`);
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

let counter = 0;
const fresh = (p) => `${p}${process.pid}-${++counter}`;

test('GET /presence.js, /files.js and /presence serve the files byte for byte', async (ctx) => {
  for (const [route, file, type] of [['/presence.js', PRESENCE_JS, /^application\/javascript\b/],
                                     ['/files.js', FILES_JS, /^application\/javascript\b/],
                                     ['/presence', PRESENCE_HTML, /^text\/html\b/]]) {
    const r = await get(ctx.daemon.port, route);
    assert.strictEqual(r.status, 200, route);
    assert.match(r.headers['content-type'], type, route);
    assert.ok(r.body.equals(fs.readFileSync(file)), `GET ${route} (${r.body.length} bytes) differs from ${file}`);
  }
});

test('--presence-path and --files-path: the page names the moved routes; "" turns them off', async () => {
  const moved = await new Daemon(['--presence-path', '/rt/presence', '--files-path', '']).start();
  try {
    const page = (await get(moved.port, '/presence')).body.toString();
    assert.ok(page.includes('<meta name="presence-path" content="/rt/presence">'), 'presence-path meta not rewritten');
    assert.ok(page.includes('<meta name="files-path" content="">'), 'files-path meta not emptied');
    const c = client({ daemon: moved }, { name: 'Moved' }, '/rt/presence');
    await waitFor(c, 'ready');
    c.close();
  } finally {
    await moved.stop();
  }
  const off = await new Daemon(['--presence-path', '']).start();
  try {
    assert.strictEqual((await get(off.port, '/presence')).status, 404);
    assert.strictEqual((await get(off.port, '/presence.js')).status, 200);
    assert.strictEqual((await get(off.port, '/files.js')).status, 200);
  } finally {
    await off.stop();
  }
});

test('session, automatic member@new with name and info, state and subprotocol', async (ctx) => {
  const spy = spySocket();
  const c = client(ctx, { WebSocket: spy.Ctor, name: 'Ann', info: 'likes tea' });
  assert.strictEqual(c.state(), 'connecting');
  const s = await waitFor(c, 'sgcsession');
  assert.match(s.id, GUID);
  const r = await waitFor(c, 'ready');
  assert.deepStrictEqual(r.member, { id: s.id, name: 'Ann', info: 'likes tea' });
  assert.strictEqual(c.socket.protocol, 'presence.esegece.com');
  assert.strictEqual(c.state(), 'open');
  assert.deepStrictEqual(JSON.parse(spy.sent[0]), {
    jsonrpc: '2.0', method: 'sgc@presence@member@new', member: { id: s.id, name: 'Ann', info: 'likes tea' },
  });
  assert.deepStrictEqual(JSON.parse(spy.got[0]), { jsonrpc: '2.0', method: 'sgc@presence@session', message: { text: s.id } });
  const mine = await waitFor(c, 'sgcnewmember', (e) => e.member.id === s.id);
  assert.strictEqual(mine.member.name, 'Ann');
  await waitUntil(() => c.members.has(s.id), 'own member listed');
  c.close();
  await waitFor(c, 'close');
  assert.strictEqual(c.state(), 'closed');
});

test('join, leave, publish, getMembers; each sees the other; errors 5, 11, 12', async (ctx) => {
  const room = fresh('room');
  const a = await ready(ctx, 'Alice');
  const b = await ready(ctx, 'Bob');
  await waitUntil(() => a.members.has(b.member.id), 'Alice sees Bob online');
  await joined(a, room);
  await joined(b, room);
  await waitFor(a, 'sgcnewchannelmember', (e) => e.channel === room && e.member.name === 'Bob');
  await waitUntil(() => names(a.channels.get(room)).join() === 'Alice,Bob', `Alice lists both in ${room}`);
  assert.deepStrictEqual(names(b.channels.get(room)), ['Alice', 'Bob']);
  assert.deepStrictEqual((await a.getMembers(room)).map((m) => m.name).sort(), ['Alice', 'Bob']);
  const everyone = (await b.getMembers()).map((m) => m.id);
  assert.ok(everyone.includes(a.member.id) && everyone.includes(b.member.id));

  // Publish to the room: both, with the publisher; to "" (everyone).
  a.publish('hello room', room);
  for (const c of [a, b]) {
    const e = await waitFor(c, 'sgcpublishmsg', (x) => x.message.text === 'hello room');
    assert.strictEqual(e.channel, room);
    assert.deepStrictEqual(e.member, { id: a.member.id, name: 'Alice', info: '' });
  }
  b.publish({ json: [1, 2] }, '');
  const j = await waitFor(a, 'sgcpublishmsg', (x) => x.channel === '' && x.member.name === 'Bob');
  assert.deepStrictEqual(j.message.text, { json: [1, 2] }, 'a JSON object keeps its shape');

  // Errors: join twice (11), publish to a room we are not in (12) or that does not exist (5),
  // get@members of a room that does not exist (5, the promise rejects).
  a.join(room);
  const e11 = await waitFor(a, 'sgcerrormemberchannel', (e) => e.error.code === 11);
  assert.strictEqual(e11.error.text, 'Subscription already exists.');
  assert.strictEqual(e11.channel, room);
  const c = await ready(ctx, 'Carol');
  c.publish('not a member', room);
  const e12 = await waitFor(c, 'sgcerrorpublishmsg', (e) => e.error.code === 12);
  assert.strictEqual(e12.message.text, 'not a member');
  c.publish('nowhere', fresh('none'));
  const e5 = await waitFor(c, 'sgcerrorpublishmsg', (e) => e.error.code === 5);
  assert.strictEqual(e5.error.text, 'Channel not exists');
  await assert.rejects(c.getMembers(fresh('none')), (err) => err.code === 5);
  c.leave(room);
  await waitFor(c, 'sgcerrormemberchannel', (e) => e.error.code === 12 && e.channel === room);

  // Leave: the other sees it and drops Bob from its list.
  b.leave(room);
  const left = await waitFor(a, 'sgcremovechannelmember', (e) => e.channel === room && e.member.name === 'Bob');
  assert.strictEqual(left.member.id, b.member.id);
  assert.deepStrictEqual(names(a.channels.get(room)), ['Alice']);
  await waitUntil(() => !b.channels.has(room), 'Bob drops the room');
  b.publish('after leaving', room);
  await waitFor(b, 'sgcerrorpublishmsg', (e) => e.error.code === 12);

  // Close: everyone sees Bob go.
  b.close();
  await waitFor(a, 'sgcremovemember', (e) => e.member.id === b.member.id || e.member.name === 'Bob');
  await waitUntil(() => !a.members.has(b.events.find((e) => e.type === 'ready').member.id), 'Bob gone from the list');
  for (const x of [a, c]) x.close();
});

test('invitation: accepted (joins, inviter told), declined by default, unknown invitee (3)', async (ctx) => {
  const room = fresh('inv');
  const a = await ready(ctx, 'Alice');
  const b = await ready(ctx, 'Bob');
  const c = await ready(ctx, 'Carol');
  await joined(a, room);
  b.on('sgcchannelinvitation', (e) => {
    if (e.channel === room) e.accept();
  });
  a.invite(room, b.member.id);
  const inv = await waitFor(b, 'sgcchannelinvitation');
  assert.deepStrictEqual(inv.member, { id: a.member.id, name: 'Alice', info: '' });
  const yes = await waitFor(a, 'sgcchannelinvitationresponse', (e) => e.member.id === b.member.id);
  assert.strictEqual(yes.accept, true);
  assert.strictEqual(yes.channel, room);
  await waitFor(a, 'sgcnewchannelmember', (e) => e.channel === room && e.member.name === 'Bob');
  await waitUntil(() => b.joined.has(room) && names(b.channels.get(room)).join() === 'Alice,Bob', 'Bob in the room');
  // Carol has no listener that accepts: declined.
  a.invite(room, [c.member.id]);
  const no = await waitFor(a, 'sgcchannelinvitationresponse', (e) => e.member.id === c.member.id);
  assert.strictEqual(no.accept, false);
  assert.ok(!c.joined.has(room));
  // Nobody by that id.
  a.invite(room, 'NO-SUCH-MEMBER');
  const e3 = await waitFor(a, 'sgcerrormemberchannel', (e) => e.error.code === 3);
  assert.strictEqual(e3.member.id, 'NO-SUCH-MEMBER');
  for (const x of [a, b, c]) x.close();
});

test('update: the new name and info reach every member (sgc@presence@member@update)', async (ctx) => {
  const a = await ready(ctx, 'Alice');
  const b = await ready(ctx, 'Bob');
  await waitUntil(() => b.members.has(a.member.id), 'Bob sees Alice');
  a.update('Alicia', { room: 'lobby' });
  const u = await waitFor(b, 'sgcupdatemember', (e) => e.member.id === a.member.id);
  assert.deepStrictEqual(u.member, { id: a.member.id, name: 'Alicia', info: { room: 'lobby' } });
  assert.strictEqual(b.members.get(a.member.id).name, 'Alicia');
  await waitFor(a, 'sgcupdatemember');
  assert.strictEqual(a.member.name, 'Alicia');
  a.close();
  b.close();
});

test('sgc@b64 values: sent encoded (method included), read back decoded', async (ctx) => {
  const spy = spySocket();
  const room = fresh('b64');
  const a = await ready(ctx, 'Ärger', { WebSocket: spy.Ctor, encodeBase64: true });
  const b = await ready(ctx, 'Bob');
  const announce = JSON.parse(spy.sent[0]);
  assert.strictEqual(announce.jsonrpc, '2.0');
  assert.ok(announce.method.startsWith('sgc@b64:'), 'method not encoded');
  assert.strictEqual(sgcpresence.decodeValues(announce).member.name, 'Ärger');
  await joined(a, room);
  await joined(b, room);
  a.publish('grüß dich', room);
  const got = await waitFor(b, 'sgcpublishmsg', (e) => e.channel === room);
  assert.strictEqual(got.message.text, 'grüß dich');
  assert.strictEqual(got.member.name, 'Ärger');
  // A value the server would send encoded is decoded on the way in, at any depth.
  const enc = sgcpresence.encodeValues({ jsonrpc: '2.0', members: [{ id: 'x', name: 'ü' }] }, true);
  assert.deepStrictEqual(sgcpresence.decodeValues(enc), { jsonrpc: '2.0', members: [{ id: 'x', name: 'ü' }] });
  a.close();
  b.close();
});

test('acknowledgment: every message carries an id and the server acks it', async (ctx) => {
  const spy = spySocket();
  const a = await ready(ctx, 'Acker', { WebSocket: spy.Ctor, acknowledgment: true, ackTimeout: 60000 });
  const room = fresh('ack');
  await joined(a, room);
  a.publish('acked', room);
  await waitFor(a, 'sgcpublishmsg');
  const ids = spy.sent.map((t) => JSON.parse(t).id);
  assert.ok(ids.length >= 3 && ids.every((id) => GUID.test(id)), `ids: ${ids}`);
  await waitUntil(() => a.pending.length === 0, 'all acknowledged');
  for (const id of ids) assert.ok(a.events.some((e) => e.type === 'sgcacknowledgment' && e.id === id), `no ack of ${id}`);
  a.close();
});

test('reconnect: daemon killed and restarted; member announced again, channels joined again', async () => {
  const daemon = await new Daemon().start();
  const local = { daemon };
  const room = fresh('re');
  try {
    const a = await ready(local, 'Ann', { reconnectDelay: 200, reconnectMaxDelay: 1000 });
    const first = a.member.id;
    await joined(a, room);
    a.publish('before', room);
    await waitFor(a, 'sgcpublishmsg', (e) => e.message.text === 'before');
    await daemon.kill();
    await waitFor(a, 'close', (e) => e.willReconnect);
    await waitFor(a, 'reconnecting');
    a.publish('while down', room); // kept and sent once ready again
    await daemon.start(daemon.port);
    await waitFor(a, 'ready', (e) => e.reconnected, 20000);
    assert.notStrictEqual(a.member.id, first, 'the member id is the new session');
    await waitUntil(() => a.channels.has(room) && a.channels.get(room).has(a.member.id), 'rejoined', 10000);
    await waitFor(a, 'sgcpublishmsg', (e) => e.message.text === 'while down');
    const b = await ready(local, 'Ben');
    await joined(b, room);
    await waitUntil(() => names(a.channels.get(room)).join() === 'Ann,Ben', 'Ann sees Ben');
    a.close();
    b.close();
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
