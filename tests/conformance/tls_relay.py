"""A local TLS relay for running the suite over wss:// (run.py --tls).

Cases talk plain TCP to the relay; the relay speaks TLS to the daemon. Each connection is
pumped by one thread with non-blocking sockets, because Python's SSLSocket must not be read
and written from two threads at once (several cases send from a background thread while they
read), and OpenSSL does not allow it either. The relay adds no framing of its own: the bytes
the daemon decrypts are exactly the bytes the case wrote.
"""
import select
import socket
import ssl
import threading

import sbtest

HIGH_WATER = 1 << 20  # stop reading one side while this much waits for the other


class TlsRelay:
    def __init__(self, target_host, target_port, context):
        self.target = (target_host, target_port)
        self.context = context
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for _ in range(20):
            try:
                self.port = sbtest.free_port()
                self.listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                continue
        self.listener.listen(512)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                plain, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(plain,), daemon=True).start()

    def _serve(self, plain):
        try:
            raw = socket.create_connection(self.target, timeout=10)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.context.wrap_socket(raw, server_hostname=self.target[0])
        except OSError:
            plain.close()
            return
        plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            _pump(plain, tls)
        finally:
            for s in (plain, tls):
                try:
                    s.close()
                except OSError:
                    pass


def _pump(plain, tls):
    plain.setblocking(False)
    tls.setblocking(False)
    to_tls, to_plain = bytearray(), bytearray()
    plain_open = tls_open = True
    while True:
        readers = []
        if plain_open and len(to_tls) < HIGH_WATER:
            readers.append(plain)
        if tls_open and len(to_plain) < HIGH_WATER:
            readers.append(tls)
        writers = ([tls] if to_tls and tls_open else []) + ([plain] if to_plain else [])
        if not readers and not writers:
            return
        ready = tls_open and len(to_plain) < HIGH_WATER and tls.pending() > 0
        r, w, _ = select.select(readers, writers, [], 0 if ready else 30)
        if ready and tls not in r:
            r.append(tls)
        if not r and not w:
            return  # idle for 30 s: the case is long gone
        if plain in r:
            try:
                data = plain.recv(65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                return
            if data == b"":
                # The case closed or half-closed. TLS has no portable half-close, so keep
                # reading what the daemon still sends until it closes (the daemon closes after
                # the close handshake the case started).
                plain_open = False
            elif data:
                to_tls += data
        if tls in r:
            try:
                data = tls.recv(65536)
                if data == b"":
                    tls_open = False
                else:
                    to_plain += data
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                pass
            except (OSError, ssl.SSLError):
                tls_open = False
            if not tls_open and not to_plain:
                _end_plain(plain)
                return
        if to_tls and tls_open and tls in w:
            try:
                n = tls.send(to_tls)
                del to_tls[:n]
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                pass
            except (OSError, ssl.SSLError):
                tls_open = False
        if to_plain and plain in w:
            try:
                n = plain.send(to_plain)
                del to_plain[:n]
            except BlockingIOError:
                pass
            except OSError:
                return
            if not tls_open and not to_plain:
                _end_plain(plain)
                return


def _end_plain(plain):
    try:
        plain.shutdown(socket.SHUT_WR)
    except OSError:
        pass
