"""Form data: Content-Type, query strings, urlencoded and streaming multipart
bodies, FileUpload and the 0.0.8 ``analyze_*`` helpers (spec 2.3, 2.4)."""

from __future__ import annotations

import hashlib
import io
import itertools
import uuid

import pytest

from kali import formdata, multipart
from kali.errors import ProtocolError
from kali.formdata import (
    FileUpload,
    analyze_disposition,
    analyze_multipart_form_data,
    analyze_single_part,
    parse_content_type,
    parse_form,
    parse_multipart,
    parse_query,
    parse_urlencoded,
)
from kali.protocol import Limits

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
given, settings, assume = hypothesis.given, hypothesis.settings, hypothesis.assume

BOUNDARY = b"----WebKitFormBoundaryePkpFF7tjBAqx29L"
NAME_A = b'Content-Disposition: form-data; name="a"'


class Trickle:
    """A binary stream that returns at most a few bytes per read()."""

    def __init__(self, data: bytes, sizes=(1,)):
        self._data = io.BytesIO(data)
        self._sizes = itertools.cycle(sizes)

    def read(self, size: int = -1) -> bytes:
        step = next(self._sizes)
        return self._data.read(step if size < 0 else min(step, size))

    def tell(self) -> int:
        return self._data.tell()


def status(call, *args, **kwargs):
    with pytest.raises(ProtocolError) as info:
        call(*args, **kwargs)
    assert isinstance(info.value, ValueError)
    return info.value.status


def close_all(pairs):
    for _, value in pairs:
        if isinstance(value, FileUpload):
            value.close()


def plain(pairs):
    """Pairs with uploads as plain tuples, for comparisons."""
    return [
        (name, tuple(value) if isinstance(value, FileUpload) else value)
        for name, value in pairs
    ]


def parse(body: bytes, boundary: bytes = BOUNDARY, sizes=None, **limits):
    stream = io.BytesIO(body) if sizes is None else Trickle(body, sizes)
    pairs = parse_multipart(stream, boundary, **limits)
    try:
        return plain(pairs)
    finally:
        close_all(pairs)


def part(headers: bytes, content: bytes, boundary: bytes = BOUNDARY) -> bytes:
    return b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"


def close(boundary: bytes = BOUNDARY) -> bytes:
    return b"--" + boundary + b"--\r\n"


# --- Content-Type -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ("", {})),
        ("", ("", {})),
        ("text/html", ("text/html", {})),
        (" Text/HTML ;charset=UTF-8", ("text/html", {"charset": "UTF-8"})),
        (
            'Multipart/Form-Data; Boundary="a b;c"; charset=utf-8',
            ("multipart/form-data", {"boundary": "a b;c", "charset": "utf-8"}),
        ),
        ("a/b; ; junk; x=1; y", ("a/b", {"x": "1"})),
        ("a/b; x=1 2; y=3", ("a/b", {"y": "3"})),
        ('a/b; x="unterminated', ("a/b", {})),
        ("a/b; x=1; X=2", ("a/b", {"x": "1"})),
        ('a/b; p="q\\"r\\\\s\\t"', ("a/b", {"p": 'q"r\\s\\t'})),
        ("a/b;boundary=----x", ("a/b", {"boundary": "----x"})),
    ],
)
def test_parse_content_type(value, expected):
    assert parse_content_type(value) == expected


# --- query strings and urlencoded bodies ----------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", []),
        ("a=1&b=&c&a=2", [("a", "1"), ("b", ""), ("c", ""), ("a", "2")]),
        ("a=1&&b=2&", [("a", "1"), ("b", "2")]),
        ("q=caf%C3%A9+au+lait", [("q", "café au lait")]),
        ("x=%ZZ&y=%&z=%4", [("x", "%ZZ"), ("y", "%"), ("z", "%4")]),
        ("=v&k==", [("", "v"), ("k", "=")]),
        ("%2B=%26", [("+", "&")]),
        ("é=ü", [("é", "ü")]),
    ],
)
def test_parse_query(query, expected):
    assert parse_query(query) == expected


@pytest.mark.parametrize("query", ["a=%FF", "%C3=1", "a=\udcff", "a=\ud800"])
def test_parse_query_invalid_utf8(query):
    assert status(parse_query, query) == 400


