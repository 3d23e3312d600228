'use strict';
// Interop: the presence demo (/presence, protocols/presence/presence.html, on /presence.js and
// /files.js) in headless Chromium (Debian's /usr/bin/chromium driven by puppeteer-core) against
// the daemon: two pages enter one room and see each other in the member list and in the room;
// a chat message crosses; one page uploads a 3 MB file through the page's file input with a
// progress bar, and the other receives it (its SHA-256, computed in that page, equals the
// original's); then one page is closed and the other sees it leave. An invitation from one room
// to a member in another, accepted in the page, moves that member over.
// Run all:  node tests/interop/presence_test.js
// Run one:  node tests/interop/presence_test.js "upload"     (substring of the test name)
// Browser:  CHROMIUM=/path/to/chromium (default /usr/bin/chromium)

const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { test, run, requirePeer } = require('./lib/harness');
const { Daemon } = require('./lib/daemon');

const puppeteer = requirePeer('puppeteer-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function launch() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (scripts/setup.sh installs chromium)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-presence-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: false, // '--headless' is passed below, as given
    pipe: true,
    timeout: 30000,
    protocolTimeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
           '--disable-backgrounding-occluded-windows',
           `--user-data-dir=${profile}`],
  });
  return { browser, profile };
}

/** A page on /presence, entered as `name` in `room` (its own browser context). */
async function enter(ctx, name, room) {
  const context = await ctx.browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.log = [];
  page.on('console', (m) => { if (m.type() === 'error') page.log.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.log.push(`page error: ${e.message}`));
  const res = await page.goto(`http://127.0.0.1:${ctx.daemon.port}/presence?room=${room}`);
  assert.strictEqual(res.status(), 200);
  await page.type('#name', name);
  await page.click('#join');
  await page.waitForSelector('body[data-state="online"]');
  await page.waitForSelector('body[data-ready]');
  // In the presence channel and in the Files channel of the room.
  await page.waitForSelector(`body[data-joined="${room}"][data-files-joined="${room}"]`);
  page.context_ = context;
  return page;
}

/** Names in a list (#members or #room-members). */
const listed = (page, id) => page.$$eval(`#${id} li`, (lis) => lis.map((li) => li.dataset.name).sort());

async function waitListed(page, id, names, what) {
  try {
    await page.waitForFunction((i, want) => {
      const got = Array.from(document.querySelectorAll(`#${i} li`), (li) => li.dataset.name).sort();
      return JSON.stringify(got) === JSON.stringify(want);
    }, { timeout: 10000 }, id, names.slice().sort());
  } catch (e) {
    throw new Error(`${what}: #${id} shows ${JSON.stringify(await listed(page, id))}, not ` +
                    `${JSON.stringify(names)}; log: ${page.log.join('; ')}`);
  }
}

let roomCounter = 0;
const newRoom = () => `room${process.pid}-${++roomCounter}`;

test('/presence, /presence.js and /files.js load in the page without errors', async (ctx) => {
  const page = await ctx.browser.newPage();
  const log = [];
  page.on('pageerror', (e) => log.push(e.message));
  try {
    const res = await page.goto(`http://127.0.0.1:${ctx.daemon.port}/presence`);
    assert.strictEqual(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/html\b/);
    assert.deepStrictEqual(await page.evaluate(() => [typeof sgcpresence, typeof sgcfiles]), ['function', 'function']);
    assert.strictEqual(await page.$eval('#upload', (e) => e.hidden), false, 'the upload control is hidden');
    assert.deepStrictEqual(log, []);
  } finally {
    await page.close();
  }
});

test('two pages: see each other join, chat, a 3 MB upload is received, then one leaves', async (ctx) => {
  const room = newRoom();
  const alice = await enter(ctx, 'Alice', room);
  let bob = null;
  const file = path.join(ctx.tmp, 'upload-3mb.bin');
  const original = crypto.randomBytes(3 * 1024 * 1024 + 17);
  fs.writeFileSync(file, original);
  try {
    bob = await enter(ctx, 'Bob', room);
    // Each sees the other online, in the room, and the room with two people.
    for (const [p, who] of [[alice, 'Alice'], [bob, 'Bob']]) {
      await waitListed(p, 'members', ['Alice', 'Bob'], `${who}'s member list`);
      await waitListed(p, 'room-members', ['Alice', 'Bob'], `${who}'s room list`);
      await p.waitForSelector(`#rooms li[data-room="${room}"][data-count="2"]`, { timeout: 10000 });
    }
    await alice.waitForFunction((t) => Array.from(document.querySelectorAll('#messages .system'))
      .some((e) => e.textContent === t), { timeout: 10000 }, `Bob joined #${room}`);
    // A member entering another room shows there, not in ours.
    const carol = await enter(ctx, 'Carol', newRoom());
    try {
      await waitListed(alice, 'members', ['Alice', 'Bob', 'Carol'], 'Alice sees Carol online');
      assert.deepStrictEqual(await listed(alice, 'room-members'), ['Alice', 'Bob']);
    } finally {
      await carol.context_.close();
    }
    await waitListed(alice, 'members', ['Alice', 'Bob'], 'Carol gone');

    // Chat both ways.
    await alice.type('#text', 'hello Bob <b>x</b>');
    await alice.keyboard.press('Enter');
    await bob.waitForFunction(() => Array.from(document.querySelectorAll('#messages .msg .text'))
      .some((e) => e.textContent === 'hello Bob <b>x</b>'), { timeout: 10000 });
    assert.strictEqual(await bob.$$eval('#messages b', (b) => b.length), 0, 'message text was parsed as HTML');

    // Upload through the file input; the progress bar moves and ends full.
    await alice.evaluate(() => {
      window.progressSeen = [];
      window.presenceDemo.files.on('sgcfileprogress', (e) => window.progressSeen.push(document.getElementById('progress').value));
    });
    const input = await alice.$('#upload-input');
    await input.uploadFile(file);
    await alice.waitForSelector('#upload-button:not([disabled])');
    await alice.click('#upload-button');
    await alice.waitForSelector('body[data-upload="sent"]', { timeout: 30000 });
    assert.strictEqual(await alice.$eval('#progress', (e) => e.value), 1);
    const seen = await alice.evaluate(() => window.progressSeen);
    assert.ok(seen.length >= 40, `only ${seen.length} progress steps for 49 chunks`);
    assert.ok(seen.some((v) => v > 0 && v < 1), 'the bar never showed a partial value');

    // Bob receives it: a download link, and the blob's SHA-256 (in his page) is the original's.
    await bob.waitForFunction(() => window.presenceDemo.received.length === 1, { timeout: 30000 });
    const got = await bob.evaluate(async () => {
      const r = window.presenceDemo.received[0];
      const digest = await crypto.subtle.digest('SHA-256', await r.blob.arrayBuffer());
      const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
      const a = document.querySelector('#messages .file a[download]');
      return { name: r.name, size: r.size, from: r.from, hex, blobSize: r.blob.size, link: a && a.getAttribute('download'),
               href: a && a.href.slice(0, 5) };
    });
    assert.deepStrictEqual(got, {
      name: 'upload-3mb.bin', size: original.length, from: 'Alice', blobSize: original.length,
      hex: crypto.createHash('sha256').update(original).digest('hex'), link: 'upload-3mb.bin', href: 'blob:',
    });
    assert.strictEqual(await alice.evaluate(() => window.presenceDemo.received.length), 0, 'the uploader got its own file');
    // The daemon stored it too.
    assert.ok(fs.readFileSync(path.join(ctx.tmp, 'received', 'upload-3mb.bin')).equals(original));

    // Bob closes his page: Alice sees him leave the room and the presence.
    await bob.close();
    await waitListed(alice, 'room-members', ['Alice'], 'Bob left the room');
    await waitListed(alice, 'members', ['Alice'], 'Bob went offline');
    await alice.waitForFunction((t) => Array.from(document.querySelectorAll('#messages .system'))
      .some((e) => e.textContent === t), { timeout: 10000 }, `Bob left #${room}`);
    assert.strictEqual(await alice.$(`#rooms li[data-room="${room}"][data-count="1"]`) !== null, true);
    assert.deepStrictEqual(alice.log, [], `page errors: ${alice.log.join('; ')}`);
    assert.deepStrictEqual(bob.log, [], `page errors: ${bob.log.join('; ')}`);
  } finally {
    await alice.context_.close();
    if (bob) await bob.context_.close();
  }
}, { timeoutMs: 90000 });

test('invitation: Alice invites Bob from another room, he accepts and moves to her room', async (ctx) => {
  const room = newRoom();
  const alice = await enter(ctx, 'Alice', room);
  let bob = null;
  try {
    bob = await enter(ctx, 'Bob', newRoom());
    await waitListed(alice, 'members', ['Alice', 'Bob'], 'Alice sees Bob online');
    assert.strictEqual(await alice.$('#members li[data-name="Alice"] button.invite'), null, 'an invite button for oneself');
    await alice.click('#members li[data-name="Bob"] button.invite');
    await bob.waitForSelector('#messages li.invitation[data-from="Alice"] button.accept', { timeout: 10000 });
    assert.strictEqual(await bob.$eval('#messages li.invitation', (e) => e.dataset.room), room);
    await bob.click('#messages li.invitation button.accept');
    await bob.waitForSelector(`body[data-joined="${room}"][data-files-joined="${room}"]`, { timeout: 10000 });
    assert.strictEqual(await bob.$eval('#room-title', (e) => e.textContent), `#${room}`);
    await waitListed(alice, 'room-members', ['Alice', 'Bob'], 'Bob in Alice\'s room');
    await waitListed(bob, 'room-members', ['Alice', 'Bob'], 'Bob lists the room');
    await alice.waitForFunction((t) => Array.from(document.querySelectorAll('#messages .system'))
      .some((e) => e.textContent === t), { timeout: 10000 }, `Bob accepted your invitation to #${room}.`);
    // His info follows him: Alice's list shows him in her room, with no invite button left.
    await alice.waitForSelector(`#members li[data-name="Bob"][data-room="${room}"]`, { timeout: 10000 });
    assert.strictEqual(await alice.$('#members li[data-name="Bob"] button.invite'), null);
    assert.deepStrictEqual(alice.log.concat(bob.log), []);
  } finally {
    await alice.context_.close();
    if (bob) await bob.context_.close();
  }
});

let launched = null;
let tmp = null;
run({
  before: async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-presence-files-'));
    const daemon = await new Daemon(['--files-dir', path.join(tmp, 'received')]).start();
    try {
      launched = await launch();
    } catch (e) {
      await daemon.stop();
      throw e;
    }
    return { daemon, browser: launched.browser, tmp };
  },
  afterEach: async (ctx) => {
    if (!ctx.daemon.alive()) {
      const code = ctx.daemon.exitCode;
      ctx.daemon = await new Daemon(['--files-dir', path.join(tmp, 'received')]).start();
      throw new Error(`the daemon exited with ${code} during this test`);
    }
  },
  after: async (ctx) => {
    try {
      await ctx.browser.close();
    } finally {
      fs.rmSync(launched.profile, { recursive: true, force: true });
      await ctx.daemon.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
});
