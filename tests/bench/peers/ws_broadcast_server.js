#!/usr/bin/env node
// ws_broadcast_server.js: the node `ws` peer of the fan-out benchmark (tests/bench/run_fanout.sh).
// Every message a client sends is broadcast to every other open client, the way the ws README's
// "Server broadcast" example does it: one client.send() per recipient. No permessage-deflate
// (ws's server default). The sender gets nothing back.
//
// Usage: node ws_broadcast_server.js [--listen HOST:PORT]   (default 127.0.0.1:18091)
'use strict';

const { WebSocketServer, WebSocket } = require('ws');

let listen = '127.0.0.1:18091';
for (let i = 2; i < process.argv.length; ++i) {
  if (process.argv[i] === '--listen' && i + 1 < process.argv.length) listen = process.argv[++i];
  else {
    console.error(`usage: ${process.argv[1]} [--listen HOST:PORT]`);
    process.exit(2);
  }
}
const colon = listen.lastIndexOf(':');
const host = listen.slice(0, colon);
const port = Number(listen.slice(colon + 1));

const wss = new WebSocketServer({ host, port, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});
wss.on('listening', () => console.error(`ws_broadcast_server: listening on ${host}:${port}`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
