// listen.js: what the node peers share: `--listen HOST:PORT` from the command line (with a
// default), and leaving quietly on SIGTERM/SIGINT, which is how the bench scripts stop them.
'use strict';

function listenAddress(fallback) {
  let listen = fallback;
  for (let i = 2; i < process.argv.length; ++i) {
    if (process.argv[i] === '--listen' && i + 1 < process.argv.length) listen = process.argv[++i];
    else {
      console.error(`usage: ${process.argv[1]} [--listen HOST:PORT]`);
      process.exit(2);
    }
  }
  const colon = listen.lastIndexOf(':');
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
  return { host: listen.slice(0, colon), port: Number(listen.slice(colon + 1)) };
}

module.exports = { listenAddress };
