"""Group 6 -- UTF-8 handling (RFC 6455 5.6, 8.1; RFC 3629; Autobahn 6.x).

Text messages must be valid UTF-8 (RFC 3629: no overlong forms, no surrogates U+D800..DFFF,
nothing above U+10FFFF, no bytes C0, C1, F5..FF, no truncated sequences). Noncharacters such
as U+FFFE/U+FFFF are valid UTF-8. Invalid text -> _Fail the WebSocket Connection_ with 1007
(RFC 6455 8.1 and 7.4.1). Validity is a property of the whole *message*: a code point may be
split across fragments (and across TCP reads) at any byte.

6.1.<v>.<mode> valid vectors, 6.2.<v>.<mode> invalid vectors; modes:
  .1 one frame                      .2 two fragments split at every byte position (0..n)
  .3 one-byte fragments             .4 one frame, TCP writes split at every payload byte
Valid -> echoed intact; invalid -> close 1007 (for .2/.4 every split point on its own connection).
6.3 code points split across fragments, explicit cases; 6.4 fail-fast; 6.5 binary messages are
not validated; 6.6 large messages.

Fail-fast (6.4), RFC note: RFC 6455 does not say *when* invalid UTF-8 must be detected.
Autobahn accepts detection at the end of the message as NON-STRICT. Switchboard's contract is to
fail as soon as the bytes it has prove the text invalid, even if the rest of the frame never
arrives (project requirement, strict here: close 1007 within 4 s while the client sends nothing
more). 6.4.9/6.4.10 check the other side: an incomplete but still completable sequence must
*not* fail early.
"""
import time

from wsframe import (OP_BINARY, OP_TEXT, CaseFailure, register, frame, fragments, text, binary,
                     ping, cont, utf8_valid, text_payload)

VALID = [
    ("ASCII", b"Hello, UTF-8 world!"),
    ("Latin-1 supplement letters", "Hello-µ@ßöäüàá-UTF-8!!".encode()),
    ("Greek 'kosme'", "κόσμε".encode()),
    ("CJK", "日本語のテキスト".encode()),
    ("4-byte emoji", "😀🎉🚀".encode()),
    ("mixed 1/2/3/4-byte characters", "aé€😀zÿ".encode()),
    ("U+0000", b"\x00"),
    ("first 2-byte code point U+0080", "\u0080".encode()),
    ("first 3-byte code point U+0800", "\u0800".encode()),
    ("first 4-byte code point U+10000", "\U00010000".encode()),
    ("last 1-byte code point U+007F", b"\x7f"),
    ("last 2-byte code point U+07FF", "\u07ff".encode()),
    ("last 3-byte code point U+FFFF (noncharacter, valid)", "\uffff".encode()),
    ("last code point U+10FFFF", "\U0010ffff".encode()),
    ("U+D7FF (just below the surrogates)", "\ud7ff".encode()),
    ("U+E000 (just above the surrogates)", "\ue000".encode()),
    ("U+FFFD replacement character", "\ufffd".encode()),
    ("U+FEFF byte order mark + text", "\ufeffbom".encode()),
    ("noncharacter U+FFFE", "\ufffe".encode()),
    ("noncharacters U+FDD0..U+FDEF (sampled)",
     "".join(chr(c) for c in range(0xFDD0, 0xFDF0, 5)).encode()),
    ("plane-end noncharacters U+1FFFF U+10FFFE", "\U0001ffff\U0010fffe".encode()),
    ("private use U+F0000 U+100000", "\U000f0000\U00100000".encode()),
    ("every encoding boundary in one string",
     "\x00\x7f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff".encode()),
    ("E0 A0 80 / ED 9F BF / F0 90 80 80 / F4 8F BF BF (tightest second bytes)",
     b"\xe0\xa0\x80\xed\x9f\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"),
]

