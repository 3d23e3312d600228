#!/usr/bin/env node
// ws_echo_server.js: the node `ws` peer of the echo, idle-connection and handshake benchmarks
// (tests/bench/run). Every message goes back to its sender with its opcode, the way the ws
// README's echo example does it: ws.send(data, { binary: isBinary }). No permessage-deflate
// (ws's server default). Any request path is accepted.
//
// Usage: node ws_echo_server.js [--listen HOST:PORT]   (default 127.0.0.1:18093)
'use strict';

const { listenAddress } = require('./listen');
const { WebSocketServer } = require('ws');

const { host, port } = listenAddress('127.0.0.1:18093');

const wss = new WebSocketServer({ host, port, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => console.error(`ws_echo_server: listening on ${host}:${port}`));