def test_parse_urlencoded():
    assert parse_urlencoded(b"a=1+2&b=%E2%82%AC") == [("a", "1 2"), ("b", "€")]
    assert status(parse_urlencoded, b"a=\xff") == 400
    assert status(parse_urlencoded, b"a=%ff") == 400
    assert status(parse_urlencoded, b"\xc3=1") == 400
    assert parse_urlencoded(b"a&&b&", max_fields=2) == [("a", ""), ("b", "")]
    assert status(parse_urlencoded, b"a&b&c", max_fields=2) == 413


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "APPLICATION/X-WWW-FORM-URLENCODED",
    ],
)
def test_parse_form_urlencoded(content_type):
    assert parse_form(content_type, b"a=1&b=x+y") == [("a", "1"), ("b", "x y")]


def test_parse_form_reads_a_stream_from_its_position():
    stream = io.BytesIO(b"skip me|a=1&b=2")
    stream.seek(8)
    assert parse_form("application/x-www-form-urlencoded", stream) == [
        ("a", "1"),
        ("b", "2"),
    ]


def test_parse_form_limits():
    limits = Limits(max_form_memory_bytes=10, max_form_fields=2)
    urlencoded = "application/x-www-form-urlencoded"
    assert parse_form(urlencoded, b"a=1&b=2345", limits) == [("a", "1"), ("b", "2345")]
    assert status(parse_form, urlencoded, b"a=1&b=23456", limits) == 413
    assert status(parse_form, urlencoded, io.BytesIO(b"a=1&b=23456"), limits) == 413
    assert status(parse_form, urlencoded, b"a&b&c", limits) == 413
    body = part(b'Content-Disposition: form-data; name="a"', b"1") * 3 + close()
    multipart_type = "multipart/form-data; boundary=" + BOUNDARY.decode()
    assert status(parse_form, multipart_type, body, limits) == 413


def test_parse_form_other_types():
    assert parse_form(None, b"a=1") == []
    assert parse_form("application/json", b'{"a": 1}') == []
    assert parse_form("text/plain", io.BytesIO(b"a=1")) == []


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; charset=utf-8",
        'multipart/form-data; boundary=""',
        "multipart/form-data; boundary=" + "x" * 201,
    ],
)
def test_parse_form_multipart_needs_a_boundary(content_type):
    body = part(b'Content-Disposition: form-data; name="a"', b"1") + close()
    assert status(parse_form, content_type, body) == 400


# --- multipart ---------------------------------------------------------------------

BROWSER_BODY = (
    b"This is the preamble.\r\n"
    + part(b'content-disposition: form-data; name="title"', "Café ☕".encode())
    + part(
        b'Content-Disposition: form-data; name="upload"; filename="notes.txt"\r\n'
        b"content-type: text/plain; charset=utf-8\r\n"
        b"X-Ignored: yes",
        b"line one\r\nline two\r\n",
    )
    + part(b'Content-Disposition: form-data; name="title"', b"second")
    + part(
        b'Content-Disposition: form-data; name="empty"; filename=""\r\n'
        b"Content-Type: application/octet-stream",
        b"",
    )
    + close()
    + b"This is the epilogue.\r\n--"
    + BOUNDARY
    + b"\r\nnot a part\r\n"
)
BROWSER_PAIRS = [
    ("title", "Café ☕"),
    ("upload", ("notes.txt", "text/plain; charset=utf-8", b"line one\r\nline two\r\n")),
    ("title", "second"),
    ("empty", ("", "application/octet-stream", b"")),
]


def test_browser_body():
    content_type = f'multipart/form-data; boundary="{BOUNDARY.decode()}"'
    pairs = parse_form(content_type, BROWSER_BODY)
    try:
        assert plain(pairs) == BROWSER_PAIRS
        empty = pairs[3][1]
        assert isinstance(empty, FileUpload) and empty.size == 0
        assert empty == FileUpload("", "application/octet-stream", b"")
    finally:
        close_all(pairs)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6, 7, (1, 7, 2, 5), 64 * 1024])
def test_chunk_boundaries(size):
    sizes = size if isinstance(size, tuple) else (size,)
    assert parse(BROWSER_BODY, sizes=sizes) == BROWSER_PAIRS
    assert parse(LOOKALIKE_BODY, sizes=sizes) == [("file", ("x.bin", "a/b", TRICKY))]


