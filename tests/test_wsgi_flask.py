"""A Flask app under ``kali.wsgi.serve_wsgi``, over real HTTP on 127.0.0.1:
server-sent events arrive as they are yielded, ``send_file`` keeps its
length (and goes out as a file), HEAD gives the length the app declares,
and a body that fails or falls short resets the connection.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from wsgi_support import require, serving_wsgi

from kali.request import Request
from kali.wsgi import from_wsgi

flask = require("flask")

PAGE = "<!DOCTYPE html><title>Flask</title>" + "<p>kali serves Flask</p>" * 16
BIG_FILE_BYTES = 5 * 1024 * 1024
#: The functional bound for the first event (bench/bench_wsgi_stream.py
#: measures the real figure, a few milliseconds).
FIRST_EVENT_SECONDS = 0.5


def make_flask_app(folder: Path, gate: threading.Event, yielded: list[float]) -> object:
    app = flask.Flask("kali_test")
    data = folder / "big.bin"
    data.write_bytes(os.urandom(BIG_FILE_BYTES))

    @app.route("/page")
    def page():
        return PAGE

    @app.route("/events")
    def events():
        def stream():
            yielded.append(time.perf_counter())
            yield "data: first\n\n"
            # The test opens the gate only once it has read the first event:
            # a server holding it back would wait here for 10 s.
            gate.wait(10)
            yield "data: second\n\n"

        return flask.Response(stream(), mimetype="text/event-stream")

    @app.route("/big.bin")
    def big():
        return flask.send_file(data)

    @app.route("/fails")
    def fails():
        def stream():
            for _ in range(30):
                yield b"x" * 100_000  # 3 MB, then a failure
            raise RuntimeError("the export failed")

        return flask.Response(stream(), mimetype="application/octet-stream")

    @app.route("/short")
    def short():
        def stream():
            yield b"y" * 1_000_000

        return flask.Response(
            stream(),
            mimetype="application/octet-stream",
            headers={"Content-Length": "3000000"},
        )

    return app


@pytest.fixture
def flask_server(tmp_path):
    gate = threading.Event()
    yielded: list[float] = []
    app = make_flask_app(tmp_path, gate, yielded)
    with serving_wsgi(app) as server:
        yield server, gate, yielded, app
    gate.set()


def fetch(port: int, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        body = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, body
    finally:
        connection.close()


def test_server_sent_events_arrive_as_they_are_yielded(flask_server):
    server, gate, yielded, _ = flask_server
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as client:
        client.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while b"data: first\n\n" not in received:
            data = client.recv(65536)  # socket.timeout if it is held back
            assert data, received
            received += data
        arrived = time.perf_counter()
        assert not gate.is_set()  # the app is still between its two events
        assert arrived - yielded[0] < FIRST_EVENT_SECONDS
        head = received.split(b"\r\n\r\n", 1)[0].lower()
        assert b"content-type: text/event-stream" in head
        assert b"content-length" not in head
        gate.set()
        while True:
            data = client.recv(65536)
            if not data:
                break
            received += data
    assert received.endswith(b"data: first\n\ndata: second\n\n")


def test_send_file_keeps_its_length_and_goes_out_as_a_file(flask_server, tmp_path):
    server, _, _, app = flask_server
    status, headers, body = fetch(server.port, "GET", "/big.bin")
    assert status == 200 and headers["content-length"] == str(BIG_FILE_BYTES)
    assert body == (tmp_path / "big.bin").read_bytes()
    status, headers, body = fetch(server.port, "HEAD", "/big.bin")
    assert status == 200 and body == b""
    assert headers["content-length"] == str(BIG_FILE_BYTES)
    # In-process: Flask hands the file over through wsgi.file_wrapper, and
    # kali sends it as a file (os.sendfile), not 8 KiB at a time.
    response = from_wsgi(app)(
        Request("GET", "/big.bin", "HTTP/1.0", {"host": "localhost"})
    )
    try:
        span = response.file_span
        assert span is not None and span[1:] == (0, BIG_FILE_BYTES)
    finally:
        response.close()
    assert span[0].closed  # Flask's file, closed with the app's iterable


def test_head_gives_the_length_flask_declares(flask_server):
    server, _, _, _ = flask_server
    status, headers, body = fetch(server.port, "HEAD", "/page")
    assert status == 200 and body == b""
    assert headers["content-length"] == str(len(PAGE))
    status, headers, body = fetch(server.port, "GET", "/page")
    assert headers["content-length"] == str(len(PAGE)) and body == PAGE.encode()


@pytest.mark.parametrize("path", ["/fails", "/short"])
def test_a_body_that_fails_or_falls_short_resets_the_connection(
    flask_server, path, caplog
):
    server, _, _, _ = flask_server
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        with caplog.at_level(logging.ERROR, logger="kali"):
            connection.request("GET", path)
            response = connection.getresponse()
            assert response.status == 200
            # Not a clean end: a complete-looking 3 MB body would be a lie.
            with pytest.raises((ConnectionResetError, http.client.IncompleteRead)):
                response.read()
    finally:
        connection.close()
    deadline = time.monotonic() + 10  # the server logs after it resets
    while "failed while being sent" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "failed while being sent" in caplog.text
