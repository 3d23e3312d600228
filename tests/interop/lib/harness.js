'use strict';
// A tiny sequential test runner: each test has a time limit, a failure prints what was expected
// and what came back, and the last line is "N passed, N failed" (exit code 1 on any failure).
// Run one test alone by giving a substring of its name: node node_ws_test.js "close 3000".

const path = require('path');

/** Fails fast, with a clear message, when `npm install` has not been run in tests/interop. */
function requirePeer(name) {
  try {
    return require(name);
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e;
    const dir = path.resolve(__dirname, '..');
    console.error(`interop: npm package '${name}' is missing from ${dir}/node_modules.\n` +
                  'Run scripts/setup.sh (or: cd tests/interop && npm install --no-package-lock).');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

const tests = [];
const STARTED = Date.now();
const FILE_BUDGET_MS = 240000; // past this, remaining tests fail at once (CTest kills at 300 s)

function test(name, fn, { timeoutMs = 45000 } = {}) {
  tests.push({ name, fn, timeoutMs });
}

async function run({ before, after, afterEach } = {}) {
  const filter = process.argv.slice(2).join(' ');
  const selected = tests.filter((t) => !filter || t.name.includes(filter));
  let passed = 0;
  let failed = 0;
  const failures = [];
  let ctx;
  try {
    ctx = before ? await before() : undefined;
  } catch (e) {
    console.error(`setup failed: ${e && e.stack ? e.stack : e}`);
    console.log(`0 passed, ${Math.max(selected.length, 1)} failed`);
    process.exit(1);
  }
  for (const t of selected) {
    const started = Date.now();
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${t.timeoutMs} ms`)), t.timeoutMs);
    });
    let error = null;
    try {
      if (Date.now() - STARTED > FILE_BUDGET_MS) {
        throw new Error(`not run: earlier tests used up this file's ${FILE_BUDGET_MS / 1000} s budget`);
      }
      await Promise.race([Promise.resolve().then(() => t.fn(ctx)), timeout]);
    } catch (e) {
      error = e;
    }
    clearTimeout(timer);
    if (afterEach) {
      try {
        await afterEach(ctx, t);
      } catch (e) {
        error = error || e;
      }
    }
    const ms = Date.now() - started;
    if (error) {
      failed++;
      failures.push(t.name);
      console.log(`not ok - ${t.name} (${ms} ms)`);
      console.log(`  ${String(error && error.stack ? error.stack : error).split('\n').join('\n  ')}`);
    } else {
      passed++;
      console.log(`ok - ${t.name} (${ms} ms)`);
    }
  }
  if (after) {
    try {
      await after(ctx);
    } catch (e) {
      failed++;
      console.log(`not ok - teardown: ${e && e.stack ? e.stack : e}`);
    }
  }
  if (selected.length === 0) {
    console.log(`no test matches '${filter}'`);
    failed++;
  }
  if (failures.length) console.log(`failed: ${failures.join('; ')}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

module.exports = { test, run, requirePeer };