TRICKY = (
    b"\r\n--" + BOUNDARY + b"X\r\n"  # a longer boundary
    b"\r\n--" + BOUNDARY[:-1] + b"\r\n"  # a shorter one
    b"\n--" + BOUNDARY + b"\r\n"  # LF only
    b"\r--" + BOUNDARY + b"\r\n"  # CR only
    b"x--" + BOUNDARY + b"\r\n"  # not at a line start
    b"\r\n--" + BOUNDARY + b" x\r\n"  # padding, then junk
    b"\r\n--" + BOUNDARY + b"-\r\n"  # one dash
    b"\r\n--" + BOUNDARY + b"\t \r"  # padding, then a bare CR
    b"\x00\xff" + bytes(range(256)) + b"\r\n\r\n\r"  # CR and LF before the delimiter
)
LOOKALIKE_BODY = (
    part(
        b'Content-Disposition: form-data; name="file"; filename="x.bin"\r\n'
        b"Content-Type: a/b",
        TRICKY,
    )
    + close()
)


def test_file_content_is_byte_exact():
    assert parse(LOOKALIKE_BODY) == [("file", ("x.bin", "a/b", TRICKY))]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # The first delimiter at the very start, transport padding, no final CRLF.
        (
            b"--" + BOUNDARY + b" \t\r\nContent-Disposition: form-data; name=a"
            b"\r\n\r\n1\r\n--" + BOUNDARY + b"--",
            [("a", "1")],
        ),
        # A preamble that starts with CRLF; padding after the close delimiter.
        (
            b"\r\n" + part(b"Content-Disposition: form-data; name=a", b"") + close(),
            [("a", "")],
        ),
        # Only a close delimiter: an empty form.
        (close(), []),
        (b"", []),
        # Headers: folded, with odd spacing, unknown ones ignored.
        (
            part(
                b"Content-Disposition: form-data;\r\n name=a\r\n"
                b"X-Y:z\r\nContent-Type :  c/d ",
                b"v",
            )
            + close(),
            [("a", "v")],
        ),
        # A filename without Content-Type is text/plain; filename* is ignored.
        (
            part(
                b'Content-Disposition: form-data; name=f; filename="a b.txt"; '
                b"filename*=UTF-8''a%20b.txt",
                b"x",
            )
            + close(),
            [("f", ("a b.txt", "text/plain", b"x"))],
        ),
        # Quoted names with escapes; backslashes in a Windows path are kept.
        (
            part(
                b'Content-Disposition: form-data; name="a\\"b"; '
                b'filename="C:\\x\\y.txt"',
                b"x",
            )
            + close(),
            [('a"b', ("C:\\x\\y.txt", "text/plain", b"x"))],
        ),
        # Extra parameters, upper-case type.
        (
            part(b'Content-Disposition: FORM-DATA; foo=bar; name="n"; x="y"', b"v")
            + close(),
            [("n", "v")],
        ),
        # UTF-8 names and filenames, as browsers send them.
        (
            part(
                'Content-Disposition: form-data; name="ñ"; filename="ü.txt"'.encode(),
                b"",
            )
            + close(),
            [("ñ", ("ü.txt", "text/plain", b""))],
        ),
        # A header line that starts like a delimiter but is not one.
        (part(NAME_A + b"\r\n--" + BOUNDARY + b"X: y", b"1") + close(), [("a", "1")]),
        # Transport padding longer than the parser holds is not a delimiter.
        (
            part(NAME_A, b"1\r\n--" + BOUNDARY + b" " * 1100 + b"\r\n") + close(),
            [("a", "1\r\n--" + BOUNDARY.decode() + " " * 1100 + "\r\n")],
        ),
    ],
    ids=[
        "delimiter at start, padding, no final CRLF",
        "CRLF preamble, empty value",
        "close delimiter only",
        "empty body",
        "folded and odd headers",
        "filename without type, filename*",
        "escapes and backslashes",
        "extra parameters",
        "UTF-8 name and filename",
        "delimiter lookalike in headers",
        "overlong padding",
    ],
)
def test_multipart_shapes(body, expected):
    assert parse(body) == expected
    assert parse(body, sizes=(1,)) == expected


