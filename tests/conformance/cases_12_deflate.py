"""Group 12 -- permessage-deflate (RFC 7692; Autobahn 12.x and 13.x).

Run against a daemon started with --permessage-deflate (configuration "deflate"), 12.8.1-9
with --max-message-size 100000 as well ("deflatemax"), and 12.2.20-21 against the default
daemon (no --permessage-deflate).

The client side is Context.connect_pmd (wsframe.py): it offers the extension, checks the 101
strictly against RFC 7692 7.1 and RFC 6455 9.1 (exactly one permessage-deflate element,
known parameters only, each at most once, flags without values, window bits a decimal 8..15
without leading zeros; server_no_context_takeover echoed when offered (7.1.1.1);
server_max_window_bits present and not above an offered value (7.1.2.1); no
client_max_window_bits unless offered (7.1.2.2)), then compresses within the agreed client
window and inflates the server's RSV1 messages with the agreed server window, from an empty
context per message when server_no_context_takeover was agreed. Compressed server messages
of up to 64 KiB go through a small RFC 1951 inflater (inflate_py) that also proves no
reference reaches beyond the agreed window, across messages too. Every server frame must keep
RSV2/RSV3 clear and set RSV1 only on the first frame of a data message (RFC 7692 6).

12.1  accepted offers: each parameter, with and without values, every window size, then data
      both ways with the agreed parameters (Autobahn 13.x)
12.2  offers the server must decline (RFC 7692 5.1: unknown or repeated parameter, bad value),
      no offer, and a daemon without --permessage-deflate: no Sec-WebSocket-Extensions, and
      RSV1 is then a protocol error (1002)
12.3  several offers: the first acceptable one is taken, also when the offers are split over
      several header lines (RFC 6455 9.1) or the list has empty elements (RFC 7230 7)
12.4  compressed echo, text and binary, 0 B..1 MiB, with and without context takeover each
      way and with small windows; compressed and uncompressed messages mixed (Autobahn 12.x)
12.5  fragmented compressed messages: RSV1 on the first frame only, split at every byte, empty
      and 1-byte fragments, pings between fragments, one flush per fragment
12.6  reserved bits: RSV1 on a continuation or a control frame, RSV1 without the extension,
      RSV2/RSV3 with it -> 1002
12.7  bad compressed data -> 1007: invalid block type, stored LEN/NLEN mismatch, invalid codes,
      a reference before the start of the context, data ending inside a block, invalid UTF-8
      once inflated
12.8  size limit on the inflated message (--max-message-size 100000): exactly the limit
      echoed, one byte more and deflate bombs of a few KB -> 1009
12.9  legal DEFLATE variants (RFC 7692 7.2.3): stored, fixed and Huffman-only blocks, full
      flushes, final blocks (BFINAL) followed by the empty stored block, several DEFLATE
      streams in one message, the empty message as 0x00 or 0x01, references exactly one
      window back
12.10 context takeover over many messages, one by one and pipelined

RFC alternatives, accepted:
* The server may answer any message uncompressed (RFC 7692 6: compression is per message); the
  payload is checked either way. It may re-fragment its replies.
* The server may add server_no_context_takeover, client_no_context_takeover or a
  server_max_window_bits it was not asked for, and may answer client_max_window_bits (when
  offered) with any 8..15. The client then keeps to the smaller of its offer and the answer.
* After a block with BFINAL, the suite compresses the rest of the message and the next
  messages from a fresh stream, so a server may keep or reset its window there (7.2.3.4 does
  not say).
* An extension header that breaks the RFC 6455 9.1 grammar may be declined or get 400
  (12.2.17-18, RFC 6455 4.2.2); offers that are well formed but invalid must be declined
  (RFC 7692 5.1).

Switchboard requirements, strict here although the RFC is looser:
* Of several acceptable offers the first is taken (RFC 6455 9.1 only calls the order the
  client's preference): 12.3.
* Replies of 32 bytes and more are compressed (the daemon's deflate_min_size), so that the
  window checks mean something: 12.1.14-21 (server_max_window_bits), 12.4.6.1.
* A ping between the fragments of a compressed message is answered before the message
  completes (12.5.9, as 5.3.4).
* With client_no_context_takeover agreed, the server starts each message from an empty context:
  a message referring to the previous one is corrupt -> 1007 (12.7.12).
* At most 16 final blocks (BFINAL) in one message; the 17th -> 1008 (12.9.14; the RFC sets no
  limit, each one costs the daemon a window copy).
* Messages that arrive before a bad frame are echoed before the close, as in the other groups.
"""
import random
import zlib

from wsframe import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, PMD_TAIL,
                     CaseFailure, PMDSender, register, frame, fragments, text, binary, ping,
                     close_payload, text_payload, binary_payload, final_deflate, build_request,
                     request_headers)

MAX = 100000  # --max-message-size of the "deflatemax" configuration
OFFER = "permessage-deflate"
NO_TAKEOVER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"


def reg(cid, title, fn, config="deflate"):
    register(cid, title, fn, config=config)


