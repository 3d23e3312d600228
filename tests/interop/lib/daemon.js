'use strict';
// Starts a real switchboard daemon on a free loopback port and stops it: the node twin of
// tests/support/sbtest.py. The binary comes from $SWITCHBOARD_BIN (CTest sets it), else
// build/bin/switchboard at the repository root.

const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..', '..');

function daemonPath() {
  return process.env.SWITCHBOARD_BIN || path.join(ROOT, 'build', 'bin', 'switchboard');
}

function canBind(host, port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port in 20000-32000 that nothing listens on now (ephemeral ports start above). */
async function freePort(host = '127.0.0.1') {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12001);
    if (await canBind(host, port)) return port;
  }
  throw new Error('no free port found in 20000-32000');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tryConnect(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(500);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { s.destroy(); resolve(false); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

const running = new Set();
process.on('exit', () => {
  for (const d of running) { try { d.proc.kill('SIGKILL'); } catch (_) { /* gone */ } }
});

class Daemon {
  /** `args`: extra flags, e.g. ['--document-root', dir]. */
  constructor(args = [], host = '127.0.0.1') {
    this.args = args;
    this.host = host;
    this.proc = null;
    this.port = null;
    this.exitCode = null; // set once the process has exited (signal name if killed by one)
  }

  /** `port`: listen there (e.g. to restart on the same port) instead of on a free one. */
  async start(port = null) {
    const bin = daemonPath();
    if (!fs.existsSync(bin)) {
      throw new Error(`daemon binary not found: ${bin} (build it, or set SWITCHBOARD_BIN)`);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      this.port = port !== null ? port : await freePort(this.host);
      const args = ['--listen', `${this.host}:${this.port}`, '--log-level', 'warn', ...this.args];
      this.proc = spawn(bin, args, { stdio: ['ignore', 'inherit', 'inherit'] });
      this.exitCode = null;
      const proc = this.proc;
      this.exited = new Promise((resolve) => {
        proc.once('exit', (code, signal) => {
          this.exitCode = code !== null ? code : signal;
          running.delete(this);
          resolve(this.exitCode);
        });
      });
      running.add(this);
      const deadline = Date.now() + 10000;
      let up = false;
      while (Date.now() < deadline && this.exitCode === null) {
        if (await tryConnect(this.host, this.port)) { up = true; break; }
        await sleep(50);
      }
      if (up) return this;
      if (this.exitCode === null) {
        await this.stop();
        throw new Error(`nothing listening on ${this.host}:${this.port} after 10 s`);
      }
      if (attempt === 4) throw new Error(`daemon exited early with code ${this.exitCode}`);
    }
    return this;
  }

  /** SIGKILL (no close handshake: clients see a dropped connection); resolves once it is gone. */
  async kill() {
    if (!this.proc || this.exitCode !== null) return this.exitCode;
    this.proc.kill('SIGKILL');
    return this.exited;
  }

  alive() {
    return this.proc !== null && this.exitCode === null;
  }

  /** SIGTERM, then wait; SIGKILL after `timeoutMs`. Resolves to the exit code (or signal). */
  async stop(timeoutMs = 10000) {
    if (!this.proc) return null;
    if (this.exitCode !== null) return this.exitCode;
    this.proc.kill('SIGTERM');
    let timer;
    const killed = new Promise((resolve) => {
      timer = setTimeout(() => { this.proc.kill('SIGKILL'); resolve('timeout'); }, timeoutMs);
    });
    const r = await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    if (r === 'timeout') {
      await this.exited;
      throw new Error(`daemon did not exit within ${timeoutMs} ms of SIGTERM; killed`);
    }
    return this.exitCode;
  }

  url(p = '/echo', scheme = 'ws') {
    return `${scheme}://${this.host}:${this.port}${p}`;
  }
}

module.exports = { Daemon, daemonPath, freePort, ROOT };