D = b"--" + BOUNDARY + b"\r\n"  # a delimiter line at the start of a body
CD = b"Content-Disposition: "
MULTIPART_ERRORS = {
    "no delimiter": (b"no delimiter at all\r\n", 400),
    "longer boundary only": (b"--" + BOUNDARY + b"X\r\n" + NAME_A + b"\r\n\r\n1", 400),
    "no close delimiter": (part(NAME_A, b"1"), 400),
    "ends inside content": (part(NAME_A, b"1")[:-2], 400),
    "ends after a delimiter": (D, 400),
    "ends inside headers": (D + NAME_A, 400),
    "no blank line": (D + NAME_A + b"\r\n--" + BOUNDARY + b"--\r\n", 400),
    "delimiter right after blank line": (D + NAME_A + b"\r\n\r\n" + close(), 400),
    "no headers, no blank line": (D + b"\r\n" + close(), 400),
    "no Content-Disposition": (part(b"", b"1") + close(), 400),
    "only Content-Type": (part(b"Content-Type: text/plain", b"1") + close(), 400),
    "header without colon": (part(b"Content-Disposition form-data; name=a", b"1"), 400),
    "attachment": (part(CD + b"attachment; name=a", b"1") + close(), 400),
    "no name": (part(CD + b"form-data", b"1") + close(), 400),
    "filename only": (part(CD + b"form-data; filename=a", b"1") + close(), 400),
    "empty token name": (part(CD + b"form-data; name=", b"1") + close(), 400),
    "unterminated quote": (part(CD + b'form-data; name="a', b"1") + close(), 400),
    "name not a token": (part(CD + b"form-data; name=a b", b"1") + close(), 400),
    "name without value": (part(CD + b"form-data; name", b"1") + close(), 400),
    "junk after quote": (part(CD + b'form-data; name="a"x', b"1") + close(), 400),
    "two dispositions": (part(NAME_A + b"\r\n" + NAME_A, b"1") + close(), 400),
    "continuation of nothing": (part(b" x: y", b"1") + close(), 400),
    "text not UTF-8": (part(NAME_A, b"caf\xe9") + close(), 400),
    "name not UTF-8": (part(CD + b'form-data; name="\xff"', b"1") + close(), 400),
    "huge part headers": (part(NAME_A + b"; x=" + b"y" * 17000, b"") + close(), 413),
}


@pytest.mark.parametrize(
    ("body", "expected_status"),
    list(MULTIPART_ERRORS.values()),
    ids=list(MULTIPART_ERRORS),
)
def test_multipart_errors(body, expected_status):
    assert status(parse, body) == expected_status
    assert status(parse, body, sizes=(1, 3)) == expected_status


def test_too_many_parts():
    two = part(NAME_A, b"1") + part(NAME_A, b"2")
    assert parse(two + close(), max_fields=2) == [("a", "1"), ("a", "2")]
    assert status(parse, two + part(NAME_A, b"3") + close(), max_fields=2) == 413


def test_text_memory_limit():
    file_part = part(
        b'Content-Disposition: form-data; name="f"; filename="f"', b"x" * 100
    )
    body = part(NAME_A, b"12345") + file_part + part(NAME_A, b"67890") + close()
    assert len(parse(body, max_memory_bytes=10)) == 3
    bigger = part(NAME_A, b"12345") + part(NAME_A, b"678901") + close()
    assert status(parse, bigger, max_memory_bytes=10) == 413
    assert status(parse, bigger, sizes=(1,), max_memory_bytes=10) == 413


def test_empty_boundary_is_refused():
    assert status(parse_multipart, io.BytesIO(close(b"")), b"") == 400


def test_reading_stops_at_the_close_delimiter():
    body = part(NAME_A, b"1") + close() + b"e" * (512 * 1024)
    stream = io.BytesIO(body)
    assert parse_multipart(stream, BOUNDARY) == [("a", "1")]
    assert stream.tell() < len(body)


def test_big_upload_is_spooled_to_disk_and_byte_exact(tmp_path):
    content = bytes(range(256)) * (5 * 4096) + b"\r\n--" + BOUNDARY[:10] + b"\r\n"
    assert len(content) > 5 * 1000 * 1000
    body = (
        part(b'Content-Disposition: form-data; name="big"; filename="big.bin"', content)
        + close()
    )
    content_type = "multipart/form-data; boundary=" + BOUNDARY.decode()
    [(name, upload)] = parse_form(content_type, Trickle(body, (65536, 4093, 7)))
    with upload:
        assert name == "big" and isinstance(upload, FileUpload)
        assert upload._file._rolled  # on disk, not in memory
        assert upload.size == len(content)
        # .file rewinds on each access, so read through one reference.
        stream = upload.file
        digest = hashlib.sha256(b"".join(iter(lambda: stream.read(1 << 16), b"")))
        assert digest.digest() == hashlib.sha256(content).digest()
        upload.save(tmp_path / "copy.bin")
        assert (tmp_path / "copy.bin").read_bytes() == content
        assert upload.content == content


