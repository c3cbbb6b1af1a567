"""kali's own pages (errors, listings, ``swear``) are calm and plain: they
name no Python or kali version (issue 14 item 8), say their title once,
are the same bytes every time, and escape whatever they reflect."""

from __future__ import annotations

import contextlib
import platform
import sys

import pytest

import kali
from kali.protocol import Limits
from kali.response import Response
from kali.routing import Router
from kali.sqlite import connect, transaction_guard
from kali.static import StaticFolder
from kali.testing import Client

FORBIDDEN = ("Python Version", "Kali version", sys.version, platform.python_version())


def assert_no_versions(text: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, secret
    assert f"{kali.__version__}<" not in text and f" {kali.__version__}" not in text
    assert "<pre style" not in text  # the old black box


@pytest.fixture
def client(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "a.txt").write_text("a", encoding="utf-8")
    router = Router()
    router.delegate_folder("/files/", StaticFolder(tmp_path / "site"))

    @router.function("/add")
    def add(a: int, b: int):
        return str(a + b)

    @router.function("/fail")
    def fail():
        raise RuntimeError("boom <b>")

    @router.servlet("/echo")
    class Echo:
        def do_POST(self, request):
            return str(len(request.POST))  # reading the form applies its limits

    return router


def pages(router):
    """The status and text of each default page, through kali's pipeline."""
    client = Client(router, limits=Limits(max_form_memory_bytes=10))
    answers = {
        "404": client.get("/missing"),
        "403 static": client.get("/files/_private"),
        "403 cross-site": client.post(
            "/echo", data={"x": "1"}, headers={"Sec-Fetch-Site": "cross-site"}
        ),
        "400": client.get("/add", query={"a": "1"}),
        "405": client.post("/files/a.txt"),
        "413": client.post("/echo", data={"x": "y" * 100}),
        "500": client.get("/fail"),
        "listing": client.get("/files/"),
    }
    return answers


EXPECTED = {
    "404": 404,
    "403 static": 403,
    "403 cross-site": 403,
    "400": 400,
    "405": 405,
    "413": 413,
    "500": 500,
    "listing": 200,
}


def test_no_default_page_names_a_version(client):
    for name, answer in pages(client).items():
        assert answer.status == EXPECTED[name], name
        assert answer.text.startswith("<!DOCTYPE html>"), name
        assert_no_versions(answer.text)
        assert "<style>" in answer.text and "http://" not in answer.text


def test_default_pages_are_deterministic(client):
    debug = Client(client, debug=True)
    first = {name: answer.body for name, answer in pages(client).items()}
    second = {name: answer.body for name, answer in pages(client).items()}
    assert first == second
    assert len({debug.get("/fail").body for _ in range(8)}) == 1


def test_the_debug_page_shows_the_trace_but_no_version(client):
    answer = Client(client, debug=True).get("/fail")
    assert answer.status == 500
    assert "Traceback" in answer.text and "boom &lt;b&gt;" in answer.text
    assert "<b>" not in answer.text.split("<main>")[1]
    assert_no_versions(answer.text)


def test_the_404_says_its_title_once_then_a_sentence(client):
    text = Client(client).get("/missing").text
    main = text.split("<main>")[1]
    assert main.count("Not Found") == 1  # the heading, not the body again
    assert "There is no page at this address." in main


def test_reflected_text_is_escaped():
    page = Response.error_page(400, "<script>alert(1)</script>").body.decode()
    assert "<script>" not in page and "&lt;script&gt;" in page
    titled = Response.generic("body", title="<i>x</i>").body.decode()
    assert "<i>" not in titled


def test_the_forgotten_commit_page_has_one_calm_title(tmp_path):
    with contextlib.closing(connect(tmp_path / "app.db")) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        router = Router()

        @router.function("/forget")
        def forget():
            db.execute("INSERT INTO notes VALUES ('x')")
            return "done"

        client = Client(transaction_guard(router, db))
        first, second = client.get("/forget"), client.get("/forget")
    assert first.status == 500 and first.body == second.body
    assert "<title>Something went wrong</title>" in first.text
    assert "!</title>" not in first.text
    assert "never called <code>commit()</code>" in first.text
    assert_no_versions(first.text)
