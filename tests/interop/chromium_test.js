'use strict';
// Interop: headless Chromium (Debian's /usr/bin/chromium, driven by puppeteer-core, which never
// downloads a browser) against the switchboard daemon: a page served by the daemon from
// tests/interop/www opens a WebSocket to /echo, echoes 100 messages and closes cleanly; and an
// EventSource follows a channel of the sgc protocol through /sse/<channel>.
// Run all:  node tests/interop/chromium_test.js
// Run one:  node tests/interop/chromium_test.js "about:blank"   (substring of the test name)
// Browser:  CHROMIUM=/path/to/chromium (default /usr/bin/chromium)

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { test, run, requirePeer } = require('./lib/harness');
const { Daemon } = require('./lib/daemon');

const puppeteer = requirePeer('puppeteer-core');

const WWW = path.join(__dirname, 'www');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function launch() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (scripts/setup.sh installs chromium)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: false, // '--headless' is passed below, as given, instead of puppeteer's own flag
    pipe: true,
    timeout: 30000,
    protocolTimeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           `--user-data-dir=${profile}`,
           // Recent Chromium (seen with 156) blocks a WebSocket from about:blank (not a local origin) to 127.0.0.1
           // with net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS; pages served by the daemon
           // itself are same-origin and unaffected.
           '--disable-features=LocalNetworkAccessChecks'],
  });
  return { browser, profile };
}

/** Opens a fresh page, collecting console errors and failed requests for failure messages. */
async function newPage(ctx) {
  const page = await ctx.browser.newPage();
  page.setDefaultTimeout(30000);
  page.log = [];
  page.on('console', (m) => { if (m.type() === 'error') page.log.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.log.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => page.log.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`));
  return page;
}

function checkEcho(r, page, count, code) {
  const context = page.log.length ? `\n  page log: ${page.log.join('\n  ')}` : '';
  assert.ok(r.opened, `the WebSocket never opened: ${JSON.stringify(r)}${context}`);
  assert.deepStrictEqual(r.errors, [], `echo errors (${r.echoed} of ${count} echoed): ${r.errors.join("; ")}${context}`);
  assert.strictEqual(r.echoed, count, `${r.echoed} of ${count} messages echoed${context}`);
  assert.strictEqual(r.closeCode, code, `close event code ${r.closeCode} (reason '${r.closeReason}'), expected ${code}`);
  assert.strictEqual(r.wasClean, true, `close event wasClean ${r.wasClean} with code ${r.closeCode}`);
  console.log(`  (Sec-WebSocket-Extensions negotiated: '${r.extensions}')`);
}

test('document root serves echo.html and echo.js', async (ctx) => {
  const page = await newPage(ctx);
  try {
    for (const [file, type] of [['echo.html', /^text\/html\b/], ['echo.js', /^(text|application)\/(javascript|x-javascript|ecmascript)\b/]]) {
      const url = `http://127.0.0.1:${ctx.daemon.port}/${file}`;
      const res = await page.goto(url, { waitUntil: 'domcontentloaded' });
      assert.ok(res, `no response for ${url}`);
      assert.strictEqual(res.status(), 200, `GET /${file}: HTTP ${res.status()}`);
      const ct = res.headers()['content-type'] || '';
      assert.match(ct, type, `GET /${file}: Content-Type '${ct}'`);
      const body = await res.text();
      const onDisk = fs.readFileSync(path.join(WWW, file), 'utf8');
      assert.strictEqual(body, onDisk, `GET /${file}: body (${body.length} chars) differs from the file (${onDisk.length} chars)`);
    }
  } finally {
    await page.close();
  }
});

test('page from the document root echoes 100 messages and closes cleanly with 1000', async (ctx) => {
  const page = await newPage(ctx);
  try {
    const res = await page.goto(`http://127.0.0.1:${ctx.daemon.port}/echo.html`);
    assert.strictEqual(res && res.status(), 200, `GET /echo.html: HTTP ${res && res.status()}`);
    await page.waitForFunction(() => window.echoResult !== undefined, { timeout: 40000 })
      .catch((e) => { throw new Error(`no echoResult from the page: ${e.message}; page log: ${page.log.join('; ')}`); });
    const r = await page.evaluate(() => window.echoResult);
    checkEcho(r, page, 100, 1000);
    const status = await page.$eval('#status', (el) => el.textContent);
    assert.ok(status.includes('"echoed":100'), `page status shows: ${status.slice(0, 200)}`);
  } finally {
    await page.close();
  }
});