def _spread(n, period, seed=7):
    """n bytes of printable ASCII that repeat every `period` bytes: a compressor with a window
    of `period` or more refers back that far, one with a smaller window cannot."""
    rnd = random.Random(seed)
    block = bytes(rnd.randrange(33, 127) for _ in range(period))
    return (block * (n // period + 1))[:n]


def _random_bytes(n, seed=1):
    return random.Random(seed).randbytes(n)


def _send_msg(c, op, data, compressed):
    if compressed:
        c.send_pmd(op, data)
    else:
        c.send(frame(op, data))


def _probe(c, require_compressed=False):
    """Data both ways under the agreed parameters: a text whose repeats are 1500 bytes apart,
    compressed twice (the second may refer to the first), uncompressed, compressed again, and a
    compressed binary message. The replies are inflated with the agreed window and context."""
    data = _spread(3000, 1500)
    for compressed in (True, True, False, True):
        _send_msg(c, OP_TEXT, data, compressed)
        c.expect_message(OP_TEXT, data)
    c.send_pmd(OP_BINARY, binary_payload(2000))
    c.expect_message(OP_BINARY, binary_payload(2000))
    if require_compressed and c.pmd_rx.count == 0:
        raise CaseFailure("no reply came compressed, so the agreed server window was never "
                          "used (Switchboard compresses replies of 32 bytes and more)")
    c.assert_quiet()


# --------------------------------------------------------------------------- 12.1 accepted offers

def _accepted(offer, check=None, require_compressed=False):
    def fn(ctx):
        with ctx.connect_pmd(offer, accept=0) as c:
            if check:
                check(c.pmd)
            _probe(c, require_compressed)
    return fn


def _window_at_most(n):
    def check(p):
        if p.smwb is None or p.smwb > n:  # also enforced by check_pmd_response
            raise CaseFailure("server_max_window_bits %s, expected <= %d" % (p.smwb, n))
    return check


ACCEPTED = [
    ("permessage-deflate without parameters", OFFER, None),
    ("client_max_window_bits without a value", "permessage-deflate; client_max_window_bits", None),
]
ACCEPTED += [("client_max_window_bits=%d" % n, "permessage-deflate; client_max_window_bits=%d" % n,
              None) for n in range(8, 16)]
ACCEPTED += [
    ("server_no_context_takeover", "permessage-deflate; server_no_context_takeover", None),
    ("client_no_context_takeover", "permessage-deflate; client_no_context_takeover", None),
    ("server_ and client_no_context_takeover", NO_TAKEOVER, None),
]
for _i, (_desc, _offer, _chk) in enumerate(ACCEPTED, 1):
    reg("12.1.%d" % _i, "offer %s -> accepted, data both ways" % _desc, _accepted(_offer, _chk))

for _n in range(8, 16):  # 12.1.14 .. 12.1.21
    reg("12.1.%d" % (_n + 6),
        "offer server_max_window_bits=%d -> accepted with <= %d, replies keep to 2^%d bytes"
        % (_n, _n, _n),
        _accepted("permessage-deflate; server_max_window_bits=%d" % _n, _window_at_most(_n),
                  require_compressed=True))

MORE_ACCEPTED = [
    ("all four parameters (windows 9 and 9)",
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
     "server_max_window_bits=9; client_max_window_bits=9", _window_at_most(9)),
    ("server_max_window_bits as a quoted-string \"10\"",
     'permessage-deflate; server_max_window_bits="10"', _window_at_most(10)),
    ("parameters without whitespace",
     "permessage-deflate;client_max_window_bits;server_no_context_takeover", None),
    ("extra whitespace around ';' and '='",
     "permessage-deflate ;  client_max_window_bits = 10 ;\tserver_max_window_bits= 12",
     _window_at_most(12)),
    ("client_max_window_bits=8 and server_max_window_bits=8",
     "permessage-deflate; client_max_window_bits=8; server_max_window_bits=8", _window_at_most(8)),
]
MORE_ACCEPTED_2 = [
    ("server_max_window_bits as a quoted-string with an escape \"1\\0\"",
     'permessage-deflate; server_max_window_bits="1\\0"', _window_at_most(10)),
]
for _i, (_desc, _offer, _chk) in enumerate(MORE_ACCEPTED, 22):
    reg("12.1.%d" % _i, "offer %s -> accepted, data both ways" % _desc, _accepted(_offer, _chk))


def _params_reported(ctx):
    # The response must state the agreement in the parameters' own spelling; checked by
    # check_pmd_response. Here: what each offered flag makes the server promise.
    with ctx.connect_pmd("permessage-deflate; server_no_context_takeover; "
                         "server_max_window_bits=11", accept=0) as c:
        if not c.pmd.snct or c.pmd.smwb is None or c.pmd.smwb > 11:
            raise CaseFailure("agreed %r" % c.pmd)
        _probe(c)


reg("12.1.27", "server_no_context_takeover + server_max_window_bits=11 -> both in the response",
    _params_reported)
for _i, (_desc, _offer, _chk) in enumerate(MORE_ACCEPTED_2, 28):
    reg("12.1.%d" % _i, "offer %s -> accepted, data both ways" % _desc, _accepted(_offer, _chk))

# --------------------------------------------------------------------------- 12.2 declined


def _declined(offer, malformed=False):
    """The server must decline: no Sec-WebSocket-Extensions, the connection works without
    compression, and a frame with RSV1 is a protocol error. A `malformed` header (not the
    RFC 6455 9.1 grammar) may instead get 400 (RFC 6455 4.2.2: a malformed request)."""
    def fn(ctx):
        if malformed:
            resp = ctx.request(build_request(ctx.path, request_headers(ctx.host, ctx.port) + [
                ["Sec-WebSocket-Extensions", offer]]))
            if resp.status == 400:
                return
        with ctx.connect_pmd(offer, accept=None) as c:
            c.send(text("plain text still works"))
            c.expect_message(OP_TEXT, b"plain text still works")
            c.send(frame(OP_TEXT, PMDSender().compress(b"compressed without the extension"),
                         rsv=4))
            c.expect_close(1002)
    return fn


DECLINED = [
    ("unknown parameter", "permessage-deflate; foo"),
    ("unknown parameter with a value, next to a valid one",
     "permessage-deflate; foo=bar; client_max_window_bits"),
    ("server_no_context_takeover twice",
     "permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
    ("server_max_window_bits twice", "permessage-deflate; server_max_window_bits=10; "
                                     "server_max_window_bits=11"),
    ("client_max_window_bits twice (one without value)",
     "permessage-deflate; client_max_window_bits; client_max_window_bits=10"),
    ("server_max_window_bits without a value", "permessage-deflate; server_max_window_bits"),
    ("server_max_window_bits=7", "permessage-deflate; server_max_window_bits=7"),
    ("server_max_window_bits=16", "permessage-deflate; server_max_window_bits=16"),
    ("server_max_window_bits=010 (leading zero)", "permessage-deflate; server_max_window_bits=010"),
    ("server_max_window_bits=0", "permessage-deflate; server_max_window_bits=0"),
    ("client_max_window_bits=7", "permessage-deflate; client_max_window_bits=7"),
    ("client_max_window_bits=16", "permessage-deflate; client_max_window_bits=16"),
    ("client_max_window_bits=abc", "permessage-deflate; client_max_window_bits=abc"),
    ("server_no_context_takeover with a value",
     "permessage-deflate; server_no_context_takeover=true"),
    ("client_no_context_takeover with a value", "permessage-deflate; client_no_context_takeover=1"),
    ("only an unknown extension", "x-webkit-deflate-frame"),
]
for _i, (_desc, _offer) in enumerate(DECLINED, 1):
    reg("12.2.%d" % _i, "offer with %s -> declined, RSV1 then -> 1002" % _desc, _declined(_offer))
reg("12.2.17", "offer with server_max_window_bits=\"\" (empty quoted-string) -> declined (or "
    "400), RSV1 then -> 1002",
    _declined('permessage-deflate; server_max_window_bits=""', malformed=True))
reg("12.2.18", "offer with a parameter without a name -> declined (or 400), RSV1 then -> 1002",
    _declined("permessage-deflate; =10", malformed=True))

reg("12.2.19", "no offer -> no extension, RSV1 -> 1002", _declined(None))
reg("12.2.20", "daemon without --permessage-deflate, offer permessage-deflate -> declined, "
    "RSV1 -> 1002", _declined(OFFER), config="default")
reg("12.2.21", "daemon without --permessage-deflate, offer with client_max_window_bits -> "
    "declined, RSV1 -> 1002",
    _declined("permessage-deflate; client_max_window_bits; server_no_context_takeover"),
    config="default")

# --------------------------------------------------------------------------- 12.3 several offers


def _first_acceptable(offer, accept):
    def fn(ctx):
        with ctx.connect_pmd(offer, accept=accept) as c:
            _probe(c)
    return fn


SEVERAL = [
    ("bad, snct, client_max_window_bits=9 -> the second (no client_max_window_bits in reply)",
     "permessage-deflate; foo, permessage-deflate; server_no_context_takeover, "
     "permessage-deflate; client_max_window_bits=9", 1),
    ("unknown extension, then permessage-deflate", "x-unknown-ext; a=1, permessage-deflate", 1),
    ("two invalid windows, then server_max_window_bits=10",
     "permessage-deflate; server_max_window_bits=7, "
     "permessage-deflate; server_max_window_bits=10; x, "
     "permessage-deflate; server_max_window_bits=10", 2),
    ("two valid offers -> the first (snct, window 10)",
     "permessage-deflate; server_no_context_takeover; server_max_window_bits=10, "
     "permessage-deflate", 0),
    ("two valid offers -> the first (no client_max_window_bits)",
     "permessage-deflate; server_no_context_takeover, permessage-deflate; client_max_window_bits=9",
     0),
    ("split over two header lines: unknown extension, then permessage-deflate",
     ["x-unknown-ext", "permessage-deflate; server_no_context_takeover"], 1),
    ("split over two header lines: invalid offer, then a valid one",
     ["permessage-deflate; server_max_window_bits=99", "permessage-deflate; "
      "server_no_context_takeover"], 1),
    ("with empty list elements (RFC 7230 7): ', ,permessage-deflate,'",
     ", ,permessage-deflate; server_no_context_takeover,", 0),
]
for _i, (_desc, _offer, _acc) in enumerate(SEVERAL, 1):
    reg("12.3.%d" % _i, "offers %s" % _desc, _first_acceptable(_offer, _acc))

# --------------------------------------------------------------------------- 12.4 compressed echo

MODES = [
    ("context takeover both ways", OFFER),
    ("no context takeover either way", NO_TAKEOVER),
    ("server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
    ("client_no_context_takeover", "permessage-deflate; client_no_context_takeover"),
    ("windows of 9 bits both ways",
     "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9"),
]
SIZES = [0, 1, 125, 126, 65536, 1 << 20]


def _echo_sizes(offer, op, n):
    def fn(ctx):
        data = text_payload(n) if op == OP_TEXT else binary_payload(n)
        with ctx.connect_pmd(offer, accept=0) as c:
            # compressed twice (the second may refer to the first), plain, compressed again
            for compressed in (True, True, False, True):
                wire = (c.pmd_tx.frames(op, data) if compressed else [frame(op, data)])
                c.send_bg(b"".join(wire))
                c.expect_message(op, data, timeout=30)
                c.join_send()
            c.assert_quiet()
    return fn


for _m, (_desc, _offer) in enumerate(MODES, 1):
    for _k, (_op, _n) in enumerate([(OP_TEXT, n) for n in SIZES] + [(OP_BINARY, n) for n in SIZES],
                                   1):
        reg("12.4.%d.%d" % (_m, _k), "%s %d bytes, compressed/plain, %s"
            % ("text" if _op == OP_TEXT else "binary", _n, _desc), _echo_sizes(_offer, _op, _n))


def _incompressible(ctx):
    data = _random_bytes(200000, seed=5)
    with ctx.connect_pmd(OFFER, accept=0) as c:
        for _ in range(2):
            c.send_bg(b"".join(c.pmd_tx.frames(OP_BINARY, data)))
            c.expect_message(OP_BINARY, data, timeout=30)
            c.join_send()
        c.assert_quiet()


reg("12.4.6.2", "binary 200000 random bytes compressed (larger than the input) -> echo",
    _incompressible)


def _reply_compressed(ctx):
    data = text_payload(65536)
    with ctx.connect_pmd(OFFER, accept=0) as c:
        c.send_pmd(OP_TEXT, data)
        ev = c.expect_message(OP_TEXT, data)
        if not ev.compressed:
            raise CaseFailure("the 64 KiB text reply came uncompressed (Switchboard compresses "
                              "replies of 32 bytes and more)")
        c.assert_quiet()


reg("12.4.6.1", "64 KiB text reply is compressed (RSV1) and inflates to the message",
    _reply_compressed)

# --------------------------------------------------------------------------- 12.5 fragmentation

MSG = ("fragmented and compressed, κόσμε 日本 😀! " * 20).encode()


def _frag_echo(offer, op, data, pieces, chop=None):
    """pieces(compressed bytes) -> list of fragment payloads; RSV1 on the first frame only."""
    def fn(ctx):
        with ctx.connect_pmd(offer, accept=0) as c:
            wire = b"".join(c.pmd_tx.frames(op, data, pieces=pieces))
            if chop:
                c.send_chopped(wire, chop)
            else:
                c.send_bg(wire)
            c.expect_message(op, data, timeout=30)
            if not chop:
                c.join_send()
            c.assert_quiet()
    return fn


def _split_every(op, data, offer, rounds=None):
    """Split the compressed message into 2 fragments at every byte. With context takeover the
    compressed form changes from message to message: `rounds` messages, split point cycling."""
    def fn(ctx):
        with ctx.connect_pmd(offer, accept=0) as c:
            k = 0
            while True:
                comp = c.pmd_tx.compress(data)
                at = k % (len(comp) + 1) if rounds else k
                if (rounds and k == rounds) or at > len(comp):
                    break
                c.send(fragments(op, comp, pieces=[comp[:at], comp[at:]], rsv=4))
                c.expect_message(op, data, what="echo of the compressed message split at %d of %d"
                                 % (at, len(comp)))
                k += 1
            c.assert_quiet()
    return fn


reg("12.5.1", "compressed text in 2 fragments split at every byte",
    _split_every(OP_TEXT, MSG, "permessage-deflate; client_no_context_takeover"))
reg("12.5.2", "compressed binary in 2 fragments split at every byte (no context takeover)",
    _split_every(OP_BINARY, binary_payload(600), NO_TAKEOVER))
reg("12.5.14", "context takeover: 60 compressed texts, each in 2 fragments split at a new point",
    _split_every(OP_TEXT, MSG, OFFER, rounds=60))
reg("12.5.3", "compressed text of 5000 bytes in 1-byte fragments",
    _frag_echo(OFFER, OP_TEXT, _spread(5000, 300), lambda z: [z[i:i + 1] for i in range(len(z))]))
reg("12.5.4", "compressed binary of 256 KiB random bytes in 4 KiB fragments",
    _frag_echo(OFFER, OP_BINARY, _random_bytes(256 * 1024),
               lambda z: [z[i:i + 4096] for i in range(0, len(z), 4096)]))
reg("12.5.5", "compressed text with empty first, middle and last fragments",
    _frag_echo(OFFER, OP_TEXT, MSG, lambda z: [b"", z[:5], b"", b"", z[5:], b""]))
reg("12.5.6", "compressed message: RSV1 first frame empty, all data in continuations",
    _frag_echo(OFFER, OP_BINARY, binary_payload(3000), lambda z: [b"", z]))
reg("12.5.7", "compressed text in 3-byte fragments, sent 1 byte per write",
    _frag_echo(OFFER, OP_TEXT, MSG, lambda z: [z[i:i + 3] for i in range(0, len(z), 3)], chop=1))
reg("12.5.8", "compressed binary of 1 MiB in 2 fragments of 16-bit and 64-bit length",
    _frag_echo(OFFER, OP_BINARY, _random_bytes(1 << 20, seed=3),
               lambda z: [z[:65535], z[65535:]]))


def _ping_mid_compressed(ctx):
    data = _spread(4000, 700)
    with ctx.connect_pmd(OFFER, accept=0) as c:
        z = c.pmd_tx.compress(data)
        third = len(z) // 3
        c.send(frame(OP_TEXT, z[:third], fin=False, rsv=4) + ping(b"mid-compressed"))
        c.expect_pong(b"mid-compressed")  # before the message is complete
        c.send(frame(OP_CONT, z[third:2 * third], fin=False))
        c.send(ping(b"again"))
        c.expect_pong(b"again")
        c.send(frame(OP_CONT, z[2 * third:]))
        c.expect_message(OP_TEXT, data)
        c.assert_quiet()


reg("12.5.9", "ping between fragments of a compressed message is answered before the last "
    "fragment is sent", _ping_mid_compressed)


def _pings_between_tiny_fragments(ctx):
    data = binary_payload(2000)
    with ctx.connect_pmd(OFFER, accept=0) as c:
        z = c.pmd_tx.compress(data)
        fr = fragments(OP_BINARY, z, 1, rsv=4)
        out, pings = [], []
        for i, f in enumerate(fr):
            out.append(f)
            if i % 5 == 4:
                p = b"t%d" % i
                pings.append(p)
                out.append(ping(p))
        c.send(b"".join(out))
        pongs, echo = [], None
        while echo is None or not pings or not pongs or pongs[-1] != pings[-1]:
            e = c.recv_event(what="pongs and the echo")
            if e.opcode == OP_PONG:
                pongs.append(e.payload)
            elif e.opcode == OP_BINARY and echo is None:
                echo = e.payload
            else:
                raise CaseFailure("unexpected %s" % e.describe())
        it = iter(pings)
        if not all(p in it for p in pongs):  # only the newest of pending pings needs a pong
            raise CaseFailure("pongs out of order or unknown: %r" % pongs)
        if echo != data:
            raise CaseFailure("echo differs from the message")
        c.assert_quiet()


reg("12.5.10", "compressed binary in 1-byte fragments with a ping after every 5th -> pongs, echo",
    _pings_between_tiny_fragments)


def _mixed_sequence(ctx):
    a, b, d = MSG, binary_payload(5000), _spread(3000, 400)
    with ctx.connect_pmd(OFFER, accept=0) as c:
        c.send(c.pmd_tx.frames(OP_TEXT, a, pieces=lambda z: [z[:7], z[7:20], z[20:]]))
        c.send(fragments(OP_BINARY, b, 1000))                      # uncompressed, fragmented
        c.send(c.pmd_tx.frames(OP_TEXT, d))                       # refers back to message 1
        c.send(c.pmd_tx.frames(OP_BINARY, b, pieces=lambda z: [z[:1], z[1:]]))
        for op, p in ((OP_TEXT, a), (OP_BINARY, b), (OP_TEXT, d), (OP_BINARY, b)):
            c.expect_message(op, p)
        c.assert_quiet()


reg("12.5.11", "fragmented compressed, fragmented plain, single compressed, fragmented "
    "compressed, one write (context takeover)", _mixed_sequence)


def _flush_per_fragment(ctx):
    # A streaming sender: each fragment is flushed (ends with 00 00 ff ff) and only the last
    # one has the tail removed (7.2.1 applies to the message as a whole).
    parts = [_spread(2000, 250, seed=s) for s in (1, 2, 3, 4)]
    with ctx.connect_pmd(OFFER, accept=0) as c:
        z = c.pmd_tx.new_stream()
        pieces = [z.compress(p) + z.flush(zlib.Z_SYNC_FLUSH) for p in parts]
        pieces[-1] = pieces[-1][:-4]
        c.send(fragments(OP_TEXT, None, pieces=pieces, rsv=4))
        c.expect_message(OP_TEXT, b"".join(parts))
        c.assert_quiet()


reg("12.5.12", "compressed text in 4 fragments, each flushed on its own (streaming sender)",
    _flush_per_fragment)
reg("12.5.13", "uncompressed fragmented text on a deflate connection",
    lambda ctx: _plain_fragments(ctx))


def _plain_fragments(ctx):
    with ctx.connect_pmd(OFFER, accept=0) as c:
        c.send(fragments(OP_TEXT, MSG, 9))
        c.expect_message(OP_TEXT, MSG)
        c.assert_quiet()


# --------------------------------------------------------------------------- 12.6 reserved bits


def _fail(build, code, offer=OFFER, accept=0, echo_first=()):
    """build(conn) -> bytes to send; expect echoes of echo_first, then close `code`."""
    def fn(ctx):
        with ctx.connect_pmd(offer, accept=accept) as c:
            c.send(build(c))
            for op, p in echo_first:
                c.expect_message(op, p)
            c.expect_close(code)
    return fn


def _z(c, data):
    return c.pmd_tx.compress(data)


RSV = [
    ("RSV1 on the continuation of a compressed message",
     lambda c: b"".join(_split_rsv(_z(c, MSG), 5, 4))),
    ("RSV1 on the continuation of an uncompressed message",
     lambda c: frame(OP_TEXT, b"plain ", fin=False) + frame(OP_CONT, b"rest", rsv=4)),
    ("RSV1 on the last of 3 fragments of a compressed message",
     lambda c: b"".join(_rsv_on_last(c))),
    ("RSV1 on a ping", lambda c: frame(OP_PING, b"compressed?", rsv=4)),
    ("RSV1 on an empty ping", lambda c: frame(OP_PING, b"", rsv=4)),
    ("RSV1 on a pong", lambda c: frame(OP_PONG, b"compressed?", rsv=4)),
    ("RSV1 on a close 1000", lambda c: frame(OP_CLOSE, close_payload(1000), rsv=4)),
    ("RSV1 on a ping between fragments of a compressed message",
     lambda c: frame(OP_TEXT, _z(c, MSG)[:4], fin=False, rsv=4) + frame(OP_PING, b"x", rsv=4)),
    ("RSV2 on a text message", lambda c: frame(OP_TEXT, b"rsv2", rsv=2)),
    ("RSV3 on a binary message", lambda c: frame(OP_BINARY, b"rsv3", rsv=1)),
    ("RSV1+RSV2 on a compressed text", lambda c: frame(OP_TEXT, _z(c, MSG), rsv=6)),
    ("RSV1+RSV3 on a compressed binary", lambda c: frame(OP_BINARY, _z(c, MSG), rsv=5)),
    ("RSV1+RSV2+RSV3 on a compressed text", lambda c: frame(OP_TEXT, _z(c, MSG), rsv=7)),
    ("RSV2 on the continuation of a compressed message",
     lambda c: frame(OP_TEXT, _z(c, MSG)[:3], fin=False, rsv=4) + frame(OP_CONT, b"", rsv=2)),
    ("RSV2 on a ping", lambda c: frame(OP_PING, b"", rsv=2)),
]


def _split_rsv(z, at, rsv):
    return [frame(OP_TEXT, z[:at], fin=False, rsv=4), frame(OP_CONT, z[at:], rsv=rsv)]


def _rsv_on_last(c):
    z = _z(c, MSG)
    return [frame(OP_TEXT, z[:4], fin=False, rsv=4), frame(OP_CONT, z[4:8], fin=False),
            frame(OP_CONT, z[8:], rsv=4)]


for _i, (_desc, _build) in enumerate(RSV, 1):
    reg("12.6.%d" % _i, "%s (deflate agreed) -> 1002" % _desc, _fail(_build, 1002))


def _echo_then(bad):
    """A valid compressed text, then `bad` in the same write: echo first, then 1002."""
    return lambda c: frame(OP_TEXT, _z(c, MSG), rsv=4) + bad(c) + ping(b"must not pong")


reg("12.6.16", "compressed text echoed, then RSV1 on a continuation -> echo, 1002",
    _fail(_echo_then(lambda c: frame(OP_BINARY, b"a", fin=False) + frame(OP_CONT, b"b", rsv=4)),
          1002, echo_first=[(OP_TEXT, MSG)]))
reg("12.6.17", "compressed text echoed, then RSV2 on a compressed text -> echo, 1002",
    _fail(_echo_then(lambda c: frame(OP_TEXT, _z(c, b"second"), rsv=6)), 1002,
          echo_first=[(OP_TEXT, MSG)]))
reg("12.6.18", "offer declined (unknown parameter), compressed text with RSV1 -> 1002",
    _fail(lambda c: frame(OP_TEXT, PMDSender().compress(MSG), rsv=4), 1002,
          offer="permessage-deflate; unknown_parameter", accept=None))
reg("12.6.19", "no offer, RSV1 on a binary message after a valid one -> echo, 1002",
    _fail(lambda c: binary(b"ok") + frame(OP_BINARY, PMDSender().compress(MSG), rsv=4), 1002,
          offer=None, accept=None, echo_first=[(OP_BINARY, b"ok")]))
reg("12.6.20", "RSV1 on a continuation, sent 1 byte per write -> 1002",
    lambda ctx: _chopped_rsv(ctx))


def _chopped_rsv(ctx):
    with ctx.connect_pmd(OFFER, accept=0) as c:
        z = _z(c, MSG)
        c.send_chopped(frame(OP_TEXT, z[:6], fin=False, rsv=4) + frame(OP_CONT, z[6:], rsv=4), 1)
        c.expect_close(1002)


# --------------------------------------------------------------------------- 12.7 bad data


class _BitWriter:
    """Builds DEFLATE bit streams by hand (RFC 1951 3.1.1): values least significant bit
    first, Huffman codes most significant bit first."""

    def __init__(self):
        self.acc = 0
        self.n = 0
        self.out = bytearray()

    def put(self, value, nbits):
        self.acc |= value << self.n
        self.n += nbits
        while self.n >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.n -= 8
        return self

    def code(self, code, nbits):
        rev = 0
        for _ in range(nbits):
            rev = (rev << 1) | (code & 1)
            code >>= 1
        return self.put(rev, nbits)

    def fixed_symbol(self, sym):
        if sym < 144:
            return self.code(0x30 + sym, 8)
        if sym < 256:
            return self.code(0x190 + sym - 144, 9)
        if sym < 280:
            return self.code(sym - 256, 7)
        return self.code(0xC0 + sym - 280, 8)

    def fixed_match(self, length, dist):
        lb = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
              99, 115, 131, 163, 195, 227]
        le = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4
        db = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
              1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
        de = [0, 0, 0, 0] + [k for k in range(1, 14) for _ in (0, 1)]
        if length == 258:
            self.fixed_symbol(285)
        else:
            i = max(k for k in range(len(lb)) if lb[k] <= length)
            self.fixed_symbol(257 + i).put(length - lb[i], le[i])
        j = max(k for k in range(len(db)) if db[k] <= dist)
        return self.code(j, 5).put(dist - db[j], de[j])

    def end_message(self):
        """The 7.2.1 ending: the header of an empty non-final stored block, padding; the
        receiver's 00 00 ff ff completes it."""
        self.put(0, 3)
        if self.n:
            self.put(0, 8 - self.n)
        return bytes(self.out)


def _fixed(items, final=False):
    """One fixed-Huffman block: items are bytes (literals), (length, dist) matches or
    ("sym", n) raw literal/length symbols; then end of block and the 7.2.1 ending."""
    w = _BitWriter().put(1 if final else 0, 1).put(1, 2)
    for it in items:
        if isinstance(it, (bytes, bytearray)):
            for b in it:
                w.fixed_symbol(b)
        elif it[0] == "sym":
            w.fixed_symbol(it[1])
        elif it[0] == "dist":   # a length symbol 257 (3 bytes) with a raw 5-bit distance code
            w.fixed_symbol(257).code(it[1], 5)
        else:
            w.fixed_match(*it)
    w.fixed_symbol(256)
    return w.end_message()


def _oversubscribed():
    # dynamic block: HLIT 257, HDIST 1, all 19 code-length codes of length 1 (over-subscribed)
    w = _BitWriter().put(0, 1).put(2, 2).put(0, 5).put(0, 5).put(15, 4)
    for _ in range(19):
        w.put(1, 3)
    return w.end_message()


CORRUPT = [
    ("invalid block type 3", lambda c: b"\x06\x00"),
    ("invalid block type 3 with BFINAL", lambda c: b"\x07"),
    ("stored block whose NLEN does not match LEN", lambda c: b"\x00\x05\x00\x00\x00hello\x00"),
    ("a reference 1 byte back at the start of the stream", lambda c: _fixed([(3, 1)])),
    ("a reference 100 bytes back after 10 bytes", lambda c: _fixed([b"0123456789", (10, 100)])),
    ("invalid length symbol 286", lambda c: _fixed([b"ab", ("sym", 286)])),
    ("invalid distance code 30", lambda c: _fixed([b"abcdef", ("dist", 30)])),
    ("over-subscribed code lengths in a dynamic block", lambda c: _oversubscribed()),
    ("data ending inside a stored block (LEN 100, 10 bytes)",
     lambda c: b"\x00\x64\x00\x9b\xff" + b"0123456789"),
    ("a valid message with one byte flipped in its Huffman data",
     lambda c: _flipped(_z(c, _spread(3000, 200)), 10, 30)),
]


def _flipped(z, lo, hi):
    """`z` with the first byte in [lo, hi) inverted that makes zlib fail on it."""
    for i in range(lo, hi):
        bad = bytearray(z)
        bad[i] ^= 0xFF
        try:
            zlib.decompressobj(-15).decompress(bytes(bad) + PMD_TAIL)
        except zlib.error:
            return bytes(bad)
    raise AssertionError("test error: no byte in %d..%d corrupts the message" % (lo, hi - 1))


def _corrupt(build, op=OP_TEXT, offer=NO_TAKEOVER):
    def fn(ctx):
        with ctx.connect_pmd(offer, accept=0) as c:
            c.send(frame(op, build(c), rsv=4))
            c.expect_close(1007)
    return fn


for _i, (_desc, _build) in enumerate(CORRUPT, 1):
    reg("12.7.%d" % _i, "compressed data: %s -> 1007" % _desc,
        _corrupt(_build, OP_BINARY if _i % 2 else OP_TEXT))


def _corrupt_second(ctx):
    with ctx.connect_pmd(OFFER, accept=0) as c:
        c.send(c.pmd_tx.frames(OP_TEXT, MSG)[0] + frame(OP_TEXT, b"\x06\x00", rsv=4))
        c.expect_message(OP_TEXT, MSG)
        c.expect_close(1007)


reg("12.7.11", "valid compressed text, then corrupt data in the same write -> echo, 1007",
    _corrupt_second)


def _no_takeover_enforced(ctx):
    with ctx.connect_pmd("permessage-deflate; client_no_context_takeover", accept=0) as c:
        first = _spread(2000, 100, seed=11)
        c.send_pmd(OP_TEXT, first)
        c.expect_message(OP_TEXT, first)
        # compressed *with* the previous message as context, which the server has dropped
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        z.compress(first)
        z.flush(zlib.Z_SYNC_FLUSH)
        second = z.compress(first) + z.flush(zlib.Z_SYNC_FLUSH)
        c.send(frame(OP_TEXT, second[:-4], rsv=4))
        if c.pmd.cnct:
            c.expect_close(1007)
        else:  # the server did not agree to it, so it keeps its context: the message is fine
            c.expect_message(OP_TEXT, first)
            c.assert_quiet()


reg("12.7.12", "client_no_context_takeover agreed, a message referring to the previous one "
    "-> 1007", _no_takeover_enforced)


def _fragmented_corrupt(ctx):
    with ctx.connect_pmd(OFFER, accept=0) as c:
        z = _flipped(_z(c, _spread(3000, 200)), 8, 15)
        c.send(fragments(OP_BINARY, z, pieces=[z[:6], z[6:15], z[15:]], rsv=4))
        c.expect_close(1007)


reg("12.7.13", "corrupt data in the second fragment of a compressed message -> 1007",
    _fragmented_corrupt)

BAD_UTF8 = [
    ("a UTF-16 surrogate", "κόσμε".encode() + b"\xed\xa0\x80" + b" tail"),
    ("a truncated sequence at the end", b"valid text then \xe2\x82"),
    ("an overlong encoding", b"overlong \xc0\xaf slash"),
    ("byte 0xff", b"\xff" + b"x" * 200),
]
for _i, (_desc, _payload) in enumerate(BAD_UTF8, 14):
    reg("12.7.%d" % _i, "compressed text that inflates to invalid UTF-8 (%s) -> 1007" % _desc,
        _fail(lambda c, p=_payload: frame(OP_TEXT, _z(c, p), rsv=4), 1007))


def _bad_utf8_fragmented(ctx):
    bad = text_payload(3000) + b"\xf4\x90\x80\x80" + text_payload(100)  # > U+10FFFF
    with ctx.connect_pmd(OFFER, accept=0) as c:
        z = _z(c, bad)
        c.send(fragments(OP_TEXT, z, pieces=[z[:3], z[3:9], z[9:]], rsv=4))
        c.expect_close(1007)


reg("12.7.18", "fragmented compressed text inflating to invalid UTF-8 -> 1007",
    _bad_utf8_fragmented)
reg("12.7.19", "compressed text echoed, then one inflating to invalid UTF-8 -> echo, 1007",
    _fail(lambda c: frame(OP_TEXT, _z(c, MSG), rsv=4) + frame(OP_TEXT, _z(c, b"a\xc3("), rsv=4),
          1007, echo_first=[(OP_TEXT, MSG)]))


def _binary_not_validated(ctx):
    data = b"\xed\xa0\x80\xff\xfe" * 40
    with ctx.connect_pmd(OFFER, accept=0) as c:
        c.send_pmd(OP_BINARY, data)
        c.expect_message(OP_BINARY, data)
        c.assert_quiet()


reg("12.7.20", "compressed binary inflating to invalid UTF-8 -> echo (not validated)",
    _binary_not_validated)


def _compressed_bytes_not_validated(ctx):
    data = ("κόσμε " * 100).encode()
    with ctx.connect_pmd(OFFER, accept=0) as c:
        z = _z(c, data)
        try:
            z.decode("utf-8")
            raise CaseFailure("test error: the compressed bytes happen to be valid UTF-8")
        except UnicodeDecodeError:
            pass
        c.send(fragments(OP_TEXT, z, pieces=[z[:1], z[1:2], z[2:]], rsv=4))
        c.expect_message(OP_TEXT, data)
        c.assert_quiet()


reg("12.7.21", "compressed text whose compressed bytes are invalid UTF-8 (fragmented) -> echo",
    _compressed_bytes_not_validated)

# --------------------------------------------------------------------------- 12.8 size limit

_BOMBS = {}


def _zeros_compressed(n):
    """n zero bytes as one compressed message payload (about n/1000 bytes); cached."""
    if n not in _BOMBS:
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        out = [z.compress(b"\0" * min(n - i, 1 << 24)) for i in range(0, n, 1 << 24)]
        out.append(z.flush(zlib.Z_SYNC_FLUSH))
        _BOMBS[n] = b"".join(out)[:-4]
    return _BOMBS[n]


def _size_echo(op, data_fn):
    def fn(ctx):
        data = data_fn()
        with ctx.connect_pmd(OFFER, accept=0) as c:
            c.send_pmd(op, data)
            c.expect_message(op, data, timeout=30)
            c.assert_quiet()
    return fn


def _too_big(build, echo_first=(), offer=OFFER, timeout=5.0):
    def fn(ctx):
        with ctx.connect_pmd(offer, accept=0) as c:
            c.send_bg(build(c))
            for op, p in echo_first:
                c.expect_message(op, p, timeout=30)
            c.expect_close(1009, timeout=timeout)
    return fn


def _bomb(n, sizes=None):
    def build(c):
        z = _zeros_compressed(n)
        if sizes:
            return b"".join(fragments(OP_BINARY, z, sizes, rsv=4))
        return frame(OP_BINARY, z, rsv=4)
    return build


reg("12.8.1", "compressed text inflating to exactly the limit (%d) -> echo" % MAX,
    _size_echo(OP_TEXT, lambda: text_payload(MAX)), config="deflatemax")
reg("12.8.2", "compressed binary inflating to exactly the limit -> echo",
    _size_echo(OP_BINARY, lambda: binary_payload(MAX)), config="deflatemax")
reg("12.8.3", "compressed binary inflating to limit + 1 -> 1009",
    _too_big(lambda c: frame(OP_BINARY, _z(c, binary_payload(MAX + 1)), rsv=4)),
    config="deflatemax")
reg("12.8.4", "compressed text inflating to limit + 1 (fragmented) -> 1009",
    _too_big(lambda c: b"".join(c.pmd_tx.frames(OP_TEXT, text_payload(MAX + 1),
                                                pieces=lambda z: [z[:10], z[10:]]))),
    config="deflatemax")
reg("12.8.5", "deflate bomb: 4 KB inflating to 4 MiB of zeros -> 1009",
    _too_big(_bomb(4 << 20)), config="deflatemax")
reg("12.8.6", "deflate bomb of 4 MiB in 100-byte fragments -> 1009",
    _too_big(_bomb(4 << 20, 100)), config="deflatemax")
reg("12.8.7", "deflate bomb inflating to 64 MiB (64 KB on the wire) -> 1009",
    _too_big(_bomb(64 << 20)), config="deflatemax")
reg("12.8.8", "compressed text echoed, then a deflate bomb -> echo, 1009",
    _too_big(lambda c: frame(OP_TEXT, _z(c, MSG), rsv=4) + _bomb(1 << 20)(c),
             echo_first=[(OP_TEXT, MSG)]), config="deflatemax")


def _limit_with_takeover(ctx):
    # context takeover: the second message is mostly a reference into the first, and the limit
    # still counts its inflated size
    first = _spread(60000, 5000)
    with ctx.connect_pmd(OFFER, accept=0) as c:
        c.send_pmd(OP_TEXT, first)
        c.expect_message(OP_TEXT, first)
        exact = first + _spread(MAX - 60000, 5000, seed=8)
        c.send_pmd(OP_TEXT, exact)
        c.expect_message(OP_TEXT, exact)
        c.send_pmd(OP_TEXT, exact + b"!")
        c.expect_close(1009)


reg("12.8.9", "context takeover: messages of 60000, exactly the limit, limit + 1 -> echo, echo, "
    "1009", _limit_with_takeover, config="deflatemax")
reg("12.8.10", "deflate bomb inflating to 64 MiB on the default 16 MiB limit -> 1009",
    _too_big(_bomb(64 << 20)))
reg("12.8.11", "deflate bomb inflating to 256 MiB in 4 KiB fragments, 16 MiB limit -> 1009",
    _too_big(_bomb(256 << 20, 4096), timeout=10))

# --------------------------------------------------------------------------- 12.9 legal variants


def _variant(payload_fn, op=OP_TEXT, data=MSG, offer="permessage-deflate; "
             "client_no_context_takeover", then=True):
    """payload_fn(data) -> the RSV1 payload of `data`, built some legal way. Echo expected; then
    (then=True) a normally compressed message, from a fresh stream, must still work."""
    def fn(ctx):
        with ctx.connect_pmd(offer, accept=0) as c:
            c.send(frame(op, payload_fn(data), rsv=4))
            c.expect_message(op, data)
            if then:
                c.send_pmd(OP_BINARY, binary_payload(700))
                c.expect_message(OP_BINARY, binary_payload(700))
            c.assert_quiet()
    return fn


def _sync(data, level=6, strategy=zlib.Z_DEFAULT_STRATEGY, flush=zlib.Z_SYNC_FLUSH):
    z = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
    out = z.compress(data) + z.flush(flush)
    assert out.endswith(PMD_TAIL)
    return out[:-4]


def _streams(data, parts):
    """`parts` complete DEFLATE streams (each ending in a BFINAL block), then the 7.2.1 empty
    stored block with its last 4 bytes removed (0x00)."""
    step = len(data) // parts + 1
    return b"".join(final_deflate(data[i:i + step]) for i in range(0, len(data), step)) + b"\x00"


LEGAL = [
    ("stored blocks only (level 0)", lambda d: _sync(d, level=0)),
    ("fixed Huffman blocks only", lambda d: _sync(d, strategy=zlib.Z_FIXED)),
    ("Huffman-only dynamic blocks (no references)", lambda d: _sync(d, strategy=zlib.Z_HUFFMAN_ONLY)),
    ("run-length references only", lambda d: _sync(d, strategy=zlib.Z_RLE)),
    ("Z_FULL_FLUSH instead of Z_SYNC_FLUSH", lambda d: _sync(d, flush=zlib.Z_FULL_FLUSH)),
    ("a final block (BFINAL) followed by the empty stored block (0x00)",
     lambda d: final_deflate(d) + b"\x00"),
    ("two complete DEFLATE streams, each ending with BFINAL", lambda d: _streams(d, 2)),
    ("an empty stored block in the middle (two flushes)",
     lambda d: _sync(d[:100]) + PMD_TAIL + b"\x00" + PMD_TAIL + _sync(d[100:])),
    ("trailing empty stored block with BFINAL set (payload ends 0x01)",
     lambda d: _sync(d) + PMD_TAIL + b"\x01"),
    ("a hand-made fixed block with literals and overlapping references",
     lambda d: _fixed([MSG[:20], (20, 20), (258, 40), MSG])),
]
_HANDMADE = MSG[:20] * 2 + (MSG[:20] * 14)[:258] + MSG

for _i, (_desc, _fn) in enumerate(LEGAL, 1):
    reg("12.9.%d" % _i, "compressed text built with %s -> echo" % _desc,
        _variant(_fn, data=_HANDMADE if _i == 10 else MSG))

reg("12.9.11", "empty text as the single byte 0x00 (7.2.3.6) -> empty echo",
    _variant(lambda d: b"\x00", data=b"", offer=OFFER))
reg("12.9.12", "empty binary as 0x00 between compressed messages, context takeover -> echo",
    lambda ctx: _empty_then_data(ctx))


def _empty_then_data(ctx):
    with ctx.connect_pmd(OFFER, accept=0) as c:
        for data in (b"", MSG, b"", MSG):
            c.send_pmd(OP_BINARY, data)
            c.expect_message(OP_BINARY, data)
        c.assert_quiet()


def _final_blocks(n):
    def build(d):
        return b"".join(final_deflate(bytes([65 + k % 26]) * 3) for k in range(n)) + b"\x00"
    return build


def _final_blocks_data(n):
    return b"".join(bytes([65 + k % 26]) * 3 for k in range(n))


reg("12.9.13", "16 complete DEFLATE streams (16 BFINAL blocks) in one message -> echo",
    _variant(_final_blocks(16), data=_final_blocks_data(16)))
reg("12.9.14", "17 BFINAL blocks in one message -> 1008 (Switchboard limit)",
    _fail(lambda c: frame(OP_TEXT, _final_blocks(17)(None), rsv=4), 1008,
          offer="permessage-deflate; client_no_context_takeover"))


def _streams_per_fragment(ctx):
    parts = [_spread(800, 90, seed=s) for s in (21, 22, 23)]
    with ctx.connect_pmd("permessage-deflate; client_no_context_takeover", accept=0) as c:
        pieces = [final_deflate(p) for p in parts]
        pieces[-1] += b"\x00"
        c.send(fragments(OP_BINARY, None, pieces=pieces, rsv=4))
        c.expect_message(OP_BINARY, b"".join(parts))
        c.assert_quiet()


reg("12.9.15", "3 fragments, each a complete DEFLATE stream with BFINAL -> echo",
    _streams_per_fragment)


def _window_edge(bits):
    """A reference exactly 2^bits back into the previous message, bits = the agreed client
    window: the largest distance the server must accept."""
    def fn(ctx):
        offer = "permessage-deflate; client_max_window_bits=%d" % bits
        with ctx.connect_pmd(offer, accept=0) as c:
            wb = c.pmd_tx.wbits
            w = 1 << wb
            first = _spread(w, w, seed=bits)
            c.send(frame(OP_BINARY, _fixed([first]), rsv=4))
            c.expect_message(OP_BINARY, first)
            c.send(frame(OP_BINARY, _fixed([(258, w), b"!"]), rsv=4))
            want = (first * 2)[:258] + b"!"
            c.expect_message(OP_BINARY, want, what="the 258 bytes %d back, then '!'" % w)
            c.assert_quiet()
    return fn


for _i, _bits in enumerate((8, 9, 12, 15), 16):
    reg("12.9.%d" % _i, "client window %d: a reference exactly 2^%d bytes back into the previous "
        "message -> echo" % (_bits, _bits), _window_edge(_bits))

reg("12.9.20", "empty text as 0x01 (the empty stored block of 7.2.1 with BFINAL) -> empty echo",
    _variant(lambda d: b"\x01", data=b""))

# --------------------------------------------------------------------------- 12.10 takeover


def _many(offer, count, pipelined, plain_every=0):
    def fn(ctx):
        msgs = [(b"message %d: " % i) + _spread(120 + i % 80, 60, seed=i % 7) for i in range(count)]
        with ctx.connect_pmd(offer, accept=0) as c:
            wires = []
            for i, m in enumerate(msgs):
                plain = plain_every and i % plain_every == 0
                wires.append(frame(OP_TEXT, m) if plain else b"".join(c.pmd_tx.frames(OP_TEXT, m)))
            if pipelined:
                c.send_bg(b"".join(wires))
                for i, m in enumerate(msgs):
                    c.expect_message(OP_TEXT, m, what="echo %d of %d" % (i + 1, count))
                c.join_send()
            else:
                for i, (w, m) in enumerate(zip(wires, msgs)):
                    c.send(w)
                    c.expect_message(OP_TEXT, m, what="echo %d of %d" % (i + 1, count))
            c.assert_quiet()
    return fn


reg("12.10.1", "1000 similar compressed texts one by one, context takeover both ways",
    _many(OFFER, 1000, False))
reg("12.10.2", "1000 similar compressed texts pipelined in one write, context takeover",
    _many(OFFER, 1000, True))
reg("12.10.3", "500 compressed texts, no context takeover either way", _many(NO_TAKEOVER, 500, False))
reg("12.10.4", "300 texts, every third uncompressed, context takeover",
    _many(OFFER, 300, False, plain_every=3))
reg("12.10.5", "500 texts pipelined with windows of 8 bits both ways",
    _many("permessage-deflate; server_max_window_bits=8; client_max_window_bits=8", 500, True))
reg("12.10.6", "300 texts, client_no_context_takeover only",
    _many("permessage-deflate; client_no_context_takeover", 300, False))
reg("12.10.7", "300 texts, server_no_context_takeover only",
    _many("permessage-deflate; server_no_context_takeover", 300, True))
