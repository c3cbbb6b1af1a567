"""examples/contacts_form.py takes a photo by what its bytes are, not by its
name or the type the browser gave it, and states its size limit in MiB."""

from __future__ import annotations

import struct
import zlib

import pytest

from examples import load_example
from kali.testing import Client

contacts_form = load_example("contacts_form")

NOT_A_PICTURE = "is not a PNG, JPEG or GIF picture (whatever its name says)."


def tiny_png() -> bytes:
    """A valid 1×1 white PNG, built here."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\xff\xff")  # filter 0, one white pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


TINY_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
JPEG_START = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


@pytest.fixture
def client(tmp_path):
    return Client(contacts_form.make_app(str(tmp_path)))


def add_contact(client, photo):
    form = client.get("/new").form()
    form["name"] = "Ada"
    form["photo"] = photo
    return form.submit()


@pytest.mark.parametrize(
    "photo",
    [
        ("notes.png", b"just some text, not a picture\n", "image/png"),
        ("notes.png", b"", "image/png"),  # an empty file that has a name
        ("half.png", b"\x89PNG\r\n", "image/png"),  # a signature cut short
        ("page.gif", b"<html>GIF89a</html>", "image/gif"),
    ],
)
def test_a_file_that_is_not_a_picture_is_refused_with_a_message(client, photo):
    answer = add_contact(client, photo)
    assert answer.status == 200 and answer.location is None  # the form again
    assert f"<strong>Photo</strong>: {NOT_A_PICTURE}" in answer.text
    assert answer.form()["name"] == "Ada"  # what was typed is kept
    assert "No contacts yet." in client.get("/").text


@pytest.mark.parametrize(
    "photo, media_type",
    [
        (("dot.png", tiny_png(), "image/png"), "image/png"),
        (("dot.gif", TINY_GIF, "image/gif"), "image/gif"),
        (("photo.jpg", JPEG_START + b"\x00" * 64, "image/jpeg"), "image/jpeg"),
        # Named and labelled as a PNG, but a GIF: stored and served as a GIF.
        (("dot.png", TINY_GIF, "image/png"), "image/gif"),
        # A browser that labels it vaguely: the bytes decide.
        (("dot", tiny_png(), "application/octet-stream"), "image/png"),
    ],
)
def test_a_real_picture_is_taken_and_served_as_what_it_is(
    client, tmp_path, photo, media_type
):
    answer = add_contact(client, photo)
    assert answer.status == 302, answer.text
    assert '<img class="photo" src="/photo/1"' in client.get("/").text
    served = client.get("/photo/1")
    assert served.status == 200 and served.content_type == media_type
    assert served.body == photo[1]
    stored = [path.suffix for path in tmp_path.iterdir()]
    assert stored == [contacts_form.PHOTO_TYPES[media_type]]


def test_too_big_a_photo_is_refused_in_mib(client):
    big = tiny_png() + b"\x00" * (2 * 1024 * 1024)
    answer = add_contact(client, ("big.png", big, "image/png"))
    assert "<strong>Photo</strong>: is too large (at most 2 MiB)." in answer.text
    assert " MB" not in answer.text
    just_fits = tiny_png().ljust(2 * 1024 * 1024, b"\x00")
    assert add_contact(client, ("fits.png", just_fits, "image/png")).status == 302


def test_the_file_chooser_is_told_which_pictures_to_offer(client):
    page = client.get("/new").text
    assert 'accept="image/gif,image/jpeg,image/png"' in page