async function injected(ctx, count, code, reason) {
  const page = await newPage(ctx);
  try {
    await page.goto('about:blank');
    await page.addScriptTag({ content: fs.readFileSync(path.join(WWW, 'echo.js'), 'utf8') });
    const url = ctx.daemon.url('/echo');
    const r = await page.evaluate((u, n, c, why) => runEcho(u, n, c, why), url, count, code, reason);
    checkEcho(r, page, count, code);
    return r;
  } finally {
    await page.close();
  }
}

test('about:blank with injected script echoes 100 messages and closes cleanly with 1000', async (ctx) => {
  await injected(ctx, 100, 1000, 'done');
});

test('about:blank: close with application code 4000 and a reason is clean', async (ctx) => {
  await injected(ctx, 10, 4000, 'application close');
});

test('three pages at once each echo 100 messages', async (ctx) => {
  await Promise.all([1, 2, 3].map(() => injected(ctx, 100, 1000, 'done')));
});

test('permessage-deflate negotiated with Chromium: 100 messages echo and close cleanly', async (ctx) => {
  // A second daemon with the extension enabled; Chromium offers it on every connection.
  const daemon = await new Daemon(['--document-root', WWW, '--permessage-deflate']).start();
  const page = await newPage(ctx);
  try {
    await page.goto('about:blank');
    await page.addScriptTag({ content: fs.readFileSync(path.join(WWW, 'echo.js'), 'utf8') });
    const r = await page.evaluate((u) => runEcho(u, 100, 1000, 'done'), daemon.url('/echo'));
    checkEcho(r, page, 100, 1000);
    assert.ok(String(r.extensions).startsWith('permessage-deflate'),
              `extensions negotiated: '${r.extensions}'`);
  } finally {
    await page.close();
    await daemon.stop();
  }
});

test('EventSource on /sse/<channel> receives the sgc channel with sequence ids', async (ctx) => {
  const WebSocket = requirePeer('ws');
  const page = await newPage(ctx);
  try {
    // Same origin as the stream: a page from the daemon's document root.
    await page.goto(`http://127.0.0.1:${ctx.daemon.port}/echo.html`);
    await page.evaluate(() => {
      window.sse = { events: [], errors: 0, open: false };
      const es = new EventSource('/sse/prices');
      es.onopen = () => { window.sse.open = true; };
      es.onmessage = (e) => window.sse.events.push({ id: e.lastEventId, data: JSON.parse(e.data) });
      es.onerror = () => { window.sse.errors++; };
    });
    await page.waitForFunction(() => window.sse.open, { timeout: 10000 });
    // Publish over the sgc protocol from node, as any sgc client would.
    const ws = new WebSocket(ctx.daemon.url('/sgc'), ['esegece.com']);
    await new Promise((resolve, reject) => { ws.once('message', resolve); ws.once('error', reject); });
    for (const message of ['EUR 1.08', { sym: 'GBP', px: 1.27 }, [1, 2, 3]])
      ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'sgc@publish',
                               params: { channel: 'prices', message } }));
    await page.waitForFunction(() => window.sse.events.length >= 3, { timeout: 10000 })
      .catch((e) => { throw new Error(`${e.message}; page log: ${page.log.join('; ')}`); });
    const r = await page.evaluate(() => window.sse);
    ws.close();
    assert.deepStrictEqual(r.events, [
      { id: '1', data: 'EUR 1.08' },
      { id: '2', data: { sym: 'GBP', px: 1.27 } },
      { id: '3', data: [1, 2, 3] },
    ]);
    assert.strictEqual(r.errors, 0, 'EventSource reported errors');
  } finally {
    await page.close();
  }
});

let launched = null;
run({
  before: async () => {
    const daemon = await new Daemon(['--document-root', WWW]).start();
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
      ctx.daemon = await new Daemon(['--document-root', WWW]).start();
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