INVALID = [
    ("lone continuation byte 80", b"\x80"),
    ("lone continuation byte BF", b"\xbf"),
    ("continuation bytes 80 BF 80 BF", b"\x80\xbf\x80\xbf"),
    ("continuation byte inside ASCII", b"Hello \x80 world"),
    ("valid Greek, then surrogate, then ASCII", "κόσμε".encode() + b"\xed\xa0\x80edited"),
    ("lead C2 followed by space", b"\xc2 "),
    ("lead E0 followed by space", b"\xe0 "),
    ("lead F0 followed by space", b"\xf0 "),
    ("E2 82 then ASCII (3-byte sequence cut short)", b"\xe2\x82A"),
    ("C3 28 (bad second byte)", b"\xc3\x28"),
    ("E2 28 A1 (bad second byte)", b"\xe2\x28\xa1"),
    ("F0 28 8C BC (bad second byte)", b"\xf0\x28\x8c\xbc"),
    ("truncated 2-byte sequence at end", b"abc\xc3"),
    ("truncated 3-byte sequence at end", b"abc\xe2\x82"),
    ("truncated 4-byte sequence at end (3 of 4 bytes)", b"abc\xf0\x9f\x98"),
    ("only a 4-byte lead F0", b"\xf0"),
    ("byte FE", b"\xfe"),
    ("byte FF", b"\xff"),
    ("FE FE FF FF", b"\xfe\xfe\xff\xff"),
    ("lead F5 (beyond U+10FFFF)", b"\xf5\x80\x80\x80"),
    ("5-byte sequence F8 88 80 80 80", b"\xf8\x88\x80\x80\x80"),
    ("6-byte sequence FC 84 80 80 80 80", b"\xfc\x84\x80\x80\x80\x80"),
    ("overlong '/' 2-byte C0 AF", b"\xc0\xaf"),
    ("overlong '/' 3-byte E0 80 AF", b"\xe0\x80\xaf"),
    ("overlong '/' 4-byte F0 80 80 AF", b"\xf0\x80\x80\xaf"),
    ("overlong NUL C0 80", b"\xc0\x80"),
    ("overlong U+007F as C1 BF", b"\xc1\xbf"),
    ("overlong U+07FF as E0 9F BF", b"\xe0\x9f\xbf"),
    ("overlong U+FFFF as F0 8F BF BF", b"\xf0\x8f\xbf\xbf"),
    ("surrogate U+D800", b"\xed\xa0\x80"),
    ("surrogate U+DB7F", b"\xed\xad\xbf"),
    ("surrogate U+DBFF", b"\xed\xaf\xbf"),
    ("surrogate U+DC00", b"\xed\xb0\x80"),
    ("surrogate U+DFFF", b"\xed\xbf\xbf"),
    ("surrogate pair U+D800 U+DC00 (CESU-8)", b"\xed\xa0\x80\xed\xb0\x80"),
    ("surrogate pair U+DBFF U+DFFF", b"\xed\xaf\xbf\xed\xbf\xbf"),
    ("U+110000 as F4 90 80 80", b"\xf4\x90\x80\x80"),
    ("U+1FFFFF as F7 BF BF BF", b"\xf7\xbf\xbf\xbf"),
    ("valid text, one FF in the middle of 300 bytes",
     text_payload(150) + b"\xff" + text_payload(149)),
    ("4-byte sequence with a missing last byte followed by ASCII", b"\xf0\x9f\x98A"),
]

for _name, _v in VALID:
    assert utf8_valid(_v), _name
for _name, _v in INVALID:
    assert not utf8_valid(_v), _name


def _first_invalid(data):
    try:
        data.decode("utf-8")
        return len(data)
    except UnicodeDecodeError as e:
        return e.start


