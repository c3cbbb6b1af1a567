"""The error boundary: no request and no handler failure stops the loop.

Each case is sent over a real loopback socket to a running server; after
each, the same server must still answer an honest request.
"""

from __future__ import annotations

import socket
import threading

import pytest

from kali.errors import HTTPError
from kali.protocol import is_valid_authority, url_origin
from kali.response import Response
from kali.server import Server


def app(request):
    if request.path == ["echo-header"]:
        raise HTTPError(400, "bad", headers={"x-echo": request.GET.get("v", "")})
    if request.path == ["bad-name"]:
        raise HTTPError(400, "bad", headers={"bad name": "x"})
    if request.path == ["bad-status"]:
        raise HTTPError(1234, "odd")
    if request.path == ["url"]:
        return [request.url.path]
    if request.path == ["body-fails"]:

        def chunks():
            yield b"start"
            raise RuntimeError("mid-body")

        return Response.stream(chunks())
    return ["ok"]


def failing_error_page(request, status, message):
    raise RuntimeError("the error page fails too")


@pytest.fixture
def server():
    server = Server(app, port=0)
    server.bind()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stop()
    thread.join(10)
    assert not thread.is_alive()


def exchange(server, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply else 0


def still_serving(server) -> None:
    reply = exchange(server, b"GET / HTTP/1.0\r\n\r\n")
    assert status(reply) == 200 and reply.endswith(b"ok")


ATTACKS = [
    b"GET http://[zz]/ HTTP/1.0\r\n\r\n",
    b"GET http://[1.2.3.4]/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: [zz]\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: [1.2.3.4]:80\r\n\r\n",
    b"POST / HTTP/1.0\r\nReferer: http://[zz]/\r\nContent-Length: 0\r\n\r\n",
    b"POST / HTTP/1.0\r\nReferer: http://[\r\nContent-Length: 0\r\n\r\n",
    b"POST / HTTP/1.0\r\nReferer: http://[::1/\r\nContent-Length: 0\r\n\r\n",
    b"POST / HTTP/1.0\r\nOrigin: http://[zz]\r\nContent-Length: 0\r\n\r\n",
    b"GET http://user@127.0.0.1/ HTTP/1.0\r\n\r\n",
]


@pytest.mark.parametrize("data", ATTACKS)
def test_malformed_url_fields_get_a_4xx_and_the_loop_goes_on(server, data):
    assert 400 <= status(exchange(server, data)) < 500
    still_serving(server)


@pytest.mark.parametrize(
    "path",
    [
        "/echo-header?v=a%0d%0aSet-Cookie:%20x=1",
        "/echo-header?v=a%0ab",
        "/bad-name",
        "/bad-status",
    ],
)
def test_a_bad_error_response_gets_a_500_and_the_loop_goes_on(server, path):
    reply = exchange(server, f"GET {path} HTTP/1.0\r\n\r\n".encode())
    assert status(reply) == 500
    assert b"Set-Cookie" not in reply
    still_serving(server)


def test_a_failing_error_page_falls_back_and_the_loop_goes_on():
    server = Server(app, port=0, error_page=failing_error_page)
    server.bind()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reply = exchange(server, b"GET /echo-header?v=x%0d%0ay HTTP/1.0\r\n\r\n")
        assert status(reply) == 500
        still_serving(server)
    finally:
        server.stop()
        thread.join(10)


def test_a_body_failing_mid_way_resets_and_the_loop_goes_on(server):
    reply = exchange(server, b"GET /body-fails HTTP/1.0\r\n\r\n")
    assert not reply.endswith(b"ok")
    still_serving(server)


def test_an_origin_form_target_that_looks_like_a_host_is_a_path(server):
    reply = exchange(server, b"GET //[zz]/url HTTP/1.0\r\n\r\n")
    assert status(reply) == 404 or status(reply) == 200
    still_serving(server)


def test_an_unexpected_failure_in_a_step_is_caught(server, monkeypatch):
    def broken_check(*args):
        raise LookupError("a bug in a step before the handler")

    assert server.policy is not None
    monkeypatch.setattr(server.policy, "check", broken_check)
    reply = exchange(server, b"GET / HTTP/1.0\r\n\r\n")
    assert status(reply) == 500
    monkeypatch.undo()
    still_serving(server)


@pytest.mark.parametrize(
    ("authority", "valid"),
    [
        ("127.0.0.1:8080", True),
        ("[::1]:80", True),
        ("[::1]", True),
        ("localhost", True),
        ("[zz]", False),
        ("[1.2.3.4]", False),
        ("[", False),
        ("user@host", False),
        ("host:port", False),
    ],
)
def test_authority_grammar(authority, valid):
    assert is_valid_authority(authority) is valid


def test_url_origin():
    assert url_origin("http://127.0.0.1:80/x?y#z") == ("http", "127.0.0.1:80")
    assert url_origin("HTTP://[::1]") == ("http", "[::1]")
    assert url_origin("http://[") is None
    assert url_origin("http://[zz]/") is None
    assert url_origin("/relative") is None
