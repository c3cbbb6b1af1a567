"""kali apps under real WSGI servers: the datebook (examples/datebook) through
``kali.wsgi.to_wsgi`` under gunicorn with two worker processes and under
waitress, each started by the test as a subprocess on 127.0.0.1 and a free
port, used through real HTTP with cookies, and stopped by its handle.
"""

from __future__ import annotations

import html
import http.client
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from wsgi_support import (
    EXAMPLES,
    Browser,
    python,
    require,
    server_process,
    subprocess_environment,
)

#: The WSGI entry point a deployment writes: the datebook as a WSGI
#: application. Each answer names the worker process that made it, so the
#: test can see that both of gunicorn's workers took part.
ENTRY = f"""
import os
import sys

sys.path.insert(0, {str(EXAMPLES)!r})

from datebook import error_page, make_app
from kali.wsgi import to_wsgi

_datebook = to_wsgi(
    make_app(os.environ["DATEBOOK_DB"], os.environ["DATEBOOK_FILES"]),
    error_page=error_page,
)


def application(environ, start_response):
    def start(status, headers, exc_info=None):
        headers = [*headers, ("X-Worker", str(os.getpid()))]
        return start_response(status, headers, exc_info)

    return _datebook(environ, start)
"""

SERVERS = {
    "gunicorn": (
        ["-m", "gunicorn", "--workers", "2", "--bind", "127.0.0.1:0"],
        r"Listening at: http://127\.0\.0\.1:(?P<port>[0-9]+)",
    ),
    "waitress": (
        ["-m", "waitress", "--listen=127.0.0.1:0"],
        r"Serving on http://127\.0\.0\.1:(?P<port>[0-9]+)",
    ),
}

#: New-contact forms filled in per server (issue 16: 8-10 of 20 came back
#: "This form had expired" under gunicorn -w 2 before the signed tokens).
FORMS = 20
CONTACT = {"email": "", "phone": "", "birthday": "", "notes": ""}


def add_contacts(
    browser: Browser, count: int, first: int = 0
) -> tuple[set[str], str, str]:
    """Fill in ``count`` new-contact forms (people numbered from ``first``,
    so that every name is new); returns the worker ids seen, and the last
    contact's path and name."""
    workers: set[str] = set()
    path = name = ""
    for number in range(first, first + count):
        status, _, form, headers = browser.request("/contacts/new")
        assert status == 200, form
        workers.add(headers["x-worker"])
        token = re.search(r'name="submit_token" value="([^"]+)"', form)
        assert token is not None, form
        name = f"Person {number} — Zoë"
        status, url, page, headers = browser.request(
            "/contacts/new",
            data={"name": name, "submit_token": token.group(1), **CONTACT},
        )
        workers.add(headers["x-worker"])
        assert "expired" not in page, f"form {number} expired: {page}"
        assert status == 200 and re.search(r"/contacts/[0-9]+\Z", url), page
        # The message comes through the session, saved by whichever worker
        # took the POST and read by whichever shows the page.
        assert f"Added “{name}”." in html.unescape(page), page
        path = url[len(browser.base) :]
    return workers, path, name


def raw_status(port: int, method: str, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = b"name=x" if method == "POST" else None
        connection.request(method, "/contacts/new", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_the_datebook_under_a_real_wsgi_server(server: str, tmp_path: Path) -> None:
    require(server)
    (tmp_path / "datebook_wsgi.py").write_text(ENTRY, encoding="utf-8")
    database = tmp_path / "data" / "datebook.sqlite3"
    database.parent.mkdir()
    environment = subprocess_environment(
        DATEBOOK_DB=str(database), DATEBOOK_FILES=str(tmp_path / "files")
    )
    # Prepare the data folder once (the database, its search indexes and the
    # secret file), as a deployment does before it starts the workers: two
    # workers opening a fresh datebook at the same moment race in the schema
    # set-up ("table contact_search already exists"; see the report).
    subprocess.run(
        python("-c", "import datebook_wsgi"),
        cwd=tmp_path,
        env=environment,
        check=True,
        capture_output=True,
        timeout=120,
    )
    arguments, ready = SERVERS[server]
    with server_process(
        python(*arguments, "datebook_wsgi:application"),
        ready=ready,
        cwd=tmp_path,
        environment=environment,
    ) as process:
        assert process.port is not None
        browser = Browser(process.port)
        status, _, page, _ = browser.request("/")
        assert status == 200, page
        workers, path, name = add_contacts(browser, FORMS)
        if server == "gunicorn":
            # Requests go to whichever worker accepts first: go on until
            # both have answered (in practice they take turns quickly).
            extra = 0
            while len(workers) < 2 and extra < 5:
                more, path, name = add_contacts(browser, 10, FORMS + 10 * extra)
                workers |= more
                extra += 1
            assert len(workers) == 2, f"one worker answered everything: {workers}"
        status, _, form, _ = browser.request(path + "/edit")
        assert status == 200 and name in html.unescape(form)
        status, url, page, _ = browser.request(
            path + "/edit", data={"name": "Renamed", **CONTACT}
        )
        assert url.endswith(path) and "Saved “Renamed”." in html.unescape(page)
        # kali's localhost policy holds under the WSGI server too.
        host = f"127.0.0.1:{process.port}"
        assert raw_status(process.port, "GET", {"Host": "evil.example"}) == 403
        cross = {"Host": host, "Origin": "http://evil.example"}
        assert raw_status(process.port, "POST", cross) == 403
    connection = sqlite3.connect(database)
    try:
        names = [row[0] for row in connection.execute("SELECT name FROM contact")]
    finally:
        connection.close()
    assert "Renamed" in names and len(names) == len(set(names)) >= FORMS