def split_positions(data):
    """All split points for short vectors; for long ones the ends, a sample, and the
    neighbourhood of the first invalid byte."""
    n = len(data)
    if n <= 40:
        return list(range(0, n + 1))
    p = _first_invalid(data)
    pos = set(range(0, 4)) | set(range(n - 3, n + 1)) | set(range(0, n + 1, max(1, n // 16)))
    pos |= set(range(max(0, p - 5), min(n, p + 6) + 1))
    return sorted(pos)


def _hdr_len(n):
    return 6 if n < 126 else (8 if n < 65536 else 14)


# ---------------------------------------------------------------- valid vectors
def _valid_single(data):
    def fn(ctx):
        with ctx.connect() as c:
            c.send(text(data))
            c.expect_message(OP_TEXT, data)
            c.assert_quiet()
    return fn


def _valid_frag_every(data):
    def fn(ctx):
        with ctx.connect() as c:
            for k in split_positions(data):
                c.send(b"".join(fragments(OP_TEXT, None, pieces=[data[:k], data[k:]])))
                c.expect_message(OP_TEXT, data, what="echo of the text split into fragments at "
                                 "byte %d" % k)
    return fn


def _valid_one_byte_frags(data):
    def fn(ctx):
        with ctx.connect() as c:
            c.send(b"".join(fragments(OP_TEXT, data, 1)))
            c.expect_message(OP_TEXT, data)
    return fn


def _valid_tcp_every(data):
    def fn(ctx):
        with ctx.connect() as c:
            for k in split_positions(data):
                f = text(data)
                c.send_split(f, [_hdr_len(len(data)) + k], delay=0.002)
                c.expect_message(OP_TEXT, data, what="echo with TCP split at payload byte %d" % k)
    return fn


for v, (name, data) in enumerate(VALID, 1):
    register("6.1.%d.1" % v, "valid UTF-8 '%s': one frame -> echo" % name, _valid_single(data))
    register("6.1.%d.2" % v, "valid UTF-8 '%s': 2 fragments split at every byte -> echo" % name,
             _valid_frag_every(data))
    register("6.1.%d.3" % v, "valid UTF-8 '%s': 1-byte fragments -> echo" % name,
             _valid_one_byte_frags(data))
    register("6.1.%d.4" % v, "valid UTF-8 '%s': TCP writes split at every byte -> echo" % name,
             _valid_tcp_every(data))


# ---------------------------------------------------------------- invalid vectors
def _invalid_single(data):
    def fn(ctx):
        with ctx.connect() as c:
            c.send(text(data))
            c.expect_close(1007)
    return fn


def _invalid_frag_every(data):
    def fn(ctx):
        for k in split_positions(data):
            with ctx.connect() as c:
                fr = fragments(OP_TEXT, None, pieces=[data[:k], data[k:]])
                c.send(fr[0])
                time.sleep(0.002)
                c.send(fr[1])
                try:
                    c.expect_close(1007)
                except AssertionError as e:
                    raise CaseFailure("split at byte %d (%r | %r): %s"
                                      % (k, data[:k][-8:], data[k:][:8], e))
    return fn


def _invalid_one_byte_frags(data):
    def fn(ctx):
        with ctx.connect() as c:
            c.send(b"".join(fragments(OP_TEXT, data, 1)))
            c.expect_close(1007)
    return fn


def _invalid_tcp_every(data):
    def fn(ctx):
        for k in split_positions(data):
            with ctx.connect() as c:
                c.send_split(text(data), [_hdr_len(len(data)) + k], delay=0.002)
                try:
                    c.expect_close(1007)
                except AssertionError as e:
                    raise CaseFailure("TCP split at payload byte %d: %s" % (k, e))
    return fn


for v, (name, data) in enumerate(INVALID, 1):
    register("6.2.%d.1" % v, "invalid UTF-8 '%s': one frame -> 1007" % name, _invalid_single(data))
    register("6.2.%d.2" % v, "invalid UTF-8 '%s': 2 fragments split at every byte -> 1007" % name,
             _invalid_frag_every(data))
    register("6.2.%d.3" % v, "invalid UTF-8 '%s': 1-byte fragments -> 1007" % name,
             _invalid_one_byte_frags(data))
    register("6.2.%d.4" % v, "invalid UTF-8 '%s': TCP writes split at every byte -> 1007" % name,
             _invalid_tcp_every(data))


# ---------------------------------------------------------------- 6.3 across fragments
def _frag_echo(pieces):
    def fn(ctx):
        data = b"".join(pieces)
        with ctx.connect() as c:
            fr = fragments(OP_TEXT, None, pieces=pieces)
            for f in fr:
                c.send(f)
                time.sleep(0.002)
            c.expect_message(OP_TEXT, data)
            c.assert_quiet()
    return fn


def _frag_fail(pieces):
    def fn(ctx):
        with ctx.connect() as c:
            for f in fragments(OP_TEXT, None, pieces=pieces):
                c.send(f)
                time.sleep(0.002)
            c.expect_close(1007)
    return fn


register("6.3.1", "euro sign E2|82|AC as three fragments (each invalid alone) -> echo",
         _frag_echo([b"\xe2", b"\x82", b"\xac"]))
register("6.3.2", "emoji F0|9F|98|80 as four fragments -> echo",
         _frag_echo([b"\xf0", b"\x9f", b"\x98", b"\x80"]))
register("6.3.3", "fragments 'ab E2 82' + 'AC cd' -> echo", _frag_echo([b"ab\xe2\x82", b"\xaccd"]))
register("6.3.4", "fragment ends E2 82, next starts with ASCII -> 1007",
         _frag_fail([b"abc\xe2\x82", b"Zdef"]))
register("6.3.5", "fragment ends E0, next continues 80 80 (overlong) -> 1007",
         _frag_fail([b"abc\xe0", b"\x80\x80"]))
register("6.3.6", "fragment ends ED, next continues A0 80 (surrogate) -> 1007",
         _frag_fail([b"abc\xed", b"\xa0\x80"]))
register("6.3.7", "fragment ends F4, next continues 90 80 80 (> U+10FFFF) -> 1007",
         _frag_fail([b"abc\xf4", b"\x90\x80\x80"]))
register("6.3.8", "message ends inside a code point: 'ab F0 9F' + '98' (final) -> 1007",
         _frag_fail([b"ab\xf0\x9f", b"\x98"]))
register("6.3.9", "valid fragments then an empty final fragment after a truncated sequence -> 1007",
         _frag_fail([b"ab", b"\xe2\x82", b""]))


def _pings_inside_code_point(ctx):
    with ctx.connect() as c:
        c.send(frame(OP_TEXT, b"\xe2", fin=False) + ping(b"1"))
        c.expect_pong(b"1")
        c.send(cont(b"\x82", fin=False) + ping(b"2"))
        c.expect_pong(b"2")
        c.send(cont(b"\xac"))
        c.expect_message(OP_TEXT, "€".encode())


register("6.3.10", "pings between the bytes of one code point (separate round trips) -> echo",
         _pings_inside_code_point)


def _state_not_carried_from_binary(ctx):
    with ctx.connect() as c:
        c.send(binary(b"abc\xe2") + text(b"\x82\xac"))
        c.expect_message(OP_BINARY, b"abc\xe2")
        c.expect_close(1007)


register("6.3.11", "binary ending in E2, then text '82 AC': validator state must not carry "
         "over -> binary echoed, then 1007", _state_not_carried_from_binary)


def _state_not_carried_between_texts(ctx):
    with ctx.connect() as c:
        c.send(text("€") + text(b"\x82\xac"))
        c.expect_message(OP_TEXT, "€".encode())
        c.expect_close(1007)


register("6.3.12", "valid text, then a text starting with continuation bytes -> echo, then 1007",
         _state_not_carried_between_texts)


def _mb_fragments_boundaries(ctx):
    data = "😀€é".encode() * 30  # 9 bytes per unit
    with ctx.connect() as c:
        for size in (1, 2, 3, 4, 5, 7, 11):
            c.send(b"".join(fragments(OP_TEXT, data, size)))
            c.expect_message(OP_TEXT, data, what="echo with %d-byte fragments" % size)


register("6.3.13", "multi-byte text in fragments of 1,2,3,4,5,7,11 bytes -> echo",
         _mb_fragments_boundaries)


# ---------------------------------------------------------------- 6.4 fail-fast
def _fail_fast_fragments(ctx):
    # fragment 1 valid (must be accepted), fragment 2 holds U+110000 (F4 90 80 80), the final
    # fragment is never sent.
    with ctx.connect() as c:
        c.send(frame(OP_TEXT, "κόσμε", fin=False))
        c.assert_quiet(what="no failure on a valid first fragment")
        c.send(cont(b"\xf4\x90\x80\x80", fin=False))
        c.expect_close(1007)


register("6.4.1", "fail-fast: valid fragment, then fragment with U+110000; final fragment never "
         "sent -> 1007", _fail_fast_fragments)


def _fail_fast_partial(prefix, declared):
    """Send the header of a text frame of `declared` bytes plus the first bytes `prefix`."""
    def fn(ctx):
        f = frame(OP_TEXT, prefix, length=declared)
        with ctx.connect() as c:
            c.send(f)
            c.expect_close(1007)
    return fn


FAIL_FAST = [
    ("FF inside the first 10 bytes of a 100-byte frame", b"abcd\xffefgh", 100),
    ("Greek then surrogate ED A0 80 as the start of a 1000-byte frame",
     "κόσμε".encode() + b"\xed\xa0\x80", 1000),
    ("1000 valid bytes then F5 in a 65536-byte frame", text_payload(1000) + b"\xf5", 65536),
    ("overlong E0 80 as the first bytes of a 500-byte frame", b"\xe0\x80", 500),
    ("surrogate prefix ED A0 in a 500-byte frame", b"ab\xed\xa0", 500),
    ("F4 90 (> U+10FFFF) prefix in a 500-byte frame", b"ab\xf4\x90", 500),
    ("C0 (never valid) in a 1 MiB frame", b"\xc0", 1 << 20),
]
for i, (desc, prefix, declared) in enumerate(FAIL_FAST, 2):
    register("6.4.%d" % i, "fail-fast: %s; rest never sent -> 1007" % desc,
             _fail_fast_partial(prefix, declared))


def _fail_fast_fragment_only(ctx):
    with ctx.connect() as c:
        c.send(frame(OP_TEXT, b"\xc0\xaf", fin=False))
        c.expect_close(1007)


register("6.4.20", "fail-fast: first fragment (FIN=0) is C0 AF, no continuation ever -> 1007",
         _fail_fast_fragment_only)


def _not_too_fast_frame(ctx):
    body = b"abc\xe2\x82\xacdef"
    f = text(body)
    cut = 6 + 5  # header + "abc" E2 82
    with ctx.connect() as c:
        c.send(f[:cut])
        # (a ping probe is impossible in the middle of a frame: wait briefly instead)
        c.assert_silent_for(0.5, what="no failure while the code point E2 82 .. can still be "
                            "completed")
        c.send(f[cut:])
        c.expect_message(OP_TEXT, body)


register("6.4.21", "no false fail-fast: frame paused after 'E2 82', then 'AC' completes it -> echo",
         _not_too_fast_frame)


def _not_too_fast_fragment(ctx):
    with ctx.connect() as c:
        c.send(frame(OP_TEXT, b"xy\xf0\x9f", fin=False))
        c.assert_quiet(what="no failure on a fragment ending inside a code point")
        c.send(cont(b"\x98\x80"))
        c.expect_message(OP_TEXT, "xy😀".encode())


register("6.4.22", "no false fail-fast: fragment ends 'F0 9F', final fragment '98 80' -> echo",
         _not_too_fast_fragment)


# ---------------------------------------------------------------- 6.5 binary is not validated
def _binary_invalid(chop_frags):
    def fn(ctx):
        with ctx.connect() as c:
            for name, data in INVALID:
                if chop_frags:
                    c.send(b"".join(fragments(OP_BINARY, data, 1)))
                else:
                    c.send(binary(data))
                c.expect_message(OP_BINARY, data, what="binary echo of %s" % name)
    return fn


register("6.5.1", "every invalid UTF-8 vector as a binary message is echoed", _binary_invalid(False))
register("6.5.2", "every invalid UTF-8 vector as a 1-byte-fragmented binary message is echoed",
         _binary_invalid(True))


# ---------------------------------------------------------------- 6.6 larger texts
def _large_mb(ctx):
    data = "😀".encode() * 25000  # 100000 bytes
    with ctx.connect() as c:
        c.send(b"".join(fragments(OP_TEXT, data, 1001)))
        c.expect_message(OP_TEXT, data)
        f = text("€".encode() * 33333)
        c.send_chopped(f, 997)
        c.expect_message(OP_TEXT, "€".encode() * 33333)


register("6.6.1", "100 KB of 4-byte chars in 1001-byte fragments, 100 KB of 3-byte chars in "
         "997-byte writes -> echo", _large_mb)


def _large_invalid(n, at):
    def fn(ctx):
        data = bytearray(text_payload(n))
        data[at] = 0xFF
        with ctx.connect() as c:
            c.send(text(bytes(data)))
            c.expect_close(1007)
    return fn


register("6.6.2", "64 KiB text with FF as its last byte -> 1007", _large_invalid(65536, 65535))
register("6.6.3", "1 MiB text with FF in the middle -> 1007", _large_invalid(1 << 20, 1 << 19))


def _large_truncated(ctx):
    data = text_payload(65533) + b"\xf0\x9f\x98"
    with ctx.connect() as c:
        c.send(b"".join(fragments(OP_TEXT, data, 4096)))
        c.expect_close(1007)


register("6.6.4", "64 KiB fragmented text ending inside a 4-byte sequence -> 1007", _large_truncated)
