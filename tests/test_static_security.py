"""StaticFolder's edges found by trying it as an attacker (issue 14, item 1):
the index file through a symlink, ``%2f``, a folder without its slash, a
future ``If-Modified-Since``, and what a listing may show."""

from __future__ import annotations

import email.utils
import os
import re
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kali.multidict import Bag
from kali.routing import Router
from kali.static import StaticFolder, is_not_modified
from kali.testing import Client

ROOT = Path(__file__).resolve().parents[1]
SECRET = b"TOP-SECRET-BYTES"

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")


def symlink(target: Path, link: Path) -> None:
    try:
        os.symlink(target, link)
    except OSError:  # Windows without the privilege
        pytest.skip("cannot make symlinks here")


@pytest.fixture
def site(tmp_path):
    """tmp_path/secret.txt outside; tmp_path/site served, with docs/ in it."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "docs" / "readme.txt").write_bytes(b"read me")
    (site / "_private.html").write_bytes(SECRET)
    (site / "sub").mkdir()
    (site / "sub" / "inner.txt").write_bytes(b"inner")
    return site


def client_for(site: Path, **options) -> Client:
    router = Router()
    router.delegate_folder("/files/", StaticFolder(site, **options))
    return Client(router)


# -- 1. the index file passes every check a direct request passes ----------------------


@needs_symlinks
def test_an_index_symlinked_out_of_the_folder_is_404(site, tmp_path):
    symlink(tmp_path / "secret.txt", site / "docs" / "index.html")
    client = client_for(site, index="index.html")
    direct = client.get("/files/docs/index.html")
    through_folder = client.get("/files/docs/")
    assert direct.status == 404
    assert through_folder.status == 404
    assert SECRET not in through_folder.body


@needs_symlinks
def test_an_index_symlinked_to_a_private_name_is_403(site):
    symlink(site / "_private.html", site / "docs" / "index.html")
    client = client_for(site, index="index.html")
    assert client.get("/files/docs/index.html").status == 403
    answer = client.get("/files/docs/")
    assert answer.status == 403 and SECRET not in answer.body


@needs_symlinks
def test_an_index_symlinked_inside_the_folder_is_served(site):
    (site / "home.html").write_bytes(b"<p>home</p>")
    symlink(site / "home.html", site / "docs" / "index.html")
    assert client_for(site, index="index.html").get("/files/docs/").body == (
        b"<p>home</p>"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_an_index_that_is_not_a_regular_file_is_404(site):
    os.mkfifo(site / "docs" / "index.html")
    assert client_for(site, index="index.html").get("/files/docs/").status == 404


def test_an_index_folder_or_no_index_gives_the_listing(site):
    (site / "sub" / "index.html").mkdir()
    client = client_for(site, index="index.html")
    assert "index.html/" in client.get("/files/sub/").text
    assert "readme.txt" in client.get("/files/docs/").text


@pytest.mark.parametrize(
    "index", ["../secret.txt", "a/b.html", "_index.html", ".i", ""]
)
def test_an_index_that_could_never_be_served_is_refused_at_construction(site, index):
    with pytest.raises(ValueError, match="index"):
        StaticFolder(site, index=index)


def read_port(process: subprocess.Popen) -> int:
    """The port ``python -m kali`` logs on stderr ("Listening on URL")."""
    seen = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if ready:
            data = os.read(process.stderr.fileno(), 4096)
            if not data:
                break
            seen += data
            match = re.search(rb"http://127\.0\.0\.1:(\d+)/", seen)
            if match:
                return int(match.group(1))
    raise AssertionError(seen.decode(errors="replace"))


def fetch(url: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


@needs_symlinks
@pytest.mark.skipif(os.name != "posix", reason="reads the child's stderr with select")
def test_python_m_kali_does_not_serve_an_index_symlinked_out(site, tmp_path):
    symlink(tmp_path / "secret.txt", site / "docs" / "index.html")
    process = subprocess.Popen(
        [sys.executable, "-m", "kali", str(site), "--port", "0", "--no-browser"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), "BROWSER": "false"},
    )
    try:
        base = f"http://127.0.0.1:{read_port(process)}"
        assert fetch(base + "/docs/readme.txt") == (200, b"read me")
        status, body = fetch(base + "/docs/")
        assert status == 404 and SECRET not in body
        status, body = fetch(base + "/docs/index.html")
        assert status == 404 and SECRET not in body
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()


# -- 2. %2f ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/files/sub%2Finner.txt", "/files/sub%2finner.txt", "/files%2Fsub/inner.txt"],
)
def test_an_encoded_slash_is_404(site, path):
    client = client_for(site)
    assert client.get("/files/sub/inner.txt").body == b"inner"
    answer = client.get(path)
    assert answer.status == 404 and b"inner" not in answer.body


def test_a_name_with_a_literal_percent_2f_is_still_served(site):
    (site / "100%2fold.txt").write_bytes(b"odd")
    assert client_for(site).get("/files/100%252fold.txt").body == b"odd"


# -- 3. a folder without its slash -----------------------------------------------------


def test_a_folder_without_its_slash_is_redirected_keeping_the_query(site):
    client = client_for(site)
    answer = client.get("/files/sub?sort=name&sort=size&q=a%20b")
    assert answer.status == 301
    assert answer.location == "/files/sub/?sort=name&sort=size&q=a+b"
    assert client.get("/files/sub").location == "/files/sub/"
    assert "inner.txt" in client.get("/files/sub", follow_redirects=True).text


@needs_symlinks
def test_no_redirect_for_a_folder_outside_or_private(site, tmp_path):
    (tmp_path / "outside").mkdir()
    symlink(tmp_path / "outside", site / "out")
    (site / "_hidden").mkdir()
    client = client_for(site)
    assert client.get("/files/out").status == 404
    assert client.get("/files/_hidden").status == 403


# -- 4. a future If-Modified-Since -----------------------------------------------------


def test_a_future_if_modified_since_is_ignored(site):
    client = client_for(site)
    future = email.utils.formatdate(time.time() + 3600, usegmt=True)
    answer = client.get("/files/sub/inner.txt", headers={"If-Modified-Since": future})
    assert answer.status == 200 and answer.body == b"inner"


def test_is_not_modified_compares_with_now():
    headers = Bag([("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")])
    moment = 784111777.0
    assert is_not_modified(headers, '"x"', moment - 10, now=moment + 1)
    assert not is_not_modified(headers, '"x"', moment - 10, now=moment - 1)


# -- 5. listings show regular files and folders only -----------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_listing_shows_no_fifo_socket_or_broken_link(site, tmp_path):
    folder = site / "sub"
    os.mkfifo(folder / "pipe")
    with socket.socket(socket.AF_UNIX) as listener:
        try:
            listener.bind(str(folder / "sock"))
        except OSError:  # path too long for AF_UNIX
            pytest.skip("cannot bind a Unix socket here")
        symlink(folder / "missing", folder / "broken")
        symlink(folder / "pipe", folder / "pipelink")
        symlink(folder / "inner.txt", folder / "inner-link.txt")
        symlink(Path(os.devnull), folder / "null")
        (folder / "deeper").mkdir()
        text = client_for(site).get("/files/sub/").text
    shown = re.findall(r'<a href="([^"]*)">', text)
    assert shown == ["..", "deeper/", "inner-link.txt", "inner.txt"]


def test_an_empty_listing_says_so(site):
    (site / "empty").mkdir()
    assert "This folder is empty." in client_for(site).get("/files/empty/").text
    assert "This folder is empty." not in client_for(site).get("/files/sub/").text
