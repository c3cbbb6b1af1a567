"""Chunked request bodies (RFC 9112 section 7.1): the sans-IO decoder fed
bytes whole, byte by byte and at random splits, then the server's read path
over real loopback sockets, with http.client and urllib sending generator
bodies as real clients do."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.request

import pytest

from kali.chunked import MAX_CHUNK_LINE_BYTES, ChunkedDecoder
from kali.errors import ProtocolError
from kali.protocol import Limits
from kali.response import Response
from kali.server import Server, Timeouts
from kali.wsgi import from_wsgi

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
given, settings = hypothesis.given, hypothesis.settings


def whole(data):
    return [data]


def bytewise(data):
    return [data[i : i + 1] for i in range(len(data))]


def in_threes(data):
    return [b""] + [data[i : i + 3] for i in range(0, len(data), 3)] + [b""]


FEEDS = [whole, bytewise, in_threes]


DEFAULT = Limits()


def decode(pieces, limits=DEFAULT):
    """``(body, trailing)`` of the pieces, or the ProtocolError's status."""
    decoder = ChunkedDecoder(limits)
    body = []
    try:
        for index, piece in enumerate(pieces):
            body.append(decoder.feed(piece))
            if decoder.done:
                rest = b"".join(pieces[index + 1 :])
                return b"".join(body), decoder.trailing + rest
        decoder.eof()
    except ProtocolError as error:
        message = str(error)
        assert message and len(message) < 60 and message.isascii()
        return error.status
    raise AssertionError("eof() must raise for an incomplete body")


def encode(body: bytes, sizes, extension=b"", trailer=b"") -> bytes:
    """``body`` chunked at ``sizes`` (the rest in one last chunk)."""
    out, start = [], 0
    for size in [*sizes, len(body)]:
        piece = body[start : start + size]
        start += len(piece)
        if piece:
            out.append(b"%x%s\r\n%s\r\n" % (len(piece), extension, piece))
    return b"".join(out) + b"0%s\r\n%s\r\n" % (extension, trailer)


# -- the decoder ------------------------------------------------------------------


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(
    "wire, body",
    [
        (b"0\r\n\r\n", b""),
        (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),  # upper-case hex
        (b"a\r\n0123456789\r\n000\r\n\r\n", b"0123456789"),  # a zero run
        (b"0005\r\nhello\r\n0\r\n\r\n", b"hello"),  # leading zeros
        (b"5\r\n\r\n\r\n\r\r\n0\r\n\r\n", b"\r\n\r\n\r"),  # CRLFs as data
        (b"5;name\r\nhello\r\n0\r\n\r\n", b"hello"),  # extensions ignored
        (b'5 ; a=b ;c="x;\\"y"\r\nhello\r\n0;last\r\n\r\n', b"hello"),
        (b"5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum:  12 \r\n\r\n", b"hello"),
        (b"5\r\nhello\r\n0\r\nContent-Length: 99\r\n\r\n", b"hello"),  # ignored
    ],
)
def test_valid_bodies(wire, body, feed):
    assert decode(feed(wire + b"NEXT")) == (body, b"NEXT")


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(
    "wire, status",
    [
        (b"\r\nhello\r\n0\r\n\r\n", 400),  # no size
        (b" 5\r\nhello\r\n0\r\n\r\n", 400),  # whitespace before the size
        (b"5 \r\nhello\r\n0\r\n\r\n", 400),  # whitespace without an extension
        (b"-5\r\nhello\r\n0\r\n\r\n", 400),
        (b"+5\r\nhello\r\n0\r\n\r\n", 400),
        (b"0x5\r\nhello\r\n0\r\n\r\n", 400),
        (b"5_0\r\nhello\r\n0\r\n\r\n", 400),
        (b"5\nhello\r\n0\r\n\r\n", 400),  # bare LF
        (b"5;a=b\rc\r\nhello\r\n0\r\n\r\n", 400),  # bare CR in an extension
        (b"5;\r\nhello\r\n0\r\n\r\n", 400),  # an empty extension name
        (b'5;a="open\r\nhello\r\n0\r\n\r\n', 400),  # an unclosed quote
        (b"5\r\nhelloX\r\n0\r\n\r\n", 400),  # data longer than its size
        (b"5\r\nhello\n0\r\n\r\n", 400),  # data ends with a bare LF
        (b"5\r\nhello\r\n0\r\nbad trailer\r\n\r\n", 400),
        (b"5\r\nhello\r\n0\r\n folded: x\r\n\r\n", 400),
        (b"5\r\nhello\r\n0\r\nX: a\x00b\r\n\r\n", 400),
        (b"5\r\nhello\r\n0\r\n", 400),  # the final CRLF missing (then EOF)
        (b"5\r\nhel", 400),  # EOF inside the data
        (b"", 400),  # EOF before anything
    ],
)
def test_malformed_bodies(wire, status, feed):
    assert decode(feed(wire)) == status


