"""kali.proxy in front of a real http.server on 127.0.0.1 (port 0).

The upstream server runs in a thread; kali's side runs in-process through
kali.testing.Client, and once end to end through a real kali Server.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from kali import Router
from kali.proxy import Proxy, is_loopback
from kali.testing import Client

BIG_BYTES = 10 * 1024 * 1024
#: Every byte of the big body is its offset modulo 251 (a prime), so a
#: reordered or repeated piece shows.
BIG_PATTERN = bytes(range(251)) * (BIG_BYTES // 251 + 1)


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    release: threading.Event  # set by the fixture: ends /hang

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/base/big":
            self.send_response(200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("content-length", str(BIG_BYTES))
            self.end_headers()
            view = memoryview(BIG_PATTERN)[:BIG_BYTES]
            for start in range(0, BIG_BYTES, 256 * 1024):
                self.wfile.write(view[start : start + 256 * 1024])
        elif self.path == "/base/hang":
            self.release.wait(30)
            self._reply(200, b"too late")
        elif self.path == "/base/short":  # declares more than it sends
            self.send_response(200)
            self.send_header("content-length", "100000")
            self.end_headers()
            self.wfile.write(b"only this")
            self.close_connection = True
        elif self.path == "/base/garbage":
            self.wfile.write(b"this is not HTTP\r\n\r\n")
            self.close_connection = True
        elif self.path == "/base/redirect":
            port = self.server.server_address[1]
            self._reply(302, b"", location=f"http://127.0.0.1:{port}/base/landed?x=1")
        else:
            seen = {
                "method": self.command,
                "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
            }
            self._reply(
                200,
                json.dumps(seen).encode(),
                content_type="application/json",
                connection="close, x-secret",
                x_secret="hop",
                keep_alive="timeout=5",
                x_upstream="yes",
            )

    do_HEAD = do_GET
    do_DELETE = do_GET

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        digest = hashlib.sha256()
        remaining = length
        while remaining:
            piece = self.rfile.read(min(remaining, 1 << 20))
            if not piece:
                break
            digest.update(piece)
            remaining -= len(piece)
        body = json.dumps(
            {
                "length": length,
                "sha256": digest.hexdigest(),
                "type": self.headers.get("content-type"),
            }
        ).encode()
        self._reply(201, body, content_type="application/json")


@pytest.fixture
def upstream() -> Iterator[http.server.ThreadingHTTPServer]:
    release = threading.Event()
    handler = type("Handler", (Upstream,), {"release": release})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


def proxied(upstream, **options: Any) -> Client:
    port = upstream.server_address[1]
    app = Router()
    app.delegate_folder("/api/", Proxy(f"http://127.0.0.1:{port}/base/", **options))

    @app.function("/")
    def home():
        return "home"

    return Client(app)


def test_method_path_query_and_headers_are_forwarded(upstream):
    client = proxied(upstream)
    answer = client.get(
        "/api/a%2Fb/c d",
        query={"q": "é&x"},
        headers={
            "Connection": "x-drop-me",
            "X-Drop-Me": "1",
            "Keep-Alive": "300",
            "TE": "trailers",
            "X-Custom": "kept",
            "Cookie": "session=abc",
        },
    )
    assert answer.status == 200
    seen = answer.json()
    assert seen["method"] == "GET"
    assert seen["path"] == "/base/a%2Fb/c%20d?q=%C3%A9%26x"
    headers = dict(seen["headers"])
    port = upstream.server_address[1]
    assert headers["host"] == f"127.0.0.1:{port}"
    assert headers["x-custom"] == "kept" and headers["cookie"] == "session=abc"
    for dropped in ("x-drop-me", "keep-alive", "te", "connection"):
        assert dropped not in headers
    assert headers["x-forwarded-host"] == "127.0.0.1:8080"  # the Client's Host
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-prefix"] == "/api"
    # The answer's hop-by-hop headers, and those its Connection names, stay behind.
    assert answer.headers["x-upstream"] == "yes"
    for dropped in ("x-secret", "keep-alive", "connection"):
        assert dropped not in answer.headers
    assert answer.headers["content-type"] == "application/json"


def test_head_and_delete_pass_through(upstream):
    client = proxied(upstream)
    assert client.head("/api/x").status == 200
    assert client.delete("/api/x").json()["method"] == "DELETE"


def test_a_10_mb_answer_is_streamed_back(upstream):
    answer = proxied(upstream).get("/api/big")
    assert answer.status == 200
    assert answer.headers["content-length"] == str(BIG_BYTES)  # passed through
    assert len(answer.body) == BIG_BYTES
    assert answer.body == BIG_PATTERN[:BIG_BYTES]


def test_a_10_mb_upload_is_forwarded(upstream):
    client = proxied(upstream)
    body = BIG_PATTERN[:BIG_BYTES]
    answer = client.post(
        "/api/upload", body=body, headers={"Content-Type": "application/x-thing"}
    )
    assert answer.status == 201
    assert answer.json() == {
        "length": BIG_BYTES,
        "sha256": hashlib.sha256(body).hexdigest(),
        "type": "application/x-thing",
    }


def test_a_redirect_into_the_target_is_moved_under_the_prefix(upstream):
    answer = proxied(upstream).get("/api/redirect")
    assert answer.status == 302 and answer.location == "/api/landed?x=1"


def test_a_server_that_is_down_is_a_502(caplog):
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = Router()
    app.delegate_folder("/api/", Proxy(f"http://127.0.0.1:{port}/"))
    answer = Client(app).get("/api/anything")
    assert answer.status == 502
    assert "not answering" in answer.text
    assert any("Proxy GET" in record.getMessage() for record in caplog.records)


def test_a_malformed_answer_is_a_502(upstream):
    assert proxied(upstream).get("/api/garbage").status == 502


def test_a_server_that_hangs_is_a_504_within_the_read_timeout(upstream):
    answer = proxied(upstream, read_timeout=0.3).get("/api/hang")
    assert answer.status == 504 and "did not answer in time" in answer.text


def test_end_to_end_through_a_real_kali_server(upstream, kali_server):
    port = upstream.server_address[1]
    app = Router()
    app.delegate_folder("/api/", Proxy(f"http://localhost:{port}/base"))
    server = kali_server(app)
    with urllib.request.urlopen(server.url + "api/big", timeout=30) as reply:
        assert reply.headers.get("content-length") == str(BIG_BYTES)
        received = hashlib.sha256()
        total = 0
        while piece := reply.read(1 << 20):
            received.update(piece)
            total += len(piece)
    assert total == BIG_BYTES
    assert received.hexdigest() == hashlib.sha256(BIG_PATTERN[:BIG_BYTES]).hexdigest()
    body = BIG_PATTERN[:BIG_BYTES]  # spooled to a file by the server, then streamed
    upload = urllib.request.Request(
        server.url + "api/up",
        data=body,
        method="POST",
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(upload, timeout=30) as reply:
        assert reply.status == 201
        assert json.load(reply)["sha256"] == hashlib.sha256(body).hexdigest()
    with urllib.request.urlopen(server.url + "api/who", timeout=10) as reply:
        headers = dict(json.load(reply)["headers"])
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-host"] == f"127.0.0.1:{server.port}"


@pytest.mark.parametrize(
    "target",
    [
        "http://example.org/",
        "http://192.168.1.10:8000/",
        "http://10.0.0.1/",
        "https://127.0.0.1/",
        "ftp://127.0.0.1/",
        "127.0.0.1:8000",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1/?q=1",
        "http://user@127.0.0.1/",
    ],
)
def test_targets_off_this_machine_or_malformed_are_refused(target):
    with pytest.raises(ValueError):
        Proxy(target)


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:5173",
        "http://127.9.8.7/",
        "http://localhost:8000/legacy/",
        "http://[::1]:8000/",
        "http://app.localhost:3000/",
    ],
)
def test_loopback_targets_are_accepted(target):
    assert Proxy(target).host


def test_another_host_only_when_the_app_allows_it():
    proxy = Proxy("http://build-box.lan:8000/", allow_hosts=["build-box.lan"])
    assert proxy.authority == "build-box.lan:8000"
    with pytest.raises(TypeError):
        Proxy("http://build-box.lan/", allow_hosts="build-box.lan")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Proxy("http://127.0.0.1/", read_timeout=0)


def test_is_loopback():
    assert (
        is_loopback("127.0.0.1") and is_loopback("[::1]") and is_loopback("LOCALHOST")
    )
    assert (
        not is_loopback("example.org") and not is_loopback("::") and not is_loopback("")
    )


def test_a_proxy_failure_is_shown_by_the_apps_error_page(upstream):
    port = upstream.server_address[1]
    app = Router()
    app.delegate_folder(
        "/api/", Proxy(f"http://127.0.0.1:{port}/base/", read_timeout=0.3)
    )

    def error_page(request, status, message):
        return f"<p>custom {status}: {message}</p>"

    answer = Client(app, error_page=error_page).get("/api/hang")
    assert answer.status == 504
    assert answer.text.startswith("<p>custom 504: The server behind")


def test_an_upstream_body_short_of_its_length_is_a_reset_not_a_clean_end(
    upstream, kali_server
):
    port = upstream.server_address[1]
    app = Router()
    app.delegate_folder("/api/", Proxy(f"http://127.0.0.1:{port}/base"))
    server = kali_server(app)
    with urllib.request.urlopen(server.url + "api/short", timeout=30) as reply:
        assert reply.headers.get("content-length") == "100000"
        with pytest.raises((http.client.IncompleteRead, ConnectionError)):
            reply.read()
