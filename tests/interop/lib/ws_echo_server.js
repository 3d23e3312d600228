'use strict';
// An npm `ws` echo server for tests/interop/client_test.py (our client, swcat, against node ws).
//
//   node lib/ws_echo_server.js --port N [--tls CERT KEY] [--deflate JSON|off]
//                              [--subprotocols a,b] [--host 127.0.0.1]
//
// --deflate takes ws's perMessageDeflate options as JSON (e.g. '{"serverNoContextTakeover":true,
// "clientNoContextTakeover":true}'), `{}` for the defaults, or `off` (the default: no extension).
// --subprotocols lists the ones the server accepts; it picks the first of the client's offer that
// is in that list, or none.
//
// Every message is echoed with its type, except three text messages:
//   ?info     answered with one line of JSON about this connection:
//             {"extensions": "<the Sec-WebSocket-Extensions response header, or ''>",
//              "subprotocol": "...", "bytes_in": <socket bytes read so far>,
//              "bytes_out": <socket bytes written so far>}
//             (byte counts let the test see whether messages really travelled compressed)
//   ?headers  answered with {"headers": {<request headers, lower-case names>},
//             "path": "<request target>", "peer": "<client address>"}
//   ?frag     answered with one text message in three frames: 'fragmented ', 'hello ',
//             'world ' x 300 (compressed when deflate is on and over the threshold)
//   ?close    the server closes with 4000 "server says bye"
//
// Prints `listening <port>` on stdout once it accepts connections; stops on SIGTERM.

const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');

let WebSocketServer;
try {
  ({ WebSocketServer } = require(path.join(__dirname, '..', 'node_modules', 'ws')));
} catch (e) {
  console.error('ws_echo_server: npm package ws is missing from tests/interop/node_modules ' +
                '(run scripts/setup.sh)');
  process.exit(3);
}

const args = process.argv.slice(2);
const opts = { host: '127.0.0.1', port: 0, tls: null, deflate: false, subprotocols: null };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--port') opts.port = Number(args[++i]);
  else if (a === '--host') opts.host = args[++i];
  else if (a === '--tls') { opts.tls = { cert: args[++i], key: args[++i] }; }
  else if (a === '--deflate') {
    const v = args[++i];
    opts.deflate = v === 'off' ? false : JSON.parse(v);
  }
  else if (a === '--subprotocols') opts.subprotocols = args[++i].split(',').filter(Boolean);
  else { console.error(`ws_echo_server: unknown argument ${a}`); process.exit(2); }
}

const server = opts.tls
  ? https.createServer({ cert: fs.readFileSync(opts.tls.cert), key: fs.readFileSync(opts.tls.key) })
  : http.createServer();
server.on('request', (req, res) => { res.writeHead(426); res.end('WebSocket only\n'); });

const wssOptions = { server, perMessageDeflate: opts.deflate, maxPayload: 64 << 20 };
if (opts.subprotocols) {
  wssOptions.handleProtocols = (offered) => {
    for (const p of offered) if (opts.subprotocols.includes(p)) return p;
    return false;
  };
}
const wss = new WebSocketServer(wssOptions);

// The response header lines, kept on the request so the connection can report them.
wss.on('headers', (headers, req) => { req.sbResponseHeaders = headers.slice(); });

wss.on('connection', (ws, req) => {
  const socket = req.socket;
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    const text = isBinary || data.length > 8 ? null : data.toString();
    if (text === '?info') {
      let extensions = '';
      for (const line of req.sbResponseHeaders || []) {
        const m = /^sec-websocket-extensions:\s*(.*)$/i.exec(line);
        if (m) extensions = m[1];
      }
      ws.send(JSON.stringify({
        extensions,
        subprotocol: ws.protocol || '',
        bytes_in: socket.bytesRead,
        bytes_out: socket.bytesWritten,
      }));
      return;
    }
    if (text === '?headers') {
      ws.send(JSON.stringify({ headers: req.headers, path: req.url, peer: socket.remoteAddress }));
      return;
    }
    if (text === '?frag') {
      // The same three frames as client_test.py's FRAG_PARTS.
      ws.send('fragmented ', { fin: false });
      ws.send('hello ', { fin: false });
      ws.send('world '.repeat(300), { fin: true });
      return;
    }
    if (text === '?close') {
      ws.close(4000, 'server says bye');
      return;
    }
    ws.send(data, { binary: isBinary });
  });
});

server.listen(opts.port, opts.host, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

process.on('SIGTERM', () => {
  for (const c of wss.clients) c.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});
