"""Hypothesis: any bytes, in any chunking, give a head or a ProtocolError
with a 4xx/5xx status, nothing else; and the chunking never changes which.
(The shape of h11's ``fuzz/afl-server.py``.)"""

from __future__ import annotations

import pytest

from kali.errors import ProtocolError
from kali.protocol import KNOWN_METHODS, HeadParser, Limits, RequestHead

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
given, settings = hypothesis.given, hypothesis.settings

FAST = settings(max_examples=150, deadline=None)
# Small limits so that random inputs reach 414/431 too.
SMALL = Limits(max_request_line_bytes=40, max_head_bytes=120, max_header_fields=4)

VALID_REQUESTS = [
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET /a?b=c HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
    b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Content-Type: text/plain\r\n\r\nhello",
    b"GET http://localhost/x HTTP/1.1\r\nHost: y\r\nExpect: 100-continue\r\n\r\n",
    b"PUT /x HTTP/1.0\r\nCookie: a=b\r\nCookie: c=d\r\n\r\n",
]
INTERESTING = [
    b"\r\n",
    b"\r",
    b"\n",
    b" ",
    b"\t",
    b":",
    b"\x00",
    b"\x7f",
    b"\xff",
    b"Host: x\r\n",
    b"Content-Length: 3\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"HTTP/1.1",
    b"/",
    b"*",
    b"http://",
]


DEFAULT = Limits()


def outcome(data: bytes, cuts: list[int], limits: Limits = DEFAULT):
    """Feed ``data`` split at ``cuts``; a comparable description of the result.

    ``("head", head, bytes after it)``, ``("error", status, message)`` or,
    when the data ends before the head, the error eof() raises.
    """
    positions = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, start = [], 0
    for position in positions + [len(data)]:
        pieces.append(data[start:position])
        start = position
    parser = HeadParser(limits)
    try:
        for index, piece in enumerate(pieces):
            head = parser.feed(piece)
            if head is not None:
                assert isinstance(head, RequestHead)
                rest = parser.trailing + b"".join(pieces[index + 1 :])
                return ("head", head, rest)
        parser.eof()
        if not data:
            return ("nothing",)
    except ProtocolError as error:
        assert 400 <= error.status <= 505
        return ("error", error.status, str(error))
    raise AssertionError("eof() after some bytes must raise")


def check(data: bytes, cuts: list[int], limits: Limits = DEFAULT) -> None:
    whole = outcome(data, [], limits)
    assert outcome(data, cuts, limits) == whole
    assert outcome(data, list(range(len(data))), limits) == whole
    if whole[0] == "head":
        assert data.endswith(whole[2])


cuts_strategy = st.lists(st.integers(min_value=0, max_value=400), max_size=12)


@FAST
@given(st.binary(max_size=300), cuts_strategy)
def test_random_bytes(data, cuts):
    check(data, cuts)
    check(data, cuts, SMALL)


@st.composite
def mutated_requests(draw):
    data = bytearray(draw(st.sampled_from(VALID_REQUESTS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "repeat"]))
        if action == "insert":
            piece = draw(
                st.sampled_from(INTERESTING) | st.binary(min_size=1, max_size=3)
            )
            data[position:position] = piece
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 4))]
        elif action == "replace" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        else:
            end = position + draw(st.integers(1, 30))
            data[position:position] = data[position:end]
    return bytes(data)


@FAST
@given(mutated_requests(), cuts_strategy)
def test_mutated_requests(data, cuts):
    check(data, cuts)
    check(data, cuts, SMALL)


TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
names = st.text(alphabet=TCHARS, min_size=1, max_size=12).filter(
    lambda name: (
        name.lower()
        not in {
            "host",
            "content-length",
            "transfer-encoding",
            "content-type",
            "content_length",
            "transfer_encoding",
            "expect",
        }
    )
)
values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF).filter(
        lambda char: char != "\x7f"
    ),
    max_size=20,
).map(lambda value: value.strip(" "))
targets = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30
).map(lambda text: "/" + text)


@FAST
@given(
    st.sampled_from(sorted(KNOWN_METHODS)),
    targets,
    st.lists(st.tuples(names, values), max_size=8),
    st.integers(min_value=0, max_value=10**6),
    st.binary(max_size=20),
    cuts_strategy,
)
def test_valid_requests_round_trip(method, target, fields, length, body, cuts):
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost"]
    lines += [f"{name}:  {value}\t" for name, value in fields]
    lines.append(f"Content-Length: {length}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    result = outcome(data, cuts)
    assert result[0] == "head", result
    head, rest = result[1], result[2]
    assert (head.method, head.target, head.version) == (method, target, "HTTP/1.1")
    assert head.host == "localhost"
    assert head.content_length == length
    expected = [("host", "localhost")] + [(n.lower(), v) for n, v in fields]
    assert list(head.headers) == expected + [("content-length", str(length))]
    assert rest == body
    check(data, cuts)
