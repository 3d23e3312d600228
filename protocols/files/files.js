/*
 * files.js: a browser (and node) client for the sgc Files protocol (subprotocol
 * `files.esegece.com`, spec/sgc-protocols.md section 4), as served by the switchboard daemon at
 * /files.js; the server is protocols/files/server.hpp, and this file runs the same transfers as
 * its transfer.hpp (read it for the flows). One file, no dependencies, no build step, plain
 * ES2017, in the style of /sgc.js. Load it with
 *   <script src="/files.js"></script>                 (defines the global `sgcfiles`)
 * or in node
 *   const sgcfiles = require('./files.js');
 *   const f = new sgcfiles('ws://127.0.0.1:8080/ws/files', { WebSocket: require('ws') });
 *
 *   const f = new sgcfiles(url);
 *   f.subscribe('room1');                           // remembered: sent again after a reconnect
 *   const t = f.sendFile(input.files[0], { qos: 2, channel: 'room1' });
 *   t.on('progress', (e) => bar.value = e.bytes / e.size);
 *   await t.done;                                   // resolves once the server has it all
 *   f.on('sgcfilereceived', (e) => link(e.name, e.blob));   // a file the server sent us
 *
 * The frame (4.1): 10 ASCII digits (the header's length in UTF-8 bytes, zero-padded), the
 * header (12 fields joined by '|': Id, FileId, FileName, FileSize, FilePosition, BufferSize,
 * Data, Streaming, QoS, Method, Text, Channel), then the payload (a file chunk). In a chunk
 * FilePosition is the offset of the chunk's END. sgcfiles.encodeFrame(fields, payload) and
 * sgcfiles.decodeFrame(bytes) give the frame on its own.
 *
 * Sending, sendFile(source, options) with a File, Blob, ArrayBuffer, typed array or string:
 *   qos 0  the header, then the chunks back to back (stmContinue, the last stmLast), each sent
 *          only while socket.bufferedAmount is under options.sendBudget; done when all are
 *          handed to the socket
 *   qos 1  the same; the server acks each frame and ends with sgc@file_received: done then
 *   qos 2  the header only; the server asks for each chunk with sgc@filerec (acked), and ends
 *          with sgc@file_received. The frame waited on is sent again every qosInterval while
 *          older than qosTimeout, and after a reconnect the header is sent again with the same
 *          FileId, so the server resumes from what it has (its .part file)
 *   The header's Text is `sha256:<64 lower-case hex>` of the whole file (the server checks it:
 *   "Error receiving file, checksum mismatch."), from crypto.subtle.digest when the page may
 *   use it (a secure context: https or localhost) and the file is under 512 MiB, else from the
 *   SHA-256 in this file, chunk by chunk. options.hash false sends an empty Text.
 *   Returns a transfer: {fileId, name, size, qos, channel, done (a Promise of the sent event),
 *   on(type, fn)} with events progress {bytes, size}, sent, error {text, remote}. The same
 *   events fire on the client as sgcfileprogress {direction: 'sending', ...}, sgcfilesent,
 *   sgcfilesenterror {fileId, name, text, remote}. Errors: the server's sgc@file_sent_error
 *   (remote true: "File Rejected.", "File too large.", checksum), a closed connection at QoS
 *   0/1 ("Connection closed."), a read error, cancel() ("File Cancelled.").
 *
 * Receiving (the server's SendFile / BroadcastFile, or a relay of a file another client sent
 * to a channel we subscribed to): the header (acked at QoS 1/2; at QoS 2 answered with
 * sgc@filerec for position 0, then for each next chunk); chunks are acked at QoS 1/2, kept in
 * memory, and at the end the size and the SHA-256 in the header's Text (when there is one) are
 * checked, sgc@file_received is sent (QoS 1/2), and sgcfilereceived fires with
 *   {fileId, name, size, data, channel, qos, sha256, blob (a Blob when Blob exists), bytes (a
 *    Uint8Array of the file)}.
 * Failures send sgc@file_sent_error with the text (at every QoS, as the server does) and fire
 * sgcfilereceivederror {fileId, name, text, remote}; the server's sgc@file_received_error
 * (remote true) drops the file. options.authorize(header) returning false refuses a file
 * ("File Rejected."); headers over options.maxFileSize get "File too large.".
 *
 * Channels: subscribe(channel) / unsubscribe(channel) are text frames in the default
 * protocol's shape ({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"x"},"id":"<guid>"},
 * 4.1 last rule), confirmed by sgcsubscribe / sgcunsubscribe {channel, id}; a refusal fires
 * sgcrpcerror {code, message, data, id}. send(text) is sgc@message (the server's on_message).
 *
 * Other methods: cancel(fileId) ends a send; close([code[, reason]]) closes for good; state().
 * Events also: open {reconnected}, close {code, reason, wasClean, willReconnect},
 * reconnecting {attempt, delay}, error {error}, sgcfileprogress {direction: 'receiving', ...}.
 *
 * Options (defaults):
 *   WebSocket: the global WebSocket        the constructor to use (node: require('ws'))
 *   protocol: 'files.esegece.com'          the subprotocol offered
 *   qos: 0                                 sendFile's default QoS (0, 1, 2)
 *   chunkSize: 65536                       bytes per chunk (0: the whole file in one frame)
 *   sendBudget: 1048576                    pushes wait while bufferedAmount is above this
 *   qosInterval: 1000, qosTimeout: 10000   QoS 2 retries (ms)
 *   maxFileSize: 1073741824                larger incoming headers are refused
 *   hash: true, verify: true               send / check the SHA-256
 *   authorize: null                        function(header) -> false refuses an incoming file
 *   reconnect: true, reconnectDelay: 500, reconnectMaxDelay: 15000, reconnectFactor: 2,
 *   maxReconnectAttempts: 0 (unlimited)    as sgc.js
 */
