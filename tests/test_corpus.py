"""Replay gunicorn's invalid-request corpus against the head parser (and,
for a chunked request, the chunked body decoder).

Every file must be refused with a status from the spec 2.2 table, fed whole
and byte by byte. A few files are invalid only under gunicorn's own, smaller
limits or header policy; those are valid HTTP/1.x for kali and are listed in
ACCEPTED with the reason (the server or a later check still refuses them
where that matters).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kali.chunked import ChunkedDecoder
from kali.errors import ProtocolError
from kali.protocol import HeadParser

# The corpus travels with the tests (tests/corpus/README.md says whence).
CORPUS = Path(__file__).resolve().parent / "corpus" / "gunicorn-invalid"

# Statuses the spec 2.2 table allows the parser to answer with.
TABLE_STATUSES = {400, 413, 414, 431, 501, 505}

EXPECTED = {
    "001.http": 400,  # the client closes mid-head
    "002.http": 400,  # "GET HTTP/1.1": two tokens
    "003.http": 400,  # bare LF
    "003b.http": 400,  # "bla:rgh" is not a token
    "003c.http": 501,  # "-bl" is a token, not a known method
    "004.http": 400,  # FTP/1.1
    "005.http": 400,  # NUL in a header name
    "009.http": 431,  # 103 header fields
    "010.http": 400,  # HTTP/1.1 without Host
    "013.http": 400,  # obs-fold
    "014.http": 400,  # Content-Length: -1
    "015.http": 400,  # Content-Length: bla-bla-bla
    "016.http": 400,  # target "s://]ufd/:"
    "017.http": 400,  # HTTP/1.1 without Host (its 8 KB header is fine for kali)
    "018.http": 400,  # HTTP/111
    "019.http": 400,  # HTTP/1.1 without Host
    "020.http": 400,  # space before the colon
    "021.http": 400,  # two Content-Length
    "022.http": 400,  # Content-Length: -0
    "023.http": 400,  # Content-Length: 0_1
    "024.http": 400,  # Content-Length: +1
    "040.http": 400,  # Content_Length / Transfer_Encoding are ambiguous
    "041.http": 400,  # two Content-Type
    "042.http": 400,  # two Host
    "invalid_field_value_01.http": 400,  # bare LF in a value
    "nonascii_01.http": 400,  # non-ASCII method
    "nonascii_02.http": 400,
    "nonascii_03.http": 400,  # non-ASCII header name
    "nonascii_04.http": 400,
    "obs_fold_01.http": 400,
    # PROXY protocol lines: "PROXY" is a token but no method kali knows.
    "pp_01.http": 501,
    "pp_02.http": 501,
    "pp_03.http": 501,
    "prefix_01.http": 400,  # NUL in the method
    "prefix_02.http": 400,
    "prefix_03.http": 400,  # HTTP/1.1 without Host (and Content-Length: 0 1)
    "prefix_04.http": 400,
    "prefix_05.http": 400,  # "GET:" is not a token
    "prefix_06.http": 400,  # HTTP/1111...1.1
    "rfc9110_field_value_ctl_bel_01.http": 400,
    "rfc9110_field_value_ctl_del_01.http": 400,
    "rfc9112_smuggle_cl_list_form_01.http": 400,  # Content-Length: 5, 5
    "rfc9112_target_asterisk_non_options_01.http": 400,
    "rfc9112_target_authority_non_connect_01.http": 400,
    "rfc9112_target_relative_01.http": 400,
    "version_01.http": 400,  # HTTP/0.99
    "version_02.http": 505,  # HTTP/2.0
}
# Chunked framing: HTTP/1.1 without Host, HTTP/1.0 with Transfer-Encoding,
# chunked not last or twice, with Content-Length, or a malformed chunk line
# (OWS without an extension, no size, a bare LF or CR, a sign) are all 400;
# so is a body that ends before its last chunk's CRLF.
for _name in [f"chunked_{number:02d}.http" for number in range(1, 15)] + [
    "rfc9112_chunked_missing_final_crlf_01.http",
    "rfc9112_chunked_size_minus_sign_01.http",
    "rfc9112_chunked_size_plus_sign_01.http",
    "rfc9112_smuggle_cl_te_chunked_01.http",
]:
    EXPECTED[_name] = 400

# Valid for kali's limits and rules: parsed, with the reason.
ACCEPTED = {
    "006.http": "a 4 KB request line: under kali's 8 KiB (gunicorn allows 4094)",
    "007.http": "an 8 KB header value: kali allows 32 KiB of head (a 12 KB "
    "cookie must pass); gunicorn allows 8190 bytes per field",
    "008.http": "8 KB and 4 KB header values: same as 007",
    "011.http": "'0.0.0.0=5000' is a valid reg-name Host; gunicorn refuses it only "
    "with limit_request_fields=2. kali's Host check answers 403 for it",
    "012.http": "same request as 011 (gunicorn: limit_request_field_size=98)",
    "limit_header_default_01.http": "an 8 KB header in HTTP/1.0: under kali's "
    "limits (gunicorn refuses it at its 8190-byte default field size)",
}
# A trailer field RFC 9110 section 6.5.1 forbids (Content-Length, Host,
# Transfer-Encoding) is harmless where trailers are read and ignored: none
# is ever merged into the headers. The body is "hello" either way.
for _name in ("cl", "host", "te"):
    ACCEPTED[f"rfc9110_trailer_forbidden_{_name}_01.http"] = (
        "trailer fields are checked for syntax and ignored, never merged"
    )


def decode(raw: bytes) -> bytes:
    """SOURCE.md: line breaks are ignored; \\r \\n \\t \\0 and \\xHH are escapes."""
    raw = raw.replace(b"\r", b"").replace(b"\n", b"")
    escapes = {b"\\r": b"\r", b"\\n": b"\n", b"\\t": b"\t", b"\\0": b"\0"}

    def replace(match: re.Match[bytes]) -> bytes:
        text = match.group(0)
        return escapes.get(text) or bytes([int(text[2:], 16)])

    return re.sub(rb"\\x[0-9A-Fa-f]{2}|\\[rnt0]", replace, raw)


def load_request(path: Path) -> bytes:
    """The raw request bytes of one corpus file (test_server_sockets uses it)."""
    return decode(path.read_bytes())


def corpus_files():
    return sorted(path.name for path in CORPUS.glob("*.http"))


def outcome(data: bytes, bytewise: bool):
    """The head (its chunked body, if any, decoded whole) or the status."""
    parser = HeadParser()
    pieces = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    try:
        for index, piece in enumerate(pieces):
            head = parser.feed(piece)
            if head is not None:
                if head.chunked:
                    rest = [parser.trailing, *pieces[index + 1 :]]
                    decode_chunked(rest)
                return head
        parser.eof()
    except ProtocolError as error:
        return error.status
    raise AssertionError("an incomplete head must give 400 at eof")


def decode_chunked(pieces: list[bytes]) -> bytes:
    decoder = ChunkedDecoder()
    body = b""
    for piece in pieces:
        if decoder.done:
            break
        body += decoder.feed(piece)
    decoder.eof()
    return body


def test_corpus_is_present_and_fully_listed():
    names = corpus_files()
    assert len(names) >= 70
    manifest = (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    listed = {line.split("\t")[0] for line in manifest if not line.startswith("#")}
    assert set(names) == listed
    assert set(names) == set(EXPECTED) | set(ACCEPTED)
    assert not set(EXPECTED) & set(ACCEPTED)


def test_decode():
    assert decode(b"GET / HTTP/1.0\\r\\n\nX: \\x07\\t\\0\\n") == (
        b"GET / HTTP/1.0\r\nX: \x07\t\x00\n"
    )


@pytest.mark.parametrize("name", corpus_files())
def test_corpus_file(name):
    data = load_request(CORPUS / name)
    whole = outcome(data, bytewise=False)
    assert outcome(data, bytewise=True) == whole
    if name in ACCEPTED:
        assert not isinstance(whole, int), f"{name} was refused: {whole}"
        return
    assert whole in TABLE_STATUSES
    assert whole == EXPECTED[name]


def test_forbidden_trailers_are_ignored():
    data = load_request(CORPUS / "rfc9110_trailer_forbidden_cl_01.http")
    head = outcome(data, bytewise=False)
    assert head.chunked and head.content_length == 0
    rest = data.partition(b"\r\n\r\n")[2]
    assert decode_chunked([rest]) == b"hello"


def test_accepted_hosts_are_kept_for_the_host_check():
    head = outcome(load_request(CORPUS / "011.http"), bytewise=False)
    assert not isinstance(head, int)
    assert head.host == "0.0.0.0=5000"