def test_uploads_share_the_memory_budget():
    body = b"".join(
        part(b'Content-Disposition: form-data; name="f"; filename="f%d"' % i, b"x" * 60)
        for i in range(3)
    )
    pairs = parse_multipart(io.BytesIO(body + close()), BOUNDARY, max_memory_bytes=100)
    try:
        in_memory = [isinstance(value._file, io.BytesIO) for _, value in pairs]
        assert in_memory == [True, False, False]
        assert pairs[1][1]._file._rolled and pairs[2][1]._file._rolled
        assert [value.content for _, value in pairs] == [b"x" * 60] * 3
    finally:
        close_all(pairs)


def test_temporary_files_are_closed_after_an_error(monkeypatch):
    created = []

    class Recording(multipart.tempfile.SpooledTemporaryFile):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            created.append(self)

    monkeypatch.setattr(multipart.tempfile, "SpooledTemporaryFile", Recording)
    upload = b'Content-Disposition: form-data; name="f"; filename="f"'
    body = part(upload, b"x" * 50) + part(upload, b"y" * 50)  # no close delimiter
    assert (
        status(parse_multipart, io.BytesIO(body), BOUNDARY, max_memory_bytes=10) == 400
    )
    assert len(created) == 2 and all(spool.closed for spool in created)


# --- FileUpload ---------------------------------------------------------------------


def test_file_upload_is_a_0_0_8_named_tuple():
    upload = FileUpload("a.txt", "text/plain", b"hi")
    filename, content_type, content = upload
    assert (filename, content_type, content) == ("a.txt", "text/plain", b"hi")
    assert upload[0] == "a.txt" and upload[1] == "text/plain" and upload[2] == b"hi"
    assert (
        upload[-1] == b"hi"
        and upload[-3] == "a.txt"
        and upload[1:] == ("text/plain", b"hi")
    )
    with pytest.raises(IndexError):
        upload[3]
    assert len(upload) == 3
    assert upload == ("a.txt", "text/plain", b"hi")
    assert upload == FileUpload(
        filename="a.txt", content_type="text/plain", content=b"hi"
    )
    assert upload != FileUpload("a.txt", "text/plain", b"ho")
    assert upload != FileUpload("a.txt", "text/plain", b"hi!")
    assert upload != "a.txt"
    assert hash(upload) == hash(("a.txt", "text/plain", b"hi"))
    assert (
        repr(upload)
        == "FileUpload(filename='a.txt', content_type='text/plain', content=b'hi')"
    )
    assert FileUpload._fields == ("filename", "content_type", "content")
    assert upload._replace(filename="b") == ("b", "text/plain", b"hi")
    assert upload._asdict() == {
        "filename": "a.txt",
        "content_type": "text/plain",
        "content": b"hi",
    }
    with pytest.raises(AttributeError):
        upload.filename = "x"  # type: ignore[misc]


def test_file_upload_file_access(tmp_path):
    upload = FileUpload("../../etc/passwd", "text/plain", b"abc")
    assert upload.filename == "../../etc/passwd"
    assert upload.content_type == "text/plain"
    assert upload.size == 3
    assert upload.file.read(2) == b"ab"
    assert upload.file.read() == b"abc"  # rewound
    upload.save(str(tmp_path / "a"))
    assert (tmp_path / "a").read_bytes() == b"abc"
    target = io.BytesIO()
    upload.save(target)
    assert target.getvalue() == b"abc"
    assert not (tmp_path / "etc").exists()
    with upload:
        pass
    with pytest.raises(ValueError):
        upload.file.read()


def test_file_upload_from_file():
    spool = io.BytesIO(b"0123456789" * 200)
    spool.seek(5)
    upload = FileUpload.from_file("n", "t", spool)
    assert upload.size == 2000 and upload.file.read(3) == b"012"
    assert (
        repr(upload)
        == "FileUpload(filename='n', content_type='t', content=<2000 bytes>)"
    )
    assert upload.content == b"0123456789" * 200
    upload.close()
    assert spool.closed


# --- 0.0.8 compatibility ------------------------------------------------------


def test_analyze_multipart_form_data():
    pairs = list(analyze_multipart_form_data(BOUNDARY, BROWSER_BODY))
    assert plain(pairs) == BROWSER_PAIRS
    close_all(pairs)
    assert status(lambda: list(analyze_multipart_form_data(BOUNDARY, b"junk"))) == 400