(function (root, factory) {
  'use strict';
  const sgcfiles = factory();
  if (typeof module === 'object' && module && module.exports) module.exports = sgcfiles;
  else if (root) root.sgcfiles = sgcfiles;
})(typeof globalThis !== 'undefined' ? globalThis : typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const OPEN = 1;
  const QOS = ['qosLevel0', 'qosLevel1', 'qosLevel2'];
  const STREAMING = ['stmNone', 'stmFirst', 'stmContinue', 'stmLast', 'stmContinueAndLast'];
  const FILE = 'sgc@file';
  const ACK = 'sgc@acknowledgment';
  const FILEREC = 'sgc@filerec';
  const RECEIVED = 'sgc@file_received';
  const SENT_ERROR = 'sgc@file_sent_error';
  const RECEIVED_ERROR = 'sgc@file_received_error';
  const METHODS = [FILE, ACK, FILEREC, RECEIVED, SENT_ERROR, RECEIVED_ERROR];
  const FIELDS = ['id', 'fileId', 'fileName', 'fileSize', 'filePosition', 'bufferSize', 'data', 'streaming', 'qos', 'method', 'text', 'channel'];
  const PREFIX = 10;
  const SUBTLE_LIMIT = 512 * 1024 * 1024;

  const DEFAULTS = {
    WebSocket: null,
    protocol: 'files.esegece.com',
    qos: 0,
    chunkSize: 65536,
    sendBudget: 1024 * 1024,
    qosInterval: 1000,
    qosTimeout: 10000,
    maxFileSize: 1024 * 1024 * 1024,
    hash: true,
    verify: true,
    authorize: null,
    reconnect: true,
    reconnectDelay: 500,
    reconnectMaxDelay: 15000,
    reconnectFactor: 2,
    maxReconnectAttempts: 0,
  };

  function guid() {
    const b = new Uint8Array(16);
    const c = typeof crypto !== 'undefined' ? crypto : null;
    if (c && typeof c.getRandomValues === 'function') c.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = '';
    for (let i = 0; i < 16; i++) h += (b[i] + 0x100).toString(16).slice(1);
    h = h.toUpperCase();
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function level(value, fallback) {
    if (value === undefined || value === null) return fallback;
    const n = Number(value);
    if (n === 0 || n === 1 || n === 2) return n;
    throw new RangeError('sgcfiles: qos must be 0, 1 or 2');
  }

  // --- SHA-256 (FIPS 180-4), incremental: for pages without crypto.subtle and for big files ---
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  class Sha256 {
    constructor() {
      this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
      this.w = new Uint32Array(64);
      this.block = new Uint8Array(64);
      this.used = 0; // bytes in `block`
      this.length = 0; // bytes hashed so far
    }
    _compress(b, at) {
      const w = this.w;
      const h = this.h;
      for (let i = 0; i < 16; i++) w[i] = (b[at + 4 * i] << 24) | (b[at + 4 * i + 1] << 16) | (b[at + 4 * i + 2] << 8) | b[at + 4 * i + 3];
      for (let i = 16; i < 64; i++) {
        const x = w[i - 15];
        const y = w[i - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      let a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (let i = 0; i < 64; i++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const ch = (e & f) ^ (~e & g);
        const t1 = (hh + S1 + ch + K[i] + w[i]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const maj = (a & bb) ^ (a & c) ^ (bb & c);
        const t2 = (S0 + maj) | 0;
        hh = g;
        g = f;
        f = e;
        e = (d + t1) | 0;
        d = c;
        c = bb;
        bb = a;
        a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += bb; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    update(bytes) {
      let i = 0;
      const n = bytes.length;
      this.length += n;
      if (this.used > 0) {
        while (i < n && this.used < 64) this.block[this.used++] = bytes[i++];
        if (this.used < 64) return this;
        this._compress(this.block, 0);
        this.used = 0;
      }
      for (; i + 64 <= n; i += 64) this._compress(bytes, i);
      while (i < n) this.block[this.used++] = bytes[i++];
      return this;
    }
    hex() {
      const bits = this.length * 8;
      const pad = new Uint8Array((this.used < 56 ? 56 : 120) - this.used + 8);
      pad[0] = 0x80;
      const hi = Math.floor(bits / 0x100000000);
      const lo = bits >>> 0;
      const end = pad.length;
      pad[end - 8] = hi >>> 24; pad[end - 7] = hi >>> 16; pad[end - 6] = hi >>> 8; pad[end - 5] = hi;
      pad[end - 4] = lo >>> 24; pad[end - 3] = lo >>> 16; pad[end - 2] = lo >>> 8; pad[end - 1] = lo;
      const length = this.length;
      this.update(pad);
      this.length = length;
      let out = '';
      for (let i = 0; i < 8; i++) out += (this.h[i] + 0x100000000).toString(16).slice(1);
      return out;
    }
  }

  function toHex(buffer) {
    const b = new Uint8Array(buffer);
    let s = '';
    for (let i = 0; i < b.length; i++) s += (b[i] + 0x100).toString(16).slice(1);
    return s;
  }
  function subtle() {
    return typeof crypto !== 'undefined' && crypto && crypto.subtle && typeof crypto.subtle.digest === 'function' ? crypto.subtle : null;
  }

  // --- sources: what sendFile reads from ---------------------------------------------------------
  // {name, size, read(start, end) -> Promise<Uint8Array>}
  function sourceOf(src, name) {
    if (typeof Blob !== 'undefined' && src instanceof Blob) {
      return {
        name: name || src.name || 'file',
        size: src.size,
        read: (start, end) => src.slice(start, end).arrayBuffer().then((b) => new Uint8Array(b)),
      };
    }
    let bytes;
    if (typeof src === 'string') bytes = new TextEncoder().encode(src);
    else if (src instanceof ArrayBuffer) bytes = new Uint8Array(src);
    else if (ArrayBuffer.isView(src)) bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    else throw new TypeError('sgcfiles: sendFile takes a File, Blob, ArrayBuffer, typed array or string');
    return { name: name || 'file', size: bytes.length, read: (start, end) => Promise.resolve(bytes.subarray(start, end)) };
  }

  async function hashSource(source) {
    const s = subtle();
    if (s && source.size <= SUBTLE_LIMIT) {
      try {
        return toHex(await s.digest('SHA-256', await source.read(0, source.size)));
      } catch (e) {
        /* fall back to ours */
      }
    }
    const h = new Sha256();
    const step = 4 * 1024 * 1024;
    for (let at = 0; at < source.size; at += step) h.update(await source.read(at, Math.min(source.size, at + step)));
    return h.hex();
  }

  async function hashParts(parts, size) {
    const s = subtle();
    if (s && size <= SUBTLE_LIMIT) {
      try {
        return toHex(await s.digest('SHA-256', concat(parts, size)));
      } catch (e) {
        /* fall back to ours */
      }
    }
    const h = new Sha256();
    for (const p of parts) h.update(p);
    return h.hex();
  }

  function concat(parts, size) {
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  // The wire name: the last component of a path (4.1: the sender strips it).
  function baseName(name) {
    const s = String(name);
    const i = Math.max(s.lastIndexOf('/'), s.lastIndexOf('\\'));
    return s.slice(i + 1);
  }

  // --- the frame (4.1) ---------------------------------------------------------------------------
  const encoder = typeof TextEncoder !== 'undefined' ? new TextEncoder() : null;
  const decoder = typeof TextDecoder !== 'undefined' ? new TextDecoder('utf-8') : null;

  // fields: {id, fileId, fileName, fileSize, filePosition, bufferSize, data, streaming, qos,
  // method, text, channel} (qos a number or 'qosLevelN'); payload: a Uint8Array (or none).
  // Throws on a '|' in a text field.
  function encodeFrame(fields, payload) {
    const values = FIELDS.map((k) => {
      let v = fields[k];
      if (k === 'qos' && typeof v === 'number') v = QOS[v];
      if (v === undefined || v === null) v = k === 'fileSize' || k === 'filePosition' || k === 'bufferSize' ? 0 : '';
      v = String(v);
      if (v.indexOf('|') >= 0) throw new Error("sgcfiles: a Files header field cannot hold '|' (" + k + ')');
      return v;
    });
    const header = encoder.encode(values.join('|'));
    const len = String(header.length);
    if (len.length > PREFIX) throw new Error('sgcfiles: header too long');
    const body = payload ? payload.length : 0;
    const out = new Uint8Array(PREFIX + header.length + body);
    for (let i = 0; i < PREFIX; i++) out[i] = i < PREFIX - len.length ? 48 : len.charCodeAt(i - (PREFIX - len.length));
    out.set(header, PREFIX);
    if (body) out.set(payload, PREFIX + header.length);
    return out;
  }

  // bytes: ArrayBuffer or Uint8Array. Returns the fields (numbers as numbers, qos as 0..2),
  // plus `payload` (a view into bytes), or null when it is not a Files frame.
  function decodeFrame(bytes) {
    const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    if (b.length < PREFIX) return null;
    let n = 0;
    for (let i = 0; i < PREFIX; i++) {
      const c = b[i] - 48;
      if (c < 0 || c > 9) return null;
      n = n * 10 + c;
    }
    if (PREFIX + n > b.length) return null;
    const parts = decoder.decode(b.subarray(PREFIX, PREFIX + n)).split('|');
    if (parts.length !== FIELDS.length) return null;
    const f = {};
    FIELDS.forEach((k, i) => (f[k] = parts[i]));
    for (const k of ['fileSize', 'filePosition', 'bufferSize']) {
      if (!/^[0-9]+$/.test(f[k])) return null;
      f[k] = Number(f[k]);
    }
    f.qos = QOS.indexOf(f.qos);
    if (f.qos < 0 || STREAMING.indexOf(f.streaming) < 0 || METHODS.indexOf(f.method) < 0) return null;
    f.payload = b.subarray(PREFIX + n);
    return f;
  }

  function rethrowLater(e) {
    setTimeout(() => {
      throw e;
    }, 0);
  }

  // A small event target for transfers and the client.
  class Emitter {
    constructor() {
      this._listeners = new Map();
    }
    on(type, fn) {
      if (typeof fn !== 'function') return this;
      if (!this._listeners.has(type)) this._listeners.set(type, []);
      this._listeners.get(type).push(fn);
      return this;
    }
    off(type, fn) {
      const list = this._listeners.get(type);
      if (list) {
        const i = list.indexOf(fn);
        if (i >= 0) list.splice(i, 1);
      }
      return this;
    }
    once(type, fn) {
      const wrapper = (e) => {
        this.off(type, wrapper);
        fn.call(this, e);
      };
      return this.on(type, wrapper);
    }
    addEventListener(type, fn) {
      return this.on(type, fn);
    }
    removeEventListener(type, fn) {
      return this.off(type, fn);
    }
    _emit(type, detail) {
      const evt = Object.assign({ type: type }, detail);
      const prop = this['on' + type];
      const list = (this._listeners.get(type) || []).slice();
      if (typeof prop === 'function') list.unshift(prop);
      for (const fn of list) {
        try {
          fn.call(this, evt);
        } catch (e) {
          rethrowLater(e);
        }
      }
    }
  }

  class sgcfiles extends Emitter {
    constructor(url, options) {
      super();
      this.url = url;
      this.options = Object.assign({}, DEFAULTS, options || {});
      this.socket = null;
      this.subscriptions = new Set();
      this._state = 'connecting';
      this._stopped = false;
      this._opens = 0;
      this._attempt = 0;
      this._reconnectTimer = null;
      this._retryTimer = null;
      this._out = new Map(); // FileId -> outgoing transfer
      this._in = new Map(); // FileId -> incoming transfer
      this._connect();
    }

    state() {
      return this._state;
    }
    get sending() {
      return Array.from(this._out.keys());
    }
    get receiving() {
      return Array.from(this._in.keys());
    }

    // --- channels and text ----------------------------------------------------------------------
    subscribe(channel) {
      const name = String(channel);
      this.subscriptions.add(name);
      return this._text({ jsonrpc: '2.0', method: 'sgc@subscribe', params: { channel: name }, id: guid() });
    }
    unsubscribe(channel) {
      const name = String(channel);
      this.subscriptions.delete(name);
      return this._text({ jsonrpc: '2.0', method: 'sgc@unsubscribe', params: { channel: name }, id: guid() });
    }
    send(text) {
      return this._text({ jsonrpc: '2.0', method: 'sgc@message', params: { message: text === undefined ? '' : text } });
    }
    _text(msg) {
      if (!this._isOpen()) return undefined;
      this.socket.send(JSON.stringify(msg));
      return msg.id;
    }

    // --- sending ------------------------------------------------------------------------------
    sendFile(src, opts) {
      opts = opts || {};
      const source = sourceOf(src, opts.name);
      const t = new Emitter();
      t.fileId = opts.fileId ? String(opts.fileId) : guid();
      t.name = baseName(source.name);
      t.size = source.size;
      t.qos = level(opts.qos, level(this.options.qos, 0));
      t.channel = opts.channel === undefined ? '' : String(opts.channel);
      t.data = opts.data === undefined ? '' : String(opts.data);
      t.chunk = opts.chunkSize === undefined ? this.options.chunkSize : Math.max(0, Math.floor(opts.chunkSize));
      t.source = source;
      t.sha = null;
      t.started = false; // the header went out on the current connection
      t.pushing = false;
      t.next = 0; // push: the next start offset
      t.allQueued = false;
      t.waitId = null; // QoS 2: the id of the frame waited on
      t.waitFrame = null; // ... and the frame, for a retry
      t.sentAt = 0;
      t.finished = false;
      t.done = new Promise((resolve, reject) => {
        t._resolve = resolve;
        t._reject = reject;
      });
      t.done.catch(() => {}); // an unobserved failure is reported through events, not as unhandled
      const fail = (text) => {
        Promise.resolve().then(() => this._failOut(t, text, false, false));
        return t;
      };
      for (const v of [t.fileId, t.name, t.channel, t.data]) if (v.indexOf('|') >= 0) return fail("a Files header field cannot hold '|'");
      if (!t.name || t.name === '.' || t.name === '..') return fail('File Rejected.');
      if (this._out.has(t.fileId)) return fail('Already sending a File, wait a try again later.');
      if (!this._isOpen() && t.qos !== 2) return fail('Not connected.');
      this._out.set(t.fileId, t);
      const hashing = this.options.hash ? hashSource(source) : Promise.resolve('');
      hashing.then(
        (hex) => {
          t.sha = hex;
          if (this._out.get(t.fileId) === t && this._isOpen()) this._start(t);
          else if (this._out.get(t.fileId) === t && t.qos !== 2) this._failOut(t, 'Connection closed.', false, false);
        },
        (e) => this._failOut(t, 'Error sending file, ' + (e && e.message ? e.message : e), false, false),
      );
      return t;
    }

    cancel(fileId) {
      const t = this._out.get(String(fileId));
      if (!t) return false;
      this._failOut(t, 'File Cancelled.', true, false);
      return true;
    }

    _frameFor(t, extra) {
      return Object.assign(
        { id: guid(), fileId: t.fileId, fileName: t.name, fileSize: t.size, filePosition: 0, bufferSize: t.chunk, data: t.data, streaming: 'stmNone', qos: t.qos, method: FILE, text: '', channel: t.channel },
        extra,
      );
    }

    _start(t) {
      const header = this._frameFor(t, { text: t.sha ? 'sha256:' + t.sha : '' });
      t.started = true;
      this._sendFrame(header);
      if (t.qos === 2) {
        t.waitId = header.id;
        t.waitFrame = header;
        t.sentAt = Date.now();
        this._armRetry();
      } else {
        t.pushing = true;
        t.next = 0;
        this._push(t);
      }
    }

    async _readChunk(t, start) {
      const end = t.chunk === 0 ? t.size : Math.min(t.size, start + t.chunk);
      const bytes = await t.source.read(start, end);
      return { end: end, bytes: bytes };
    }

    // QoS 0/1: chunks back to back while the socket's queue is under the budget.
    async _push(t) {
      const ws = this.socket;
      try {
        while (!t.allQueued && this._out.get(t.fileId) === t && ws === this.socket && this._isOpen()) {
          if (ws.bufferedAmount > this.options.sendBudget) {
            await new Promise((r) => setTimeout(r, 4));
            continue;
          }
          const start = t.next;
          const c = await this._readChunk(t, start);
          if (this._out.get(t.fileId) !== t || ws !== this.socket || !this._isOpen()) return;
          const last = c.end >= t.size;
          this._sendFrame(this._frameFor(t, { filePosition: c.end, streaming: last ? 'stmLast' : 'stmContinue' }), c.bytes);
          t.next = c.end;
          t.allQueued = last;
          this._progress('sending', t, c.end);
        }
      } catch (e) {
        return this._failOut(t, 'Error sending file, ' + (e && e.message ? e.message : e), true, false);
      }
      if (t.allQueued && t.qos === 0 && this._out.get(t.fileId) === t) this._sentOut(t);
    }

    // QoS 2: the chunk the server asked for.
    async _pull(t, position) {
      try {
        const c = await this._readChunk(t, position);
        if (this._out.get(t.fileId) !== t || !this._isOpen()) return;
        const last = c.end >= t.size;
        const frame = this._frameFor(t, { filePosition: c.end, streaming: last ? 'stmLast' : 'stmContinue' });
        this._sendFrame(frame, c.bytes);
        t.waitId = frame.id;
        t.waitFrame = { frame: frame, start: position };
        t.sentAt = Date.now();
        this._progress('sending', t, c.end);
      } catch (e) {
        this._failOut(t, 'Error sending file, ' + (e && e.message ? e.message : e), true, false);
      }
    }

    _sentOut(t) {
      if (t.finished) return;
      t.finished = true;
      this._out.delete(t.fileId);
      const e = { fileId: t.fileId, name: t.name, size: t.size, channel: t.channel, qos: t.qos, sha256: t.sha };
      t._emit('sent', e);
      this._emit('sgcfilesent', e);
      t._resolve(e);
    }

    _failOut(t, text, tellPeer, remote) {
      if (t.finished) return;
      t.finished = true;
      if (this._out.get(t.fileId) === t) this._out.delete(t.fileId);
      if (tellPeer && this._isOpen()) this._sendFrame(this._frameFor(t, { method: RECEIVED_ERROR, text: text }));
      const e = { fileId: t.fileId, name: t.name, text: text, remote: remote };
      t._emit('error', e);
      this._emit('sgcfilesenterror', e);
      const err = new Error(text);
      err.remote = remote;
      err.fileId = t.fileId;
      t._reject(err);
    }

    _progress(direction, t, bytes) {
      const e = { direction: direction, fileId: t.fileId, name: t.name, bytes: bytes, size: t.size };
      if (direction === 'sending') t._emit('progress', e);
      this._emit('sgcfileprogress', e);
    }

    // --- receiving ----------------------------------------------------------------------------
    _onBinary(data) {
      const f = decodeFrame(data);
      if (!f) return this._emit('error', { error: new Error('sgcfiles: a binary message that is not a Files frame') });
      switch (f.method) {
        case FILE:
          if (f.streaming === 'stmNone' || f.streaming === 'stmFirst') return this._onHeader(f);
          return this._onChunk(f);
        case ACK:
          return; // TCP keeps order: what moves a transfer on is the filerec / file_received
        case FILEREC: {
          const t = this._out.get(f.fileId);
          if (!t || t.qos !== 2) return;
          this._reply(f, ACK);
          if (f.filePosition > t.size) return this._failOut(t, 'Error sending file, position past its end.', true, false);
          return this._pull(t, f.filePosition);
        }
        case RECEIVED: {
          const t = this._out.get(f.fileId);
          if (!t || t.qos === 0) return;
          if (t.qos === 1 && !t.allQueued) return;
          return this._sentOut(t);
        }
        case SENT_ERROR: {
          const t = this._out.get(f.fileId);
          if (t) return this._failOut(t, f.text, false, true);
          return this._emit('sgcfilesenterror', { fileId: f.fileId, name: f.fileName, text: f.text, remote: true });
        }
        case RECEIVED_ERROR:
          return this._failIn(f.fileId, f.text, false, true);
        default:
          return;
      }
    }

    // An answer to frame `to`: an ack keeps its Id; the others get a new one.
    _reply(to, method, text) {
      const r = Object.assign({}, to, { method: method });
      delete r.payload;
      if (method !== ACK) {
        r.id = guid();
        r.text = text || '';
        r.streaming = 'stmNone';
      }
      this._sendFrame(r);
    }

    _onHeader(f) {
      const had = this._in.get(f.fileId);
      if (had && had.qos === 2 && f.qos === 2 && had.size === f.fileSize) {
        // The header again (a retry): answer from where we are.
        this._reply(f, ACK);
        return this._filerec(had);
      }
      this._in.delete(f.fileId);
      const refuse = (text) => {
        this._reply(f, SENT_ERROR, text);
        this._emit('sgcfilereceivederror', { fileId: f.fileId, name: f.fileName, text: text, remote: false });
      };
      if (f.fileSize > this.options.maxFileSize) return refuse('File too large.');
      if (typeof this.options.authorize === 'function' && this.options.authorize(Object.assign({}, f, { payload: undefined })) === false) return refuse('File Rejected.');
      const m = /^sha256:([0-9a-f]{64})$/.exec(f.text);
      const r = {
        fileId: f.fileId,
        name: f.fileName,
        size: f.fileSize,
        bufferSize: f.bufferSize,
        qos: f.qos,
        data: f.data,
        channel: f.channel,
        expected: m ? m[1] : '',
        parts: [],
        position: 0,
        filerecId: null,
        filerecFrame: null,
        sentAt: 0,
      };
      this._in.set(f.fileId, r);
      if (f.qos >= 1) this._reply(f, ACK);
      if (f.qos === 2) {
        if (r.size === 0) return this._finishIn(r);
        this._filerec(r);
        this._armRetry();
      }
    }

    _filerec(r) {
      const rec = { id: guid(), fileId: r.fileId, fileName: r.name, fileSize: r.size, filePosition: r.position, bufferSize: r.bufferSize, data: '', streaming: 'stmNone', qos: 2, method: FILEREC, text: '', channel: r.channel };
      r.filerecId = rec.id;
      r.filerecFrame = rec;
      r.sentAt = Date.now();
      this._sendFrame(rec);
    }

    _onChunk(f) {
      const r = this._in.get(f.fileId);
      if (!r) return; // a chunk of a file refused, failed or never announced
      const end = f.filePosition;
      const start = end - f.payload.length;
      if (start < 0 || end > r.size) return this._failIn(r.fileId, 'Error receiving file, bad chunk position.', true, false);
      if (r.qos >= 1) this._reply(f, ACK);
      if (start !== r.position) {
        if (r.qos === 2) return; // a repeat, or not asked for: ignored
        return this._failIn(r.fileId, 'Error receiving file, expected size of ' + r.size + ' and received ' + r.position + '.', true, false);
      }
      // Copied out of the message, so the message's buffer can go.
      r.parts.push(f.payload.slice());
      r.position = end;
      this._progress('receiving', r, end);
      const last = f.streaming === 'stmLast' || f.streaming === 'stmContinueAndLast';
      if (r.qos === 2) {
        if (last || r.position >= r.size) return this._finishIn(r);
        return this._filerec(r);
      }
      if (last) this._finishIn(r);
    }

    async _finishIn(r) {
      r.finishing = true;
      if (r.position !== r.size) {
        return this._failIn(r.fileId, 'Error receiving file, expected size of ' + r.size + ' and received ' + r.position + '.', true, false);
      }
      let sha = '';
      if (this.options.verify && r.expected) {
        sha = await hashParts(r.parts, r.size);
        if (this._in.get(r.fileId) !== r) return;
        if (sha !== r.expected) return this._failIn(r.fileId, 'Error receiving file, checksum mismatch.', true, false);
      }
      this._in.delete(r.fileId);
      if (r.qos >= 1 && this._isOpen()) {
        this._sendFrame({ id: guid(), fileId: r.fileId, fileName: r.name, fileSize: r.size, filePosition: r.size, bufferSize: r.bufferSize, data: '', streaming: 'stmNone', qos: r.qos, method: RECEIVED, text: '', channel: r.channel });
      }
      const bytes = r.parts.length === 1 ? r.parts[0] : concat(r.parts, r.size);
      const blob = typeof Blob !== 'undefined' ? new Blob([bytes]) : null;
      this._emit('sgcfilereceived', { fileId: r.fileId, name: r.name, size: r.size, data: r.data, channel: r.channel, qos: r.qos, sha256: sha || r.expected, blob: blob, bytes: bytes });
    }

    _failIn(fileId, text, tellPeer, remote) {
      const r = this._in.get(fileId);
      if (!r) return;
      this._in.delete(fileId);
      if (tellPeer && this._isOpen()) {
        this._sendFrame({ id: guid(), fileId: r.fileId, fileName: r.name, fileSize: r.size, filePosition: r.position, bufferSize: r.bufferSize, data: '', streaming: 'stmNone', qos: r.qos, method: SENT_ERROR, text: text, channel: r.channel });
      }
      this._emit('sgcfilereceivederror', { fileId: r.fileId, name: r.name, text: text, remote: remote });
    }

    // --- QoS 2 retries ------------------------------------------------------------------------
    _armRetry() {
      if (this._retryTimer === null) this._retryTimer = setInterval(() => this._retry(), this.options.qosInterval);
    }
    _retry() {
      let waiting = false;
      const now = Date.now();
      const open = this._isOpen();
      for (const t of this._out.values()) {
        if (t.qos !== 2 || !t.waitFrame) continue;
        waiting = true;
        if (!open || !t.started || now - t.sentAt < this.options.qosTimeout) continue;
        t.sentAt = now;
        const w = t.waitFrame;
        if (w.frame) {
          // The chunk again, with the same Id, read again.
          this._readChunk(t, w.start).then((c) => {
            if (this._out.get(t.fileId) === t && this._isOpen() && t.waitFrame === w) this._sendFrame(w.frame, c.bytes);
          }, () => {});
        } else {
          this._sendFrame(w);
        }
      }
      for (const r of this._in.values()) {
        if (r.qos !== 2 || !r.filerecFrame || r.finishing) continue;
        waiting = true;
        if (open && now - r.sentAt >= this.options.qosTimeout) {
          r.sentAt = now;
          this._sendFrame(r.filerecFrame);
        }
      }
      if (!waiting) {
        clearInterval(this._retryTimer);
        this._retryTimer = null;
      }
    }

    // --- connection ---------------------------------------------------------------------------
    _isOpen() {
      return this.socket !== null && this.socket.readyState === OPEN && this._state === 'open';
    }
    _sendFrame(fields, payload) {
      if (!this._isOpen()) return false;
      this.socket.send(encodeFrame(fields, payload));
      return true;
    }

    close(code, reason) {
      this._stopped = true;
      clearTimeout(this._reconnectTimer);
      this._reconnectTimer = null;
      const ws = this.socket;
      if (ws && ws.readyState <= OPEN) {
        this._state = 'closing';
        try {
          ws.close(code === undefined ? 1000 : code, reason || '');
        } catch (e) {
          ws.close();
        }
      } else if (this._state !== 'closed') {
        this.socket = null;
        this._state = 'closed';
        this._dropTransfers(false);
        this._emit('close', { code: code === undefined ? 1000 : code, reason: reason || '', wasClean: true, willReconnect: false });
      }
    }

    _connect() {
      this._reconnectTimer = null;
      if (this._stopped) return;
      const Ctor = this.options.WebSocket || (typeof WebSocket !== 'undefined' ? WebSocket : null);
      if (!Ctor) throw new Error('sgcfiles: no WebSocket constructor (pass options.WebSocket)');
      let ws;
      try {
        ws = new Ctor(this.url, this.options.protocol);
      } catch (e) {
        this._emit('error', { error: e });
        this._scheduleReconnect();
        return;
      }
      ws.binaryType = 'arraybuffer';
      this.socket = ws;
      this._state = this._opens > 0 ? 'reconnecting' : 'connecting';
      ws.onopen = () => this._onOpen(ws);
      ws.onmessage = (e) => {
        if (ws !== this.socket) return;
        if (typeof e.data === 'string') this._onText(e.data);
        else this._onBinary(e.data);
      };
      ws.onerror = (e) => {
        if (ws === this.socket) this._emit('error', { error: e });
      };
      ws.onclose = (e) => this._onClose(ws, e);
    }

    _onOpen(ws) {
      if (ws !== this.socket) return;
      this._state = 'open';
      this._attempt = 0;
      const reconnected = this._opens++ > 0;
      this._emit('open', { reconnected: reconnected });
      if (!this._isOpen()) return;
      for (const name of this.subscriptions) this._text({ jsonrpc: '2.0', method: 'sgc@subscribe', params: { channel: name }, id: guid() });
      // QoS 2 sends kept from the last connection: the header again, same FileId (resume).
      for (const t of this._out.values()) if (t.qos === 2 && t.sha !== null) this._start(t);
    }

    // Pushes and incoming transfers end with the connection; QoS 2 sends wait for the next one
    // (unless this was the last: then they fail too).
    _dropTransfers(keepQos2) {
      for (const t of Array.from(this._out.values())) {
        if (keepQos2 && t.qos === 2) {
          t.started = false;
          continue;
        }
        this._failOut(t, 'Connection closed.', false, false);
      }
      for (const id of Array.from(this._in.keys())) this._failIn(id, 'Connection closed.', false, false);
    }

    _onClose(ws, e) {
      if (ws !== this.socket) return;
      this.socket = null;
      const again = !this._stopped && this.options.reconnect && (this.options.maxReconnectAttempts <= 0 || this._attempt < this.options.maxReconnectAttempts);
      this._state = again ? 'reconnecting' : 'closed';
      this._dropTransfers(again);
      this._emit('close', { code: e.code, reason: e.reason || '', wasClean: !!e.wasClean, willReconnect: again });
      if (again) this._scheduleReconnect();
    }

    _scheduleReconnect() {
      if (this._stopped) return;
      const o = this.options;
      if (o.maxReconnectAttempts > 0 && this._attempt >= o.maxReconnectAttempts) {
        this._state = 'closed';
        this._dropTransfers(false);
        return;
      }
      this._attempt++;
      const base = Math.min(o.reconnectMaxDelay, o.reconnectDelay * Math.pow(o.reconnectFactor, this._attempt - 1));
      const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
      this._state = 'reconnecting';
      this._emit('reconnecting', { attempt: this._attempt, delay: delay });
      this._reconnectTimer = setTimeout(() => this._connect(), delay);
    }

    _onText(text) {
      let msg;
      try {
        msg = JSON.parse(text);
      } catch (e) {
        return this._emit('error', { error: new Error('sgcfiles: not JSON: ' + text.slice(0, 100)) });
      }
      if (!msg || typeof msg !== 'object') return;
      const r = msg.result;
      const method = r && typeof r === 'object' ? r.method : undefined;
      if (method === 'sgc@subscribe') return this._emit('sgcsubscribe', { channel: r.channel, id: msg.id });
      if (method === 'sgc@unsubscribe') return this._emit('sgcunsubscribe', { channel: r.channel, id: msg.id });
      if (method === 'sgc@message') return this._emit('sgcmessage', { channel: r.channel === undefined ? '' : r.channel, message: r.message });
      if (msg.error && typeof msg.error === 'object') {
        if (msg.error.code === -32001 && typeof msg.error.data === 'string') this.subscriptions.delete(msg.error.data);
        return this._emit('sgcrpcerror', { id: msg.id, code: msg.error.code, message: msg.error.message, data: msg.error.data });
      }
    }
  }

  sgcfiles.guid = guid;
  sgcfiles.encodeFrame = encodeFrame;
  sgcfiles.decodeFrame = decodeFrame;
  sgcfiles.Sha256 = Sha256;
  sgcfiles.sgcfiles = sgcfiles;
  return sgcfiles;
});
