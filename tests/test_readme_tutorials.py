"""The README's two app tutorials (the SQLite reading list, and the app
layer's inventory), run as written.

Each chapter's code blocks are put together into files, in the order the
chapter gives them (Python blocks make ``reading.py`` or ``inventory.py``,
the other blocks the files the text names: templates, style, the chapter's
own test), and that test runs against them; for the reading list, so do
checks of what the text says a reader will see. A change to the text that
breaks the app, or a change to kali that breaks the text, fails here.
"""

from __future__ import annotations

import re
import select
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "## The app layer"

#: Where each code block of the chapter goes, in order. "py" blocks are
#: joined into inventory.py; "summary" is the elided ``make_app`` block, of
#: which only the lines after its "..." line are code to keep.
PLAN = [
    "py",
    "templates/base.tpl",
    "templates/error.tpl",
    "py",
    "py",
    "templates/items.tpl",
    "py",
    "templates/item.tpl",
    "py",
    "templates/confirm.tpl",
    "py",
    "py",
    "summary",
    "test_inventory.py",
]


def chapter_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    chapter = text.split(CHAPTER, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", chapter, re.S)


def after_elision(code: str) -> str:
    lines = code.splitlines(keepends=True)
    start = next(n for n, line in enumerate(lines) if line.strip().startswith("..."))
    return "".join(lines[start + 1 :])


def test_the_app_layer_tutorial_runs_as_written(tmp_path):
    blocks = chapter_blocks()
    assert len(blocks) == len(PLAN), "the chapter's code blocks changed: update PLAN"
    (tmp_path / "templates").mkdir()
    python = []
    for (_, code), target in zip(blocks, PLAN):
        if target == "py":
            python.append(code)
        elif target == "summary":
            python.append(after_elision(code))
        else:
            (tmp_path / target).write_text(code, encoding="utf-8")
    (tmp_path / "inventory.py").write_text("\n".join(python), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


# -- The SQLite tutorial: the reading list -------------------------------------

READING_CHAPTER = "## Tutorial: an SQLite app"

#: Where each code block of the reading-list chapter goes, in order: "py"
#: blocks are joined into reading.py ("summary" as above), the others are
#: the files the text names just before them.
READING_PLAN = [
    "py",
    "templates/base.tpl",
    "templates/books.tpl",
    "py",
    "templates/form.tpl",
    "py",
    "py",
    "templates/confirm.tpl",
    "py",
    "summary",
    "static/style.css",
    "test_reading.py",
]

#: What the chapter says a reader can do, checked on the app it builds. The
#: chapter's own test (test_reading.py) runs beside it.
READING_CLAIMS = """
import re

from kali.testing import Client
from reading import make_app


def open_client(tmp_path):
    app = make_app(tmp_path / "books.sqlite3")
    return app, Client(app)


def test_bad_input_is_shown_as_the_text_says(tmp_path):
    app, client = open_client(tmp_path)
    try:
        page = client.get("/new")
        assert 'type="date"' not in page.text  # a browser lets you type text
        form = page.form()
        form["author"] = "Ursula K. Le Guin"
        form["finished"] = "last week"
        again = form.submit()
        assert again.status == 200 and again.location is None
        text = re.sub(r"<[^>]+>", "", again.text)
        assert "Title: may not be blank." in text
        assert "Finished on: does not look like a date (YYYY-MM-DD)." in text
        assert again.form()["finished"] == "last week"
    finally:
        app.guard.close()


def test_no_placeholder_is_left_unfilled(tmp_path):
    app, client = open_client(tmp_path)
    try:
        for path in ("/", "/new"):
            page = client.get(path)
            assert not re.search(r"[{}]", page.text), page.text
            assert "delete" not in page.text.lower()
    finally:
        app.guard.close()


def test_a_book_page_links_to_its_delete_page(tmp_path):
    app, client = open_client(tmp_path)
    try:
        form = client.get("/new").form()
        form["title"], form["author"] = "Dune", "Frank Herbert"
        listing = form.submit().follow()
        assert '<a href="/book/1">Dune</a>' in listing.text
        book = client.get("/book/1")
        assert '<a href="/book/1/delete">Delete this book…</a>' in book.text
        assert not re.search(r"[{}]", book.text), book.text
        ask = client.get("/book/1/delete")
        assert ask.status == 200 and "Delete “Dune”" in ask.text
        done = ask.form().submit()
        assert done.status_code == 302
        assert "Deleted “Dune”." in done.follow().text
        assert client.get("/book/1").status == 404
    finally:
        app.guard.close()
"""


def blocks_after_text(chapter: str) -> list[tuple[str, str, str]]:
    """(language, code, the text just before the block) for each block."""
    found = []
    end = 0
    for match in re.finditer(r"```(\w+)\n(.*?)```", chapter, re.S):
        found.append((match.group(1), match.group(2), chapter[end : match.start()]))
        end = match.end()
    return found


def build_reading_list(folder: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    chapter = text.split(READING_CHAPTER, 1)[1].split("\n## ", 1)[0]
    blocks = blocks_after_text(chapter)
    assert len(blocks) == len(READING_PLAN), "the chapter's blocks changed"
    (folder / "templates").mkdir()
    (folder / "static").mkdir()
    python = []
    for (language, code, before), target in zip(blocks, READING_PLAN):
        if target in ("py", "summary"):
            assert language == "python"
            python.append(code if target == "py" else after_elision(code))
        else:
            # The text names the file each block goes into, just before it.
            assert Path(target).name in before, (target, before[-200:])
            (folder / target).write_text(code, encoding="utf-8")
    assert "`reading.py`:" in blocks[0][2]
    (folder / "reading.py").write_text("\n".join(python), encoding="utf-8")
    (folder / "test_claims.py").write_text(READING_CLAIMS, encoding="utf-8")


def test_the_reading_list_tutorial_runs_as_written(tmp_path):
    build_reading_list(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout  # test_reading.py's one, and three claims


def test_the_finished_reading_list_prints_its_address(tmp_path):
    build_reading_list(tmp_path)
    home = tmp_path / "home"
    process = subprocess.Popen(
        [sys.executable, "reading.py", "--port", "0", "--no-browser"],
        cwd=tmp_path,
        env={
            "PYTHONPATH": str(ROOT),
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT must reach Python's handler (a background shell job ignores it)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stdout is not None
        # Without run_app nothing is printed: wait a while, not for ever.
        printed, _, _ = select.select([process.stdout], [], [], 20)
        assert printed, "nothing printed within 20 s"
        first = process.stdout.readline()
        assert re.fullmatch(
            r"Serving on http://127\.0\.0\.1:\d+/ \(press Ctrl-C to stop\)\n", first
        ), first + process.stderr.read()  # type: ignore[union-attr]
        with urllib.request.urlopen(first.split()[2], timeout=10) as reply:
            assert reply.status == 200
            assert "My reading list" in reply.read().decode("utf-8")
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0 and "Traceback" not in errors, errors
    assert (home / "data" / "reading-list" / "books.sqlite3").is_file()
