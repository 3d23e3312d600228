#!/usr/bin/env node
// socketio_rooms_server.js: the socket.io peer of the fan-out benchmark
// (tests/bench/run_fanout.sh). socket.io v4, WebSocket transport only (no long-polling), no
// permessage-deflate (socket.io's default). A client that emits "join" with a room name joins
// that room and is answered with "joined"; a client that emits "pub" with a payload has it sent
// to every socket in the room "bench" as a "msg" event: io.to("bench").emit("msg", payload)
// (the payload is encoded once and written to each socket of the room).
//
// Usage: node socketio_rooms_server.js [--listen HOST:PORT]   (default 127.0.0.1:18092)
'use strict';

const { createServer } = require('http');
const { Server } = require('socket.io');

let listen = '127.0.0.1:18092';
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

const httpServer = createServer();
const io = new Server(httpServer, { transports: ['websocket'], serveClient: false });
io.on('connection', (socket) => {
  socket.on('join', (room) => {
    socket.join(room);
    socket.emit('joined', room);
  });
  socket.on('pub', (payload) => {
    io.to('bench').emit('msg', payload);
  });
});
httpServer.listen(port, host, () =>
  console.error(`socketio_rooms_server: listening on ${host}:${port}`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