def test_analyze_single_part():
    assert analyze_single_part(NAME_A + b"\r\n\r\nvalue") == ("a", "value")
    name, upload = analyze_single_part(
        b'Content-Disposition: form-data; name="f"; filename="x"\r\n'
        b"Content-Type: image/png\r\n\r\n\x89PNG\r\n--"
    )
    assert (name, upload) == ("f", ("x", "image/png", b"\x89PNG\r\n--"))
    assert status(analyze_single_part, NAME_A + b"\r\nvalue") == 400
    assert status(analyze_single_part, b"Content-Disposition: inline\r\n\r\nv") == 400


def test_analyze_single_part_picks_a_boundary_not_in_the_part(monkeypatch):
    taken = uuid.UUID(int=1)
    boundaries = iter([taken, uuid.UUID(int=2)])
    monkeypatch.setattr(formdata.uuid, "uuid4", lambda: next(boundaries))
    part_bytes = NAME_A + b"\r\n\r\n\r\n--" + taken.hex.encode() + b"--\r\n"
    assert analyze_single_part(part_bytes) == ("a", "\r\n--" + taken.hex + "--\r\n")


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ('form-data; name="a"; filename="b"', ("a", "b")),
        ('form-data; name="a"', ("a", None)),
        ('form-data; name="a"; filename=""', ("a", "")),
        ("form-data; name=a", ("a", None)),
        ('form-data;name="";filename="c.txt"', ("", "c.txt")),
    ],
)
def test_analyze_disposition(disposition, expected):
    assert analyze_disposition(disposition) == expected


@pytest.mark.parametrize(
    "disposition",
    [
        "",
        "form-data",
        "attachment; name=a",
        'form-data; name="a" junk',
        "form-data name=a",
    ],
)
def test_analyze_disposition_errors(disposition):
    assert status(analyze_disposition, disposition) == 400


# --- Hypothesis: round trips and chunking ---------------------------------------------

BCHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?"
LOOKALIKES = [b"\r\n", b"\r", b"\n", b"--", b"\r\n--", b" ", b"\t"]


def quote(text: str) -> bytes:
    return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


no_newlines = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=12,
)
file_bytes = st.lists(
    st.binary(max_size=20) | st.sampled_from(LOOKALIKES), max_size=8
).map(b"".join)
fields = st.lists(
    st.tuples(
        no_newlines,
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
        | st.tuples(
            no_newlines, st.sampled_from(["text/plain", "image/png"]), file_bytes
        ),
    ),
    max_size=6,
)


def build(pairs, boundary: bytes, preamble: bytes, epilogue: bytes) -> bytes:
    body = [preamble]
    for name, value in pairs:
        disposition = b"Content-Disposition: form-data; name=" + quote(name)
        if isinstance(value, tuple):
            filename, content_type, content = value
            headers = disposition + b"; filename=" + quote(filename)
            headers += b"\r\nContent-Type: " + content_type.encode()
        else:
            headers, content = disposition, value.encode()
        body.append(part(headers, content, boundary))
    body.append(close(boundary) + epilogue)
    return b"".join(body)


@settings(max_examples=120, deadline=None)
@given(
    fields,
    st.text(alphabet=BCHARS, min_size=8, max_size=40),
    st.sampled_from([b"", b"preamble\r\n", b"\r\n"]),
    st.sampled_from([b"", b"epilogue\r\n--x--"]),
    st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=5),
)
def test_round_trip(pairs, boundary, preamble, epilogue, sizes):
    boundary = boundary.encode()
    body = build(pairs, boundary, preamble, epilogue)
    for _, value in pairs:
        if isinstance(value, tuple):
            assume(b"--" + boundary not in value[2])
    assert parse(body, boundary, sizes=sizes) == pairs
    assert parse(body, boundary) == pairs


def outcome(body: bytes, sizes) -> object:
    try:
        return parse(body, b"b0", sizes=sizes, max_fields=3, max_memory_bytes=30)
    except ProtocolError as error:
        assert error.status in (400, 413)
        return error.status


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"--b0", b"--b0--", b"\r\n", b"\r", b"\n", b" ", b"--", b"x", b"\xff"]
            + [
                b"Content-Disposition: form-data; name=a",
                b'; filename="f"',
                b"\r\n\r\n",
            ]
        ),
        max_size=25,
    ).map(b"".join),
    st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=4),
)
def test_chunking_never_changes_the_result(body, sizes):
    assert outcome(body, sizes) == outcome(body, None)