def test_limits():
    assert decode([b"0" * MAX_CHUNK_LINE_BYTES + b"1\r\n"]) == 400
    zeros = b"0" * (MAX_CHUNK_LINE_BYTES - 1)  # a size line of exactly the limit
    assert decode([zeros + b"1\r\nx\r\n0\r\n\r\n"]) == (b"x", b"")
    long_line = b"1;" + b"x" * (MAX_CHUNK_LINE_BYTES - 2)  # exactly the limit
    assert decode([long_line + b"\r\nx\r\n0\r\n\r\n"]) == (b"x", b"")
    assert decode([b"5;" + b"x" * MAX_CHUNK_LINE_BYTES + b"\r\n"]) == 400
    small = Limits(max_body_bytes=10, max_head_bytes=40, max_header_fields=2)
    assert decode([b"a\r\n0123456789\r\n0\r\n\r\n"], small) == (b"0123456789", b"")
    assert decode([b"b\r\n"], small) == 413  # before any data arrives
    assert decode([b"6\r\n012345\r\n5\r\n"], small) == 413
    assert decode([b"fffffffffffffffffffffff\r\n"], small) == 413
    assert decode([b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"], small) == 431
    assert decode([b"0\r\nA: " + b"x" * 40 + b"\r\n\r\n"], small) == 431
    assert decode([b"0\r\nA: " + b"x" * 30 + b"\r\n\r\n"], small) == (b"", b"")


def test_after_an_error_and_after_the_end():
    decoder = ChunkedDecoder()
    with pytest.raises(ProtocolError) as first:
        decoder.feed(b"zz\r\n")
    with pytest.raises(ProtocolError) as again:
        decoder.feed(b"5\r\nhello\r\n")
    assert again.value is first.value
    decoder.eof()  # already refused: nothing more to say
    done = ChunkedDecoder()
    assert done.feed(b"0\r\n\r\n") == b"" and done.done
    with pytest.raises(RuntimeError):
        done.feed(b"more")
    done.eof()
    assert done.body_bytes == 0


# -- properties -----------------------------------------------------------------

cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


def split(data: bytes, positions) -> list[bytes]:
    points = sorted({p % (len(data) + 1) for p in positions})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=600),
    sizes=st.lists(st.integers(min_value=1, max_value=80), max_size=20),
    extension=st.sampled_from([b"", b";x", b" ; a=b", b';q="1;\\"2"']),
    trailer=st.sampled_from([b"", b"X-Sum: 1\r\n", b"A: 1\r\nB:\r\n"]),
    positions=cuts,
    after=st.binary(max_size=8),
)
def test_any_chunking_of_any_body_decodes_to_the_body(
    body, sizes, extension, trailer, positions, after
):
    wire = encode(body, sizes, extension, trailer) + after
    assert decode(split(wire, positions)) == (body, after)
    assert decode(bytewise(wire)) == (body, after)


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=80),
    sizes=st.lists(st.integers(min_value=1, max_value=20), max_size=6),
    at=st.integers(min_value=0),
    junk=st.binary(min_size=1, max_size=3),
    positions=cuts,
)
def test_any_split_gives_the_same_answer(body, sizes, at, junk, positions):
    """Mutated bodies: valid or not, the answer never depends on the split."""
    wire = encode(body, sizes)
    at %= len(wire) + 1
    mutated = wire[:at] + junk + wire[at:]
    expected = decode(whole(mutated))
    assert decode(split(mutated, positions)) == expected
    assert decode(bytewise(mutated)) == expected


# -- the server, over real sockets --------------------------------------------------


def echo(request):
    """The method, body length and a digest of the body, or its form."""
    if request.path == ["form"]:
        return Response.plain_text(repr(sorted(request.POST.items())))
    spooled = request.body_file is not None
    body = request.body
    return Response.plain_text(
        f"{request.command} {len(body)} {sum(body) % 65521} spooled={spooled}"
    )


