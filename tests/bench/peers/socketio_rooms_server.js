#!/usr/bin/env node
// socketio_rooms_server.js: the socket.io peer of the fan-out benchmark
// (tests/bench/run, run_fanout.sh). socket.io v4, WebSocket transport only (no long-polling), no
// permessage-deflate (socket.io's default). A client that emits "join" with a room name joins
// that room and is answered with "joined"; a client that emits "pub" with a payload has it sent
// to every socket in the room "bench" as a "msg" event: io.to("bench").emit("msg", payload)
// (the payload is encoded once and written to each socket of the room).
//
// Usage: node socketio_rooms_server.js [--listen HOST:PORT]   (default 127.0.0.1:18092)
'use strict';

const { listenAddress } = require('./listen');
const { createServer } = require('http');
const { Server } = require('socket.io');

const { host, port } = listenAddress('127.0.0.1:18092');

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
