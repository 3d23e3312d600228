#!/usr/bin/env node
// ws_broadcast_server.js: the node `ws` peer of the fan-out benchmark (tests/bench/run and
// run_fanout.sh). Every message a client sends is broadcast to every other open client, the way
// the ws README's "Server broadcast" example does it: one client.send() per recipient. No
// permessage-deflate (ws's server default). The sender gets nothing back.
//
// Usage: node ws_broadcast_server.js [--listen HOST:PORT]   (default 127.0.0.1:18091)
'use strict';

const { listenAddress } = require('./listen');
const { WebSocketServer, WebSocket } = require('ws');

const { host, port } = listenAddress('127.0.0.1:18091');

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
