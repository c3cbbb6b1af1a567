"""The error boundary: no request and no handler failure stops the loop.

Each case is sent over a real loopback socket to a running server; after
each, the same server must still answer an honest request.
"""

from __future__ import annotations

import dataclasses
import socket
import threading

import pytest

from kali.errors import HTTPError, ProtocolError
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


# -- the one pipeline (kali.handling.Pipeline) ---------------------------------

from kali.handling import AppOptions, Pipeline, PlainHead, app_options  # noqa: E402
from kali.security import SecurityPolicy  # noqa: E402


def get_head(target="/", method="GET", headers=()):
    return PlainHead(method, target, "HTTP/1.0", [("host", "127.0.0.1:8080"), *headers])


def test_the_pipeline_answers_and_hands_back_the_request():
    pipeline = Pipeline(app)
    answer = pipeline.handle(get_head("/url?x=1"))
    assert answer.response.code == 200 and answer.response.body == b"/url"
    assert answer.request is not None and answer.request.GET["x"] == "1"
    answer.close()


def test_a_refused_request_never_reads_its_body():
    policy = SecurityPolicy.for_server("127.0.0.1", 8080)
    read = []

    def read_body():
        read.append(1)
        return b"a=1"

    head = get_head("/", "POST", [("origin", "http://evil.example")])
    answer = Pipeline(app).handle(head, read_body, policy)
    assert answer.response.code == 403 and answer.request is None
    assert not read


def test_a_bad_body_is_its_4xx_page_rendered_by_the_app():
    def read_body():
        raise ProtocolError("The request body took too long.", 408)

    def page(request, status, message):
        return Response(f"app page {status}: {message}", code=status)

    pipeline = Pipeline(app, AppOptions(error_page=page))
    answer = pipeline.handle(get_head("/", "POST"), read_body)
    assert answer.response.code == 408
    assert answer.response.body == b"app page 408: The request body took too long."


def test_what_the_callers_reader_raises_is_the_callers():
    """A connection that went away is the caller's business, not a page."""

    def read_body():
        raise ConnectionResetError("gone")

    with pytest.raises(ConnectionResetError):
        Pipeline(app).handle(get_head("/", "POST"), read_body)


def test_a_failing_security_check_is_a_500_not_an_escape(caplog):
    class Broken(SecurityPolicy):
        def check(self, method, target, headers):
            raise LookupError("a bug in the check")

    policy = Broken(port=8080, allowed_hosts=None)
    answer = Pipeline(app).handle(get_head(), policy=policy)
    assert answer.response.code == 500 and answer.request is None
    assert "a bug in the check" in caplog.text
    assert b"a bug" not in answer.response.body


def test_a_bad_target_is_a_400_from_building_the_request():
    answer = Pipeline(app).handle(get_head("/%ff"))
    assert answer.response.code == 400 and answer.request is None


def test_rendering_an_error_never_raises():
    pipeline = Pipeline(app, AppOptions(error_page=failing_error_page))
    page = pipeline.render_error(None, 400, "bad", [("x-echo", "a\r\nb")])
    assert page.code == 500
    assert pipeline.render_error(None, 1234, "odd").code == 500


def test_debug_and_error_page_travel_as_one_options_value():
    def page(request, status, message):
        return ["custom"]

    options = AppOptions(debug=True, error_page=page)
    pipeline = Pipeline(
        lambda request: ["debug" if request.debug else "plain"], options
    )
    assert pipeline.handle(get_head()).response.body == b"debug"
    assert pipeline.render_error(None, 404, "").body == b"custom"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.debug = False  # type: ignore[misc]


def test_options_or_keywords_but_not_both():
    assert app_options(debug=True).debug is True
    given = AppOptions(debug=True)
    assert app_options(given) is given
    with pytest.raises(TypeError):
        app_options(given, debug=True)
    with pytest.raises(TypeError):
        Server(app, options=given, error_page=failing_error_page)


def test_server_options_and_error_page_setter():
    server = Server(app, debug=True, error_page=failing_error_page)
    assert server.options == AppOptions(True, failing_error_page, server.log)
    assert server.pipeline.options is server.options
    server.error_page = None  # as kali.pagewatch wraps it
    assert server.options.error_page is None and server.options.debug is True
    server.handler = app
    assert server.pipeline.handler is app


# The three ways in (the loop, the WSGI adapter, the test client) give the
# same answers, because they run the same pipeline.
SAME_EVERYWHERE = [
    ("GET", "/", {}, 200),
    ("GET", "/%ff", {}, 400),
    ("GET", "/echo-header?v=a%0d%0ab", {}, 500),
    ("GET", "/bad-status", {}, 500),
    ("POST", "/", {"Origin": "http://evil.example"}, 403),
    ("POST", "/", {"Referer": "http://[zz]/"}, 403),
    ("POST", "/", {"Origin": "http://127.0.0.1:PORT"}, 200),
]


@pytest.mark.parametrize(("method", "path", "headers", "expected"), SAME_EVERYWHERE)
def test_the_loop_wsgi_and_the_client_answer_alike(
    server, method, path, headers, expected
):
    import io
    import wsgiref.util

    from kali.testing import Client
    from kali.wsgi import to_wsgi

    port = server.port
    fields = {name: value.replace("PORT", str(port)) for name, value in headers.items()}
    lines = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    raw = f"{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{lines}\r\n"
    by_loop = status(exchange(server, raw.encode()))

    client = Client(app, port=port)
    by_client = client.request(method, path, headers=fields).status

    target, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "REQUEST_URI": path,
        "PATH_INFO": target,
        "QUERY_STRING": query,
        "SERVER_PORT": str(port),
        "HTTP_HOST": f"127.0.0.1:{port}",
        "wsgi.input": io.BytesIO(b""),
    }
    environ.update(
        {
            "HTTP_" + name.upper().replace("-", "_"): value
            for name, value in fields.items()
        }
    )
    wsgiref.util.setup_testing_defaults(environ)
    started = []
    result = to_wsgi(app)(environ, lambda status, headers: started.append(status))
    result.close()
    by_wsgi = int(started[0][:3])

    assert (by_loop, by_client, by_wsgi) == (expected, expected, expected)
