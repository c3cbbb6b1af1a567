"""The request-head parser: every rule of spec 2.2, fed whole, byte by byte,
in odd chunks and with body bytes after the head (as h11's tests do)."""

from __future__ import annotations

import pytest

from kali.errors import ProtocolError
from kali.protocol import (
    KNOWN_METHODS,
    HeadParser,
    Limits,
    RequestHead,
    parse_request_head,
)

BODY = b"body bytes\r\n\r\nGET / HTTP/1.0\r\n\r\n"


DEFAULT = Limits()


def whole(data):
    return [data]


def bytewise(data):
    return [data[i : i + 1] for i in range(len(data))]


def in_threes(data):
    return [b""] + [data[i : i + 3] for i in range(0, len(data), 3)] + [b""]


FEEDS = [whole, bytewise, in_threes]


def run(data, feed=whole, limits=DEFAULT):
    """Feed ``data`` in pieces; return (head, leftover bytes) or raise.

    If the pieces run out before the head is complete, the client "closes".
    """
    parser = HeadParser(limits)
    pieces = feed(data)
    for index, piece in enumerate(pieces):
        head = parser.feed(piece)
        if head is not None:
            return head, parser.trailing + b"".join(pieces[index + 1 :])
    parser.eof()
    raise AssertionError("eof() should have raised for an incomplete head")


def status_of(data, feed=whole, limits=DEFAULT):
    with pytest.raises(ProtocolError) as info:
        run(data, feed, limits)
    message = str(info.value)
    assert message and len(message) < 60 and message.isascii()
    return info.value.status


def head(
    method="GET",
    target="/",
    version="HTTP/1.0",
    headers=(),
    content_length=0,
    host=None,
    expect_continue=False,
):
    return RequestHead(
        method, target, version, tuple(headers), content_length, host, expect_continue
    )


# --- valid requests ---------------------------------------------------------

