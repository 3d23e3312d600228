// Echo check run inside Chromium: opens a WebSocket to /echo, sends `count` messages (text, with
// every fourth one a binary ArrayBuffer), checks that each comes back unchanged, with its type and
// in order, then closes with `closeCode` and reports the close event.
// Used by tests/interop/chromium_test.js, both from echo.html (served by the daemon) and injected
// into about:blank.
'use strict';

function sbMessage(i) {
  if (i % 4 === 3) {
    // Binary: sizes cross the 125/126 and 65535/65536 frame length boundaries.
    const sizes = [0, 1, 125, 126, 1000, 65535, 65536, 200000];
    const n = sizes[Math.floor(i / 4) % sizes.length];
    const bytes = new Uint8Array(n);
    let x = (i * 2654435761 + n + 1) >>> 0;
    for (let k = 0; k < n; k++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      bytes[k] = x & 0xff;
    }
    return bytes.buffer;
  }
  return `message ${i}: h\u00e9llo w\u00f6rld \u20ac \u{1F600} ` + 'x'.repeat((i * 37) % 3000);
}

function sbSame(a, b) {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  if (!(a instanceof ArrayBuffer) || !(b instanceof ArrayBuffer)) return false;
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a), y = new Uint8Array(b);
  for (let k = 0; k < x.length; k++) if (x[k] !== y[k]) return false;
  return true;
}

function sbDescribe(v) {
  if (typeof v === 'string') return `text of ${v.length} chars`;
  if (v instanceof ArrayBuffer) return `binary of ${v.byteLength} bytes`;
  return `${Object.prototype.toString.call(v)}`;
}

// Resolves to { opened, echoed, errors, extensions, closeCode, closeReason, wasClean }.
function runEcho(url, count = 100, closeCode = 1000, closeReason = 'done') {
  return new Promise((resolve) => {
    const result = { opened: false, echoed: 0, errors: [], extensions: null,
                     closeCode: null, closeReason: null, wasClean: null };
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      result.errors.push(`new WebSocket threw: ${e}`);
      resolve(result);
      return;
    }
    ws.binaryType = 'arraybuffer';
    const timer = setTimeout(() => {
      result.errors.push(`timed out after 30 s with ${result.echoed} of ${count} echoed`);
      resolve(result);
    }, 30000);
    let received = 0;
    ws.onopen = () => {
      result.opened = true;
      result.extensions = ws.extensions;
      for (let i = 0; i < count; i++) ws.send(sbMessage(i));
    };
    ws.onmessage = (ev) => {
      const i = received++;
      const expected = sbMessage(i);
      if (sbSame(ev.data, expected)) {
        result.echoed++;
      } else if (result.errors.length < 10) {
        result.errors.push(`message ${i}: sent ${sbDescribe(expected)}, got ${sbDescribe(ev.data)}` +
                           (typeof ev.data === typeof expected ? ' with different content' : ''));
      }
      if (received === count) ws.close(closeCode, closeReason);
    };
    ws.onerror = () => { result.errors.push(`error event (readyState ${ws.readyState})`); };
    ws.onclose = (ev) => {
      clearTimeout(timer);
      result.closeCode = ev.code;
      result.closeReason = ev.reason;
      result.wasClean = ev.wasClean;
      if (received !== count) result.errors.push(`closed after ${received} of ${count} messages`);
      resolve(result);
    };
  });
}
