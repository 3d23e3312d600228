'use strict';
// Interop: the chat demo (/chat, protocols/sgc/chat.html, on /sgc.js) in headless Chromium
// (Debian's /usr/bin/chromium driven by puppeteer-core) against the daemon: two pages join one
// room and talk both ways, typing notices show on the other page, a late joiner gets the
// retained history, the layout fits a phone, and the pages show the reconnect state when the
// daemon is killed and recover when it comes back on the same port.
// Run all:  node tests/interop/chat_test.js
// Run one:  node tests/interop/chat_test.js "typing"     (substring of the test name)
// Browser:  CHROMIUM=/path/to/chromium (default /usr/bin/chromium)

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { test, run, requirePeer } = require('./lib/harness');
const { Daemon } = require('./lib/daemon');

const puppeteer = requirePeer('puppeteer-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function launch() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (scripts/setup.sh installs chromium)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-chat-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: false, // '--headless' is passed below, as given
    pipe: true,
    timeout: 30000,
    protocolTimeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           // Background pages must keep their timers running at full speed (typing expiry).
           '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
           '--disable-backgrounding-occluded-windows',
           `--user-data-dir=${profile}`],
  });
  return { browser, profile };
}

/** A page on /chat?room=... , joined as `name`; collects console errors for failure messages. */
async function join(ctx, name, room, viewport) {
  const context = await ctx.browser.createBrowserContext(); // own localStorage per person
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.log = [];
  page.on('console', (m) => { if (m.type() === 'error') page.log.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.log.push(`page error: ${e.message}`));
  if (viewport) await page.setViewport(viewport);
  const res = await page.goto(`http://127.0.0.1:${ctx.daemon.port}/chat?room=${room}`);
  assert.strictEqual(res.status(), 200);
  await page.waitForSelector('body[data-state="online"]');
  await page.type('#name', name);
  await page.click('#join');
  await page.waitForSelector('#chat-view:not([hidden])');
  // Joined once both subscriptions (messages, then typing) are confirmed.
  await page.waitForSelector(`body[data-joined="${room}"]`);
  page.context_ = context;
  return page;
}

async function leave(page) {
  await page.context_.close();
}

async function say(page, text) {
  await page.type('#text', text);
  await page.keyboard.press('Enter');
}

/** [{name, text, mine}] of the message list. */
function messages(page) {
  return page.$$eval('#messages li.msg', (lis) => lis.map((li) => ({
    name: li.querySelector('.who').textContent,
    text: li.querySelector('.text').textContent,
    mine: li.classList.contains('mine'),
  })));
}

async function waitForText(page, text, what) {
  try {
    await page.waitForFunction(
      (t) => Array.from(document.querySelectorAll('#messages li.msg .text')).some((e) => e.textContent === t),
      { timeout: 10000 }, text);
  } catch (e) {
    const shown = JSON.stringify(await messages(page));
    throw new Error(`${what}: '${text}' not shown within 10 s; shown: ${shown}; log: ${page.log.join('; ')}`);
  }
}

let roomCounter = 0;
const newRoom = () => `room${process.pid}-${++roomCounter}`;

test('/chat and /sgc.js are served; the page loads without errors', async (ctx) => {
  const page = await ctx.browser.newPage();
  try {
    const res = await page.goto(`http://127.0.0.1:${ctx.daemon.port}/chat`);
    assert.strictEqual(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/html\b/);
    await page.waitForSelector('body[data-state="online"]');
    assert.strictEqual(await page.evaluate(() => typeof sgcws), 'function');
    const js = await page.evaluate(async () => {
      const r = await fetch('/sgc.js');
      return { status: r.status, type: r.headers.get('content-type') };
    });
    assert.deepStrictEqual(js, { status: 200, type: 'application/javascript; charset=utf-8' });
  } finally {
    await page.close();
  }
});

test('two pages in one room: messages both ways, typing indicator, late joiner gets history', async (ctx) => {
  const room = newRoom();
  const alice = await join(ctx, 'Alice', room);
  const bob = await join(ctx, 'Bob', room);
  let carol = null;
  try {
    await say(alice, 'hello from Alice');
    await waitForText(bob, 'hello from Alice', 'Bob sees Alice');
    await say(bob, 'hi Alice, Bob here <b>not bold</b>');
    await waitForText(alice, 'hi Alice, Bob here <b>not bold</b>', 'Alice sees Bob');
    await waitForText(bob, 'hi Alice, Bob here <b>not bold</b>', 'Bob sees his own message');
    assert.strictEqual(await alice.$$eval('#messages b', (b) => b.length), 0, 'message text was parsed as HTML');
    const a = await messages(alice);
    assert.deepStrictEqual(a, [
      { name: 'Alice', text: 'hello from Alice', mine: true },
      { name: 'Bob', text: 'hi Alice, Bob here <b>not bold</b>', mine: false },
    ]);
    assert.deepStrictEqual(await messages(bob), a.map((m) => Object.assign({}, m, { mine: !m.mine })));

    // Typing: Alice types without sending; Bob sees it, Alice does not see herself; it goes away.
    assert.strictEqual(await bob.$eval('#typing', (e) => e.textContent), '');
    await alice.type('#text', 'typing something');
    await bob.waitForFunction(() => document.getElementById('typing').textContent === 'Alice is typing…',
                              { timeout: 5000 });
    assert.strictEqual(await alice.$eval('#typing', (e) => e.textContent), '');
    await bob.waitForFunction(() => document.getElementById('typing').textContent === '', { timeout: 8000 });
    // Sending clears it at once on the other side.
    await alice.type('#text', '!');
    await bob.waitForFunction(() => document.getElementById('typing').textContent !== '', { timeout: 5000 });
    await alice.keyboard.press('Enter');
    await waitForText(bob, 'typing something!', 'Bob sees the typed message');
    await bob.waitForFunction(() => document.getElementById('typing').textContent === '', { timeout: 2000 });

    // Carol joins later: the room's history (queue level 2) is replayed, in order, once.
    carol = await join(ctx, 'Carol', room);
    await waitForText(carol, 'typing something!', 'Carol gets the history');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepStrictEqual((await messages(carol)).map((m) => `${m.name}: ${m.text}`), [
      'Alice: hello from Alice',
      'Bob: hi Alice, Bob here <b>not bold</b>',
      'Alice: typing something!',
    ]);
    await say(carol, 'Carol says hi');
    await waitForText(alice, 'Carol says hi', 'Alice sees Carol');
    await waitForText(bob, 'Carol says hi', 'Bob sees Carol');
    // Another room is separate.
    const other = await join(ctx, 'Dave', newRoom());
    try {
      await say(other, 'elsewhere');
      await waitForText(other, 'elsewhere', 'Dave sees himself');
      assert.deepStrictEqual((await messages(other)).map((m) => m.text), ['elsewhere']);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(!(await messages(alice)).some((m) => m.text === 'elsewhere'), 'a message crossed rooms');
    } finally {
      await leave(other);
    }
    for (const p of [alice, bob, carol]) assert.deepStrictEqual(p.log, [], `page errors: ${p.log.join('; ')}`);
  } finally {
    await leave(alice);
    await leave(bob);
    if (carol) await leave(carol);
  }
});

test('phone-sized window: no horizontal scroll, composer visible, long words wrap', async (ctx) => {
  const phone = { width: 360, height: 640, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
  const page = await join(ctx, 'Pat', newRoom(), phone);
  try {
    await say(page, 'a-very-long-word-without-spaces-'.repeat(8));
    await page.waitForSelector('#messages li.msg');
    const layout = await page.evaluate(() => {
      const box = (id) => document.getElementById(id).getBoundingClientRect();
      return {
        scrollWidth: document.documentElement.scrollWidth,
        send: box('send').toJSON(), text: box('text').toJSON(),
        msg: document.querySelector('#messages li.msg').getBoundingClientRect().toJSON(),
      };
    });
    assert.ok(layout.scrollWidth <= phone.width, `page is ${layout.scrollWidth} px wide`);
    assert.ok(layout.send.right <= phone.width && layout.send.bottom <= phone.height,
              `send button outside the window: ${JSON.stringify(layout.send)}`);
    assert.ok(layout.text.width >= 150, `message box only ${layout.text.width} px wide`);
    assert.ok(layout.msg.right <= phone.width, `message bubble overflows: ${JSON.stringify(layout.msg)}`);
  } finally {
    await leave(page);
  }
});

test('daemon killed: pages show reconnecting, then recover on restart and chat again', async (ctx) => {
  const daemon = await new Daemon().start();
  const port = daemon.port;
  const local = { daemon, browser: ctx.browser };
  const room = newRoom();
  let a = null;
  let b = null;
  try {
    a = await join(local, 'Ann', room);
    b = await join(local, 'Ben', room);
    await say(a, 'before the restart');
    await waitForText(b, 'before the restart', 'Ben sees Ann');
    await daemon.kill();
    for (const p of [a, b]) {
      await p.waitForSelector('body[data-state="reconnecting"]', { timeout: 10000 });
      assert.match(await p.$eval('#banner', (e) => (e.hidden ? '' : e.textContent)), /reconnecting/i);
    }
    await daemon.start(port);
    for (const p of [a, b]) {
      await p.waitForSelector('body[data-state="online"]', { timeout: 20000 });
      assert.strictEqual(await p.$eval('#banner', (e) => e.hidden), true);
    }
    // The restarted daemon has no history: the pages say so, and the chat goes on.
    await a.waitForFunction(() => Array.from(document.querySelectorAll('#messages li.system'))
      .some((e) => /missing/.test(e.textContent)), { timeout: 10000 });
    await say(b, 'after the restart');
    await waitForText(a, 'after the restart', 'Ann sees Ben after the restart');
    assert.deepStrictEqual((await messages(a)).map((m) => m.text), ['before the restart', 'after the restart']);
  } finally {
    if (a) await leave(a);
    if (b) await leave(b);
    await daemon.stop();
  }
});

let launched = null;
run({
  before: async () => {
    const daemon = await new Daemon().start();
    try {
      launched = await launch();
    } catch (e) {
      await daemon.stop();
      throw e;
    }
    return { daemon, browser: launched.browser };
  },
  afterEach: async (ctx) => {
    if (!ctx.daemon.alive()) {
      const code = ctx.daemon.exitCode;
      ctx.daemon = await new Daemon().start();
      throw new Error(`the daemon exited with ${code} during this test`);
    }
  },
  after: async (ctx) => {
    try {
      await ctx.browser.close();
    } finally {
      fs.rmSync(launched.profile, { recursive: true, force: true });
      await ctx.daemon.stop();
    }
  },
});