VALID = [
    ("minimal 1.0", b"GET / HTTP/1.0\r\n\r\n", head()),
    (
        "1.1 with host",
        b"GET /a?b=1 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
        head(
            target="/a?b=1",
            version="HTTP/1.1",
            headers=[("host", "localhost:8080")],
            host="localhost:8080",
        ),
    ),
    (
        "names lower-cased, whitespace stripped, order and repeats kept",
        b"POST /f HTTP/1.1\r\nHOST:x\r\nX-A:   b: c \t\r\nCookie: a=1\r\n"
        b"Content-Length: 0\r\ncookie: b=2\r\nX-Empty:\r\n\r\n",
        head(
            method="POST",
            target="/f",
            version="HTTP/1.1",
            headers=[
                ("host", "x"),
                ("x-a", "b: c"),
                ("cookie", "a=1"),
                ("content-length", "0"),
                ("cookie", "b=2"),
                ("x-empty", ""),
            ],
            host="x",
        ),
    ),
    (
        "content length",
        b"PUT /x HTTP/1.0\r\nContent-Length: 000000000000000012\r\n\r\n",
        head(
            method="PUT",
            target="/x",
            headers=[("content-length", "000000000000000012")],
            content_length=12,
        ),
    ),
    (
        "absolute-form authority wins over Host",
        b"GET http://localhost:8080/x?y HTTP/1.1\r\nHost: evil.example\r\n\r\n",
        head(
            target="http://localhost:8080/x?y",
            version="HTTP/1.1",
            headers=[("host", "evil.example")],
            host="localhost:8080",
        ),
    ),
    (
        "absolute-form https without path",
        b"OPTIONS HTTPS://[::1]:8080 HTTP/1.0\r\n\r\n",
        head(method="OPTIONS", target="HTTPS://[::1]:8080", host="[::1]:8080"),
    ),
    (
        "expect 100-continue",
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
        b"Content-Length: 3\r\n\r\n",
        head(
            method="POST",
            version="HTTP/1.1",
            headers=[
                ("host", "h"),
                ("expect", "100-Continue"),
                ("content-length", "3"),
            ],
            content_length=3,
            host="h",
            expect_continue=True,
        ),
    ),
    (
        "tab and obs-text in a value",
        b"GET / HTTP/1.0\r\nX-Text: a\tb \xe9\r\n\r\n",
        head(headers=[("x-text", "a\tb \xe9")]),
    ),
    (
        "underscores in other header names, empty Host",
        b"GET //a/b HTTP/1.1\r\nX_Custom: 1\r\nHost:\r\n\r\n",
        head(
            target="//a/b",
            version="HTTP/1.1",
            headers=[("x_custom", "1"), ("host", "")],
            host="",
        ),
    ),
    (
        "all visible ASCII in the target",
        b"GET /" + bytes(range(0x21, 0x7F)) + b" HTTP/1.0\r\n\r\n",
        head(target="/" + bytes(range(0x21, 0x7F)).decode("ascii")),
    ),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(
    ("data", "expected"), [v[1:] for v in VALID], ids=[v[0] for v in VALID]
)
def test_valid_request(data, expected, feed):
    assert run(data, feed) == (expected, b"")
    assert run(data + BODY, feed) == (expected, BODY)


@pytest.mark.parametrize("method", sorted(KNOWN_METHODS))
def test_every_known_method(method):
    data = method.encode() + b" / HTTP/1.0\r\n\r\n"
    assert run(data)[0].method == method


def test_trailing_bytes_after_a_head_fed_in_pieces():
    data = b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\n"
    parser = HeadParser()
    for byte in bytewise(data[:-1]):
        assert parser.feed(byte) is None
    assert parser.trailing == b""
    result = parser.feed(data[-1:] + b"hello")
    assert result is not None and result.content_length == 5
    assert parser.trailing == b"hello"
    assert parser.received_bytes == len(data) + 5


def test_parse_request_head():
    assert parse_request_head(b"GET / HTTP/1.0\r\n\r\nxyz") == (head(), b"xyz")
    with pytest.raises(ProtocolError) as info:
        parse_request_head(b"GET / HTTP/1.0\r\n")
    assert info.value.status == 400


# --- errors -------------------------------------------------------------------

ERRORS = [
    # The request line.
    ("one token", b"GET\r\n\r\n", 400),
    ("no version", b"GET /\r\n\r\n", 400),
    ("four tokens", b"GET / HTTP/1.0 extra\r\n\r\n", 400),
    ("space in target", b"GET /a b HTTP/1.0\r\n\r\n", 400),
    ("empty line", b"\r\n\r\n", 400),
    ("empty version", b"GET / \r\n\r\n", 400),
    ("tab separator", b"GET\t/ HTTP/1.0\r\n\r\n", 400),
    ("double space", b"GET  / HTTP/1.0\r\n\r\n", 400),
    ("double space before version", b"GET /  HTTP/1.0\r\n\r\n", 400),
    ("leading space", b" GET / HTTP/1.0\r\n\r\n", 400),
    ("trailing space", b"GET / HTTP/1.0 \r\n\r\n", 400),
    ("binary", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    ("NUL in method", b"GET\x00 / HTTP/1.0\r\n\r\n", 400),
    ("method not a token", b"GE(T / HTTP/1.0\r\n\r\n", 400),
    ("method with colon", b"GET: / HTTP/1.0\r\n\r\n", 400),
    ("non-ASCII method", b"GET\xc3\x9f / HTTP/1.0\r\n\r\n", 400),
    ("unknown method", b"BREW / HTTP/1.0\r\n\r\n", 501),
    ("lower-case method", b"get / HTTP/1.0\r\n\r\n", 501),
    ("token method with garbage", b"-bl /foo HTTP/1.1\r\n\r\n", 501),
    ("lower-case version", b"GET / http/1.0\r\n\r\n", 400),
    ("other protocol", b"GET / FTP/1.1\r\n\r\n", 400),
    ("version without minor", b"GET / HTTP/1\r\n\r\n", 400),
    ("version 1.1.1", b"GET / HTTP/1.1.1\r\n\r\n", 400),
    ("version 11.1", b"GET / HTTP/11.1\r\n\r\n", 400),
    ("version 1.10", b"GET / HTTP/1.10\r\n\r\n", 400),
    ("version 2.0", b"GET / HTTP/2.0\r\n\r\n", 505),
    ("version 0.9", b"GET / HTTP/0.9\r\n\r\n", 505),
    ("version 1.2", b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
    ("relative target", b"GET foo/bar HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("asterisk with OPTIONS", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("asterisk with GET", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("authority-form", b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("other scheme", b"GET ftp://host/x HTTP/1.0\r\n\r\n", 400),
    ("empty authority", b"GET http:///x HTTP/1.0\r\n\r\n", 400),
    ("userinfo", b"GET http://user@localhost/ HTTP/1.0\r\n\r\n", 400),
    ("bad authority", b"GET http://a:1:2/ HTTP/1.0\r\n\r\n", 400),
    ("unclosed IPv6 authority", b"GET http://[::1/x HTTP/1.0\r\n\r\n", 400),
    ("non-ASCII target", b"GET /\xc3\xa9 HTTP/1.0\r\n\r\n", 400),
    ("DEL in target", b"GET /\x7f HTTP/1.0\r\n\r\n", 400),
    # Line endings.
    ("bare LF terminator", b"GET / HTTP/1.0\n\n", 400),
    ("bare LF in request line", b"GET\n/\nHTTP/1.1\r\n\r\n", 400),
    ("bare LF after a header", b"GET / HTTP/1.0\r\nX: a\nY: b\r\n\r\n", 400),
    ("bare LF ending the head", b"GET / HTTP/1.0\r\nX: a\r\n\n", 400),
    ("bare CR in a value", b"GET / HTTP/1.0\r\nX: a\rb\r\n\r\n", 400),
    ("bare CR in request line", b"GET /\r HTTP/1.0\r\n\r\n", 400),
    ("CR CR LF", b"GET / HTTP/1.0\r\r\n\r\n", 400),
    # Header lines.
    ("no colon", b"GET / HTTP/1.0\r\nNoColon\r\n\r\n", 400),
    ("space before colon", b"GET / HTTP/1.0\r\nContent-Length : 3\r\n\r\n", 400),
    ("tab before colon", b"GET / HTTP/1.0\r\nX\t: 3\r\n\r\n", 400),
    ("empty name", b"GET / HTTP/1.0\r\n: x\r\n\r\n", 400),
    ("space in name", b"GET / HTTP/1.0\r\nX Y: z\r\n\r\n", 400),
    ("non-token name", b"GET / HTTP/1.0\r\nX(Y): z\r\n\r\n", 400),
    ("NUL in name", b"GET / HTTP/1.0\r\nba\x00z: bar\r\n\r\n", 400),
    ("non-ASCII name", b"GET / HTTP/1.0\r\nContent-Length\xc3\x9f: 3\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.0\r\nX: one\r\n two\r\n\r\n", 400),
    ("obs-fold with tab", b"GET / HTTP/1.0\r\nX: one\r\n\ttwo\r\n\r\n", 400),
    ("space before first header", b"GET / HTTP/1.0\r\n X: y\r\n\r\n", 400),
    ("NUL in value", b"GET / HTTP/1.0\r\nX: a\x00b\r\n\r\n", 400),
    ("BEL in value", b"GET / HTTP/1.0\r\nX: a\x07b\r\n\r\n", 400),
    ("DEL in value", b"GET / HTTP/1.0\r\nX: a\x7fb\r\n\r\n", 400),
    ("ESC in value", b"GET / HTTP/1.0\r\nX: \x1b[31m\r\n\r\n", 400),
    # Host.
    ("1.1 without Host", b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
    ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    ("two Hosts in 1.0", b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400),
    ("Host with a space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("Host with a path", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    ("Host with userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
    ("non-ASCII Host", b"GET / HTTP/1.1\r\nHost: caf\xe9\r\n\r\n", 400),
    # Content-Length.
    (
        "length twice",
        b"POST / HTTP/1.0\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
        400,
    ),
    ("length abc", b"POST / HTTP/1.0\r\nContent-Length: abc\r\n\r\n", 400),
    ("length -5", b"POST / HTTP/1.0\r\nContent-Length: -5\r\n\r\n", 400),
    ("length +1", b"POST / HTTP/1.0\r\nContent-Length: +1\r\n\r\n", 400),
    ("length list", b"POST / HTTP/1.0\r\nContent-Length: 5, 5\r\n\r\n", 400),
    ("length empty", b"POST / HTTP/1.0\r\nContent-Length:\r\n\r\n", 400),
    ("length hex", b"POST / HTTP/1.0\r\nContent-Length: 0x10\r\n\r\n", 400),
    ("length 1e3", b"POST / HTTP/1.0\r\nContent-Length: 1e3\r\n\r\n", 400),
    ("length inner space", b"POST / HTTP/1.0\r\nContent-Length: 3 1\r\n\r\n", 400),
    (
        "length 19 digits",
        b"POST / HTTP/1.0\r\nContent-Length: " + b"1" * 19 + b"\r\n\r\n",
        400,
    ),
    ("length superscript", b"POST / HTTP/1.0\r\nContent-Length: \xb2\r\n\r\n", 400),
    ("length too big", b"POST / HTTP/1.0\r\nContent-Length: 67108865\r\n\r\n", 413),
    (
        "length 18 nines",
        b"POST / HTTP/1.0\r\nContent-Length: " + b"9" * 18 + b"\r\n\r\n",
        413,
    ),
    ("Content_Length", b"POST / HTTP/1.0\r\nContent_Length: 3\r\n\r\n", 400),
    (
        "two Content-Types",
        b"POST / HTTP/1.0\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
        400,
    ),
    # Transfer-Encoding: chunked alone, from HTTP/1.1, is the only framing
    # besides Content-Length (RFC 9112 sections 6.1, 6.3).
    (
        "chunked from HTTP/1.0",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
    ),
    (
        "identity",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n",
        501,
    ),
    (
        "gzip",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
    ),
    ("identity 1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: identity\r\n\r\n", 400),
    (
        "TE and CL",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        400,
    ),
    (
        "chunked not last",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        400,
    ),
    (
        "chunked not last, two lines",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: identity\r\n\r\n",
        400,
    ),
    (
        "chunked twice",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        400,
    ),
    (
        "chunked with a parameter",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;x=1\r\n\r\n",
        501,
    ),
    ("empty TE", b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n", 400),
    (
        "Transfer_Encoding",
        b"POST / HTTP/1.0\r\nTransfer_Encoding: chunked\r\n\r\n",
        400,
    ),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(
    ("data", "status"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_error(data, status, feed):
    assert status_of(data, feed) == status
    assert status_of(data + BODY, feed) == status


def test_transfer_encoding_messages():
    with pytest.raises(ProtocolError, match="HTTP/1.0"):
        run(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(ProtocolError, match="not implemented"):
        run(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br\r\n\r\n")


@pytest.mark.parametrize(
    "value",
    ["chunked", "Chunked", " chunked ", ", chunked", "chunked ,", "CHUNKED"],
)
@pytest.mark.parametrize("feed", FEEDS)
def test_chunked_heads(value, feed):
    data = (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n5\r\n"
        % value.encode()
    )
    head, rest = run(data, feed)
    assert head.chunked and head.content_length == 0
    assert rest == b"5\r\n"


def test_sized_heads_are_not_chunked():
    head, _ = run(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
    assert not head.chunked and head.content_length == 2


@pytest.mark.parametrize(
    "data",
    [
        b"GET /SECRET\x01 HTTP/1.0\r\n\r\n",
        b"SECRET\x00 / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.0\r\nSECRET\r\n\r\n",
        b"GET / HTTP/1.0\r\nX: SECRET\x00\r\n\r\n",
        b"GET / HTTP/1.0\r\nContent-Length: SECRET\r\n\r\n",
        b"GET / HTTP/SECRET\r\n\r\n",
    ],
)
def test_messages_never_echo_the_request(data):
    with pytest.raises(ProtocolError) as info:
        run(data)
    assert "SECRET" not in str(info.value).upper()


@pytest.mark.parametrize(
    "data",
    [
        b"\x16\x03\x01\x02\x00\x01\x00",
        b"GET /\x00",
        b"GET / HTTP/1.1x",
        b"GET / HTTP/1.1 ",
        b"FOO ",
        b"GET\n",
        b"GET / HTTP/1.0\r\nX: y\n",
        b"GET / HTTP/1.0\r\r",
    ],
)
def test_errors_are_raised_before_the_line_ends(data):
    parser = HeadParser()
    with pytest.raises(ProtocolError):
        parser.feed(data)


# --- limits ------------------------------------------------------------------


def request_line(length):
    """A GET request line of exactly ``length`` bytes (without CRLF)."""
    prefix, suffix = b"GET /", b" HTTP/1.0"
    return prefix + b"a" * (length - len(prefix) - len(suffix)) + suffix


@pytest.mark.parametrize("feed", FEEDS)
def test_request_line_limit(feed):
    assert run(request_line(8192) + b"\r\n\r\n", feed)[0].method == "GET"
    assert status_of(request_line(8193) + b"\r\n\r\n", feed) == 414


def test_414_is_decided_before_the_line_ends():
    parser = HeadParser()
    assert parser.feed(b"GET /" + b"a" * (8192 - 5)) is None
    with pytest.raises(ProtocolError) as info:
        parser.feed(b"a")
    assert info.value.status == 414
    with pytest.raises(ProtocolError) as again:
        parser.feed(b"\r\n\r\n")
    assert again.value is info.value


def test_414_when_everything_arrives_at_once():
    parser = HeadParser(Limits(max_request_line_bytes=20))
    with pytest.raises(ProtocolError) as info:
        parser.feed(b"GET /" + b"a" * 100)
    assert info.value.status == 414


@pytest.mark.parametrize("feed", FEEDS)
def test_head_size_limit_is_exact(feed):
    limits = Limits(max_request_line_bytes=50, max_head_bytes=64)
    start = b"GET / HTTP/1.0\r\n"  # 16 bytes
    fits = start + b"X: " + b"v" * (64 - 16 - 5) + b"\r\n"
    assert len(fits) == 64
    assert run(fits + b"\r\n" + BODY, feed, limits)[1] == BODY
    too_big = start + b"X: " + b"v" * (64 - 16 - 4) + b"\r\n"
    assert status_of(too_big + b"\r\n", feed, limits) == 431
    # Two lines that fit, then a third that starts past the limit.
    half = b"X: " + b"v" * (24 - 5) + b"\r\n"
    assert len(start + half + half) == 64
    assert status_of(start + half + half + b"Y: z\r\n\r\n", feed, limits) == 431
    # A request line longer than the head limit is a 431, not a 414.
    limits = Limits(max_request_line_bytes=100, max_head_bytes=20)
    assert status_of(request_line(30) + b"\r\n\r\n", feed, limits) == 431


def test_431_is_decided_before_the_line_ends():
    parser = HeadParser()
    parser.feed(b"GET / HTTP/1.0\r\nX: ")
    with pytest.raises(ProtocolError) as info:
        parser.feed(b"v" * 40000)
    assert info.value.status == 431


def test_big_cookie_passes():
    cookie = b"session=" + b"c" * 12 * 1024
    data = b"GET / HTTP/1.1\r\nHost: localhost\r\nCookie: " + cookie + b"\r\n\r\n"
    for feed in (whole, in_threes):
        headers = dict(run(data, feed)[0].headers)
        assert headers["cookie"] == cookie.decode()


@pytest.mark.parametrize("feed", FEEDS)
def test_field_count_limit(feed):
    fields = b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(100))
    result, _ = run(b"GET / HTTP/1.0\r\n" + fields + b"\r\n", feed)
    assert len(result.headers) == 100
    more = fields + b"X-100: 100\r\n"
    assert status_of(b"GET / HTTP/1.0\r\n" + more + b"\r\n", feed) == 431


def test_body_limit():
    limits = Limits(max_body_bytes=10)
    ok = b"POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\n"
    assert run(ok, limits=limits)[0].content_length == 10
    assert status_of(ok.replace(b"10", b"11"), limits=limits) == 413


# --- the parser object -----------------------------------------------------------


def test_feed_after_the_head_is_an_error():
    parser = HeadParser()
    assert parser.feed(b"GET / HTTP/1.0\r\n\r\n") is not None
    with pytest.raises(RuntimeError):
        parser.feed(b"more")
    assert parser.eof() is None


def test_eof():
    assert HeadParser().eof() is None
    parser = HeadParser()
    assert parser.feed(b"") is None
    assert parser.eof() is None
    assert parser.received_bytes == 0
    parser.feed(b"GET / HTTP/1.0\r\n")
    with pytest.raises(ProtocolError) as info:
        parser.eof()
    assert info.value.status == 400


def test_errors_are_sticky():
    parser = HeadParser()
    with pytest.raises(ProtocolError) as first:
        parser.feed(b"BREW / HTTP/1.0\r\n")
    with pytest.raises(ProtocolError) as second:
        parser.feed(b"\r\n")
    assert second.value is first.value
    assert parser.eof() is None


def test_limits_defaults():
    limits = Limits()
    assert limits.max_request_line_bytes == 8192
    assert limits.max_head_bytes == 32768
    assert limits.max_header_fields == 100
    assert limits.max_body_bytes == 64 * 1024 * 1024
    assert limits.max_form_memory_bytes == 1024 * 1024
    assert limits.max_form_fields == 1000
    with pytest.raises(AttributeError):
        limits.max_head_bytes = 1  # type: ignore[misc]
