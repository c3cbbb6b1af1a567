"""examples/guard.py counts its notes in words a person would write."""

from __future__ import annotations

import re

from examples import load_example
from kali.testing import Client


def heading(client):
    return re.search(r"<h2>(.*?)</h2>", client.get("/").text).group(1)


def test_the_count_of_notes_is_singular_for_one(tmp_path):
    app = load_example("guard").make_app(tmp_path / "notes.db")
    try:
        client = Client(app)
        assert heading(client) == "0 saved notes"
        assert client.post("/save", data={"text": "first"}).status == 302
        assert heading(client) == "1 saved note"
        assert client.post("/forget", data={"text": "lost"}).status == 500
        assert heading(client) == "1 saved note"
        assert client.post("/save", data={"text": "second"}).status == 302
        assert heading(client) == "2 saved notes"
    finally:
        app.guard.close()