def expected(body: bytes, spooled: bool = False) -> str:
    return f"POST {len(body)} {sum(body) % 65521} spooled={spooled}"


@pytest.fixture
def serve():
    started = []

    def start(handler=echo, **options):
        server = Server(handler, port=0, **options)
        server.bind()
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.stop()
        thread.join(10)
        server.close()
        assert not thread.is_alive()


def exchange(server, data: bytes, *, half_close=False) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def read_all(sock) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply else 0


def post_chunked(server, pieces, path="/", headers=None):
    """POST a generator body with http.client (it sends it chunked)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            "POST", path, body=iter(pieces), headers=headers or {}, encode_chunked=True
        )
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def test_http_client_generator_body(serve):
    server = serve()
    pieces = [bytes([n % 251]) * (n * 37 % 5000) for n in range(60)]
    body = b"".join(pieces)
    assert post_chunked(server, pieces) == (200, expected(body))


def test_urllib_iterable_body_is_sent_chunked(serve):
    server = serve()
    pieces = [b"alpha ", b"", b"beta ", b"gamma"]  # an empty piece too
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/", data=iter(pieces), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert request.get_header("Transfer-encoding") == "chunked"
        assert answer.read().decode() == expected(b"alpha beta gamma")


def test_a_big_chunked_body_is_spooled(serve):
    server = serve(limits=Limits(max_form_memory_bytes=64 * 1024))
    pieces = [bytes([n]) * 65536 for n in range(48)]  # 3 MiB
    body = b"".join(pieces)
    assert post_chunked(server, pieces) == (200, expected(body, spooled=True))


def test_a_chunked_form_is_read_as_a_form(serve):
    server = serve()
    pieces = [b"name=Ren", b"%C3%A9e&tag=a", b"&tag=b+c"]
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answer = post_chunked(server, pieces, "/form", headers)
    assert answer == (200, "[('name', 'Renée'), ('tag', 'a'), ('tag', 'b c')]")


def test_a_chunked_body_past_the_limit_is_413(serve):
    server = serve(limits=Limits(max_body_bytes=100_000))
    head = b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n%s\r\n" % (30_000, b"x" * 30_000)
    reply = exchange(server, head + chunk * 4 + b"0\r\n\r\n")
    assert status(reply) == 413
    last = b"%x\r\n%s\r\n0\r\n\r\n" % (10_000, b"y" * 10_000)
    exact = exchange(server, head + chunk * 3 + last)  # exactly the limit
    assert status(exact) == 200
    assert exact.partition(b"\r\n\r\n")[2].startswith(b"POST 100000 ")


def test_a_wsgi_app_gets_a_chunked_body_intact(serve):
    seen = {}

    def app(environ, start_response):
        seen["length"] = environ.get("CONTENT_LENGTH")
        seen["body"] = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = serve(from_wsgi(app))
    pieces = [b"x" * 1000, b"y" * 2000, b"z"]
    assert post_chunked(server, pieces) == (200, "ok")
    assert seen == {"length": "3001", "body": b"".join(pieces)}


def test_expect_100_continue_with_a_chunked_body(serve):
    server = serve()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"3\r\nabc\r\n0\r\n\r\n")
        assert read_all(sock).endswith(expected(b"abc").encode())


def test_bytes_after_the_last_chunk_do_not_spoil_the_answer(serve):
    server = serve()
    reply = exchange(
        server,
        b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
    )
    assert reply.endswith(expected(b"abc").encode())


def test_a_client_that_closes_mid_body_gets_no_answer(serve):
    server = serve()
    reply = exchange(
        server,
        b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhel",
        half_close=True,
    )
    assert reply == b""
    assert post_chunked(server, [b"still ", b"serving"])[0] == 200


def test_a_stalled_chunked_body_is_408(serve):
    server = serve(timeouts=Timeouts(body_gap=0.3, body_grace=0.3))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
            b"\r\n5\r\nhel"
        )
        assert status(read_all(sock)) == 408


def test_a_trickled_chunked_body_is_408(serve):
    server = serve(
        timeouts=Timeouts(body_gap=2.0, body_grace=0.2, body_min_bytes_per_second=100)
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        try:
            for byte in b"1\r\nx\r\n" * 40:  # 20 bytes/s: far under 100
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
        except OSError:
            pass  # the server answered and closed
        assert status(read_all(sock)) == 408
