"""kali.downloads: download names that are always one safe header, and CSV
exports that stream and do not run formulas."""

import csv
import io
import re
import urllib.parse

import pytest

from kali import Router
from kali.downloads import (
    content_disposition,
    csv_chunks,
    download,
    download_csv,
    download_file,
    guard_formula,
)
from kali.sqlite import connect
from kali.testing import Client

# RFC 6266 / 8187: the whole value, as this module writes it.
DISPOSITION = re.compile(
    r"(attachment|inline); filename=\"([ -!#-\[\]-~]*)\";"
    r" filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]*)\Z"
)


def parts(value):
    match = DISPOSITION.match(value)
    assert match, value
    kind, fallback, encoded = match.groups()
    return kind, fallback, urllib.parse.unquote(encoded, errors="strict")


@pytest.mark.parametrize(
    "name, fallback, full",
    [
        ("report.pdf", "report.pdf", "report.pdf"),
        ('say "hi".txt', "say _hi_.txt", 'say "hi".txt'),
        ("back\\slash.txt", "slash.txt", "slash.txt"),  # a Windows path's last part
        ("../../etc/passwd", "passwd", "passwd"),
        ("Bericht März 2024.pdf", "Bericht Marz 2024.pdf", "Bericht März 2024.pdf"),
        ("東京.csv", "download.csv", "東京.csv"),
        ("evil\r\nSet-Cookie: a=b.txt", "evilSet-Cookie_ a=b.txt",
         "evilSet-Cookie: a=b.txt"),
        ("50%.txt", "50_.txt", "50%.txt"),
        ("..", "download", "download"),
        ("", "download", "download"),
        (" .hidden. ", "hidden", "hidden"),
        ("tab\there\u2028.txt", "tabhere.txt", "tabhere.txt"),
        ("emoji 🙂.png", "emoji.png", "emoji 🙂.png"),
    ],
)  # fmt: skip
def test_any_name_becomes_one_safe_header_value(name, fallback, full):
    value = content_disposition(name)
    assert "\r" not in value and "\n" not in value and value.isascii()
    assert parts(value) == ("attachment", fallback, full)


def test_inline_disposition():
    assert parts(content_disposition("a.png", inline=True))[0] == "inline"


@pytest.fixture
def client(tmp_path):
    path = tmp_path / "stored.bin"
    path.write_bytes(b"\x00file content")
    db = connect(tmp_path / "export.db")
    db.execute("CREATE TABLE contact (name TEXT, email TEXT, amount REAL)")
    db.executemany(
        "INSERT INTO contact VALUES (?, ?, ?)",
        [("Zoë", '=HYPERLINK("http://x")', -12.5), ('Ben, "B"', None, 3)]
        + [(f"p{i}", f"p{i}@x", i) for i in range(1200)],
    )
    db.commit()
    router = Router()
    router.delegate("/bytes", lambda request: download("héllo", 'Grüße "du".txt'))
    router.delegate("/file", lambda request: download_file(path, "Ärger\r\n.bin"))
    router.delegate("/plain", lambda request: download_file(path))
    router.delegate(
        "/csv",
        lambda request: download_csv(
            db.execute("SELECT * FROM contact"), "Kontakte.csv", bom=True
        ),
    )
    yield Client(router)
    db.close()


def test_bytes_download(client):
    answer = client.get("/bytes")
    assert answer.body == "héllo".encode()
    assert parts(answer.headers["content-disposition"])[2] == 'Grüße "du".txt'
    assert answer.headers["content-type"] == "application/octet-stream"


def test_file_download_streams_the_file_under_its_new_name(client):
    answer = client.get("/file")
    assert answer.body == b"\x00file content"
    assert parts(answer.headers["content-disposition"])[1:] == (
        "Arger.bin",
        "Ärger.bin",
    )
    plain = client.get("/plain")
    assert parts(plain.headers["content-disposition"])[2] == "stored.bin"


def test_a_file_object_needs_a_name():
    with pytest.raises(TypeError):
        download_file(io.BytesIO(b"x"))


def test_csv_download_streams_with_header_bom_and_guarded_cells(client):
    answer = client.get("/csv")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert "content-length" not in answer.headers  # streamed
    assert parts(answer.headers["content-disposition"])[2] == "Kontakte.csv"
    assert answer.body.startswith(b"\xef\xbb\xbfname,email,amount\r\n")
    rows = list(csv.reader(io.StringIO(answer.body.decode("utf-8-sig"))))
    assert rows[1] == ["Zoë", '\'=HYPERLINK("http://x")', "-12.5"]
    assert rows[2] == ['Ben, "B"', "", "3.0"]
    assert len(rows) == 1203


def test_csv_comes_in_chunks_of_rows():
    chunks = list(csv_chunks(([i] for i in range(1001)), ["n"], chunk_rows=500))
    assert len(chunks) == 3 and chunks[0].startswith(b"n\r\n0\r\n")


@pytest.mark.parametrize(
    "value, safe",
    [
        ("=1+2", "'=1+2"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=x", "'\t=x"),
        ("\r=x", "'\r=x"),
        ("  =x", "'  =x"),
        ("-12.5", "-12.5"),
        ("+41", "+41"),
        ("1e5", "1e5"),
        ("plain", "plain"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_formula_guard(value, safe):
    assert guard_formula(value) == safe


def test_the_guard_can_be_turned_off_and_values_are_converted():
    rows = [["=1+2", None, b"caf\xc3\xa9", 2.5]]
    text = b"".join(csv_chunks(rows, guard_formulas=False)).decode()
    assert text == "=1+2,,café,2.5\r\n"


def test_download_refuses_other_types():
    with pytest.raises(TypeError):
        download(42, "x")
