"""python -m kali: arguments, the app it builds, and a real run."""

import os
import re
import select
import socket
import subprocess
import sys
import time

import pytest

from kali.__main__ import make_app, parse_args
from kali.testing import Client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = parse_args([])
    assert (args.folder, args.port, args.bind, args.no_browser) == (
        ".",
        8000,
        "127.0.0.1",
        False,
    )
    args = parse_args([str(tmp_path), "--port", "0", "--no-browser", "--bind", "::1"])
    assert (args.port, args.no_browser, args.bind) == (0, True, "::1")


def test_a_bare_number_is_the_port_unless_such_a_folder_exists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = parse_args(["8001"])
    assert (args.folder, args.port) == (".", 8001)
    (tmp_path / "2024").mkdir()
    args = parse_args(["2024"])
    assert (args.folder, args.port) == ("2024", 8000)


@pytest.mark.parametrize(
    "argv",
    [["/definitely/not/here"], ["--port", "70000"], ["--port", "x"], ["70000"]],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        parse_args(argv)
    assert caught.value.code == 2


def test_app_serves_index_or_listing(tmp_path):
    (tmp_path / "a.txt").write_text("A", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.html").write_text("<p>sub</p>", encoding="utf-8")
    (tmp_path / ".env").write_text("SECRET", encoding="utf-8")
    client = Client(make_app(str(tmp_path)))
    assert "a.txt" in client.get("/").text
    assert ".env" not in client.get("/").text
    assert client.get("/a.txt").text == "A"
    assert client.get("/sub/").text == "<p>sub</p>"
    moved = client.get("/sub?x=1")
    assert moved.status == 301 and moved.location == "/sub/?x=1"
    assert client.get("/.env").status == 403
    assert client.get("/../x").status == 404
    assert client.post("/a.txt").status == 405


def http_get(port, target, host=None):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        host = host or f"127.0.0.1:{port}"
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        chunks = []
        while True:
            data = conn.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


@pytest.mark.skipif(os.name != "posix", reason="reads the child's stderr with select")
def test_real_run(tmp_path):
    (tmp_path / "hello.txt").write_text("hello from disk", encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=ROOT, BROWSER="false")
    process = subprocess.Popen(
        [sys.executable, "-m", "kali", str(tmp_path), "--port", "0", "--no-browser"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    try:
        port = None
        seen = b""
        deadline = time.monotonic() + 20
        while port is None and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stderr], [], [], 0.5)
            if ready:
                data = os.read(process.stderr.fileno(), 4096)
                if not data:
                    break
                seen += data
                match = re.search(rb"http://127\.0\.0\.1:(\d+)/", seen)
                if match:
                    port = int(match.group(1))
        assert port, seen.decode(errors="replace")
        assert b"Serving" in seen
        answer = http_get(port, "/hello.txt")
        assert answer.startswith(b"HTTP/1.0 200 ")
        assert answer.endswith(b"hello from disk")
        assert b"content-type: text/plain; charset=utf-8" in answer
        assert http_get(port, "/hello.txt", host="evil.example").startswith(
            b"HTTP/1.0 403 "
        )
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()


@pytest.fixture
def fake_serve(monkeypatch):
    import kali.__main__ as entry

    calls = []
    monkeypatch.setattr(entry.logging, "basicConfig", lambda **options: None)

    def serve_http(app, **options):
        calls.append(options)
        if options["address"] == "192.0.2.1":
            raise OSError("cannot assign requested address")

    monkeypatch.setattr(entry, "serve_http", serve_http)
    return entry, calls


def test_main_serves_the_folder(fake_serve, tmp_path, capsys):
    entry, calls = fake_serve
    assert entry.main([str(tmp_path), "--port", "0", "--no-browser"]) == 0
    assert calls == [{"port": 0, "address": "127.0.0.1", "start": None}]
    assert "Serving" in capsys.readouterr().err
    assert entry.main([str(tmp_path)]) == 0
    assert calls[-1] == {"port": 8000, "address": "127.0.0.1", "start": ""}


def test_main_reports_bind_failure_and_wide_binds(fake_serve, tmp_path, capsys, caplog):
    entry, calls = fake_serve
    assert entry.main([str(tmp_path), "--bind", "192.0.2.1", "--no-browser"]) == 1
    assert "Cannot listen on 192.0.2.1" in capsys.readouterr().err
    assert "other computers may read" in caplog.text


def test_main_ctrl_c_exits_quietly(monkeypatch, tmp_path):
    import kali.__main__ as entry

    monkeypatch.setattr(entry.logging, "basicConfig", lambda **options: None)

    def interrupted(app, **options):
        raise KeyboardInterrupt

    monkeypatch.setattr(entry, "serve_http", interrupted)
    assert entry.main([str(tmp_path), "--no-browser"]) == 0
