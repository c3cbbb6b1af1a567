"""kali.wsgi: a kali handler as a WSGI app and a WSGI app as a kali handler,
both checked by ``wsgiref.validate`` and both answering real HTTP."""

from __future__ import annotations

import http.client
import io
import logging
import os
import sys
import threading
import time
import wsgiref.util
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.validate import validator

import pytest

from examples import load_example
from kali.errors import HTTPError
from kali.protocol import Limits
from kali.response import Response
from kali.routing import Router
from kali.testing import Client
from kali.wsgi import LogStream, from_wsgi, make_environ, serve_wsgi, to_wsgi

# -- a kali app, and a way to call a WSGI app the way a server does ------------


def make_kali_app(tmp_path=None, events=None):
    events = events if events is not None else []
    app = Router()

    @app.function("/hello/*")
    def hello(name, greeting="Hello"):
        return Response.plain_text(f"{greeting}, {name}!")

    @app.servlet("/echo")
    class Echo:
        def do_POST(self, request):
            spooled = request.body_file is not None
            events.append(request)
            return Response.json(
                {
                    "form": dict(request.POST.single),
                    "length": len(request.body),
                    "spooled": spooled,
                    "type": request.content_type,
                    "path": request.path,
                    "uri": request.uri,
                }
            )

    @app.function("/stream")
    def stream(size="0"):
        def chunks():
            try:
                for i in range(3):
                    yield f"part {i};" + "." * int(size)
            finally:
                events.append("stream closed")

        return Response.stream(chunks(), content_type="text/plain")

    @app.function("/boom")
    def boom():
        raise RuntimeError("secret-detail")

    @app.function("/teapot")
    def teapot():
        raise HTTPError(418, "short and stout", headers={"x-pot": "yes"})

    @app.function("/hop")
    def hop():
        return Response("ok", headers={"connection": "keep-alive", "x-kept": "1"})

    if tmp_path is not None:
        data = tmp_path / "data.bin"
        data.write_bytes(bytes(range(256)) * 4)

        @app.function("/file")
        def file(offset="0", length=""):
            return Response.file(
                data, offset=int(offset), length=int(length) if length else None
            )

    @app.function("/path")
    def path_echo():
        return Response.json([])

    return app


class Result:
    def __init__(self, status, headers, body):
        self.status = status
        self.code = int(status[:3])
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body


def call(
    app, method="GET", path="/", body=b"", headers=None, validate=True, **environ_extra
):
    """Run ``app`` (under wsgiref.validate) as a WSGI server would."""
    target, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": target,
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "HTTP_HOST": "127.0.0.1:8000",
        "SERVER_PORT": "8000",
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = value
    environ.update(environ_extra)
    wsgiref.util.setup_testing_defaults(environ)
    started = []

    def start_response(status, response_headers, exc_info=None):
        started.append((status, response_headers))
        return lambda data: None

    iterable = (validator(app) if validate else app)(environ, start_response)
    try:
        body_out = b"".join(iterable)
    finally:
        iterable.close()
    status, response_headers = started[-1]
    return Result(status, response_headers, body_out)


# -- to_wsgi: a kali handler under a WSGI server -------------------------------


def test_get_through_wsgi():
    result = call(to_wsgi(make_kali_app()), path="/hello/World?greeting=Hi")
    assert result.status == "200 OK"
    assert result.body == b"Hi, World!"
    assert result.headers["content-type"] == "text/plain; charset=utf-8"
    assert result.headers["content-length"] == "10"
    assert result.headers["x-content-type-options"] == "nosniff"


def test_post_form_body_is_read_to_exactly_content_length():
    events = []
    app = to_wsgi(make_kali_app(events=events))
    body = b"name=Ada&lang=en"
    environ_input = io.BytesIO(body + b"MORE BYTES THAT ARE NOT THE BODY")
    result = call(
        app,
        "POST",
        "/echo",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        **{"wsgi.input": environ_input},
    )
    assert result.code == 200
    assert result.body.startswith(b'{"form":{"name":"Ada","lang":"en"},"length":16')
    assert environ_input.read() == b"MORE BYTES THAT ARE NOT THE BODY"


def test_big_body_is_spooled_and_released_after_the_response():
    events = []
    app = to_wsgi(
        make_kali_app(events=events), limits=Limits(max_form_memory_bytes=1000)
    )
    body = b"x" * 5000
    result = call(
        app, "POST", "/echo", body=body, headers={"Content-Type": "text/plain"}
    )
    assert result.code == 200
    assert b'"length":5000,"spooled":true' in result.body
    (request,) = events
    assert request.body_file.closed  # close() of the iterable released it


def test_streamed_body_is_sent_as_produced_and_closed():
    events = []
    app = to_wsgi(make_kali_app(events=events))
    result = call(app, path="/stream")
    assert result.code == 200
    assert result.body == b"part 0;part 1;part 2;"
    assert "content-length" not in result.headers
    assert events == ["stream closed"]


def test_stream_abandoned_half_way_is_closed():
    events = []
    app = to_wsgi(make_kali_app(events=events))
    big = 200_000  # bigger than a coalesced chunk
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/stream"}
    environ["QUERY_STRING"] = f"size={big}"
    environ["SCRIPT_NAME"] = ""
    wsgiref.util.setup_testing_defaults(environ)
    iterable = validator(app)(environ, lambda status, headers, exc=None: None)
    assert next(iter(iterable)) == b"part 0;" + b"." * big
    assert events == []
    iterable.close()
    assert events == ["stream closed"]


def test_handler_error_is_a_500_without_details(caplog):
    with caplog.at_level(logging.ERROR, logger="kali"):
        result = call(to_wsgi(make_kali_app()), path="/boom")
    assert result.status == "500 Internal Server Error"
    assert b"secret-detail" not in result.body
    assert "secret-detail" in caplog.text


def test_debug_shows_the_traceback(caplog):
    with caplog.at_level(logging.CRITICAL, logger="kali"):
        result = call(to_wsgi(make_kali_app(), debug=True), path="/boom")
    assert result.code == 500 and b"secret-detail" in result.body


def test_http_errors_and_404():
    app = to_wsgi(make_kali_app())
    teapot = call(app, path="/teapot")
    assert teapot.status == "418 I'm a Teapot" or teapot.code == 418
    assert teapot.headers["x-pot"] == "yes" and b"short and stout" in teapot.body
    assert call(app, path="/nowhere").code == 404


def test_error_page_option():
    def page(request, status, message):
        return Response(f"custom {status}", code=status)

    result = call(to_wsgi(make_kali_app(), error_page=page), path="/nowhere")
    assert result.code == 404 and result.body == b"custom 404"


def test_head_has_the_get_headers_and_no_body():
    app = to_wsgi(make_kali_app())
    result = call(app, "HEAD", "/hello/World")
    assert result.code == 200 and result.body == b""
    assert result.headers["content-length"] == "13"


def test_hop_by_hop_headers_are_left_to_the_server():
    result = call(to_wsgi(make_kali_app()), path="/hop")
    assert "connection" not in result.headers and result.headers["x-kept"] == "1"


def test_file_body_uses_the_servers_file_wrapper(tmp_path):
    app = to_wsgi(make_kali_app(tmp_path))
    wrapped = []

    def file_wrapper(filelike, block_size=8192):
        wrapped.append(filelike)
        return wsgiref.util.FileWrapper(filelike, block_size)

    whole = call(app, path="/file", **{"wsgi.file_wrapper": file_wrapper})
    assert whole.body == bytes(range(256)) * 4 and len(wrapped) == 1
    span = call(
        app,
        path="/file?offset=10&length=5",
        **{"wsgi.file_wrapper": file_wrapper},
    )
    assert span.body == bytes(range(10, 15))
    assert span.headers["content-length"] == "5"
    plain = call(app, path="/file?offset=250&length=10")  # no file_wrapper
    assert plain.body == bytes(range(250, 256)) + bytes(range(4))


def test_raw_request_uri_keeps_encoded_slashes():
    events = []
    app = to_wsgi(make_kali_app(events=events))
    call(app, "POST", "/echo", body=b"a=1", REQUEST_URI="/echo?x=%2F")
    assert events[-1].uri == "/echo?x=%2F"


def test_path_info_is_requoted_and_script_name_is_stripped():
    events = []
    app = to_wsgi(make_kali_app(events=events))
    # PEP 3333: PATH_INFO holds the decoded bytes as latin-1 ("é" in UTF-8).
    call(
        app,
        "POST",
        "/echo",
        body=b"a=1",
        SCRIPT_NAME="/mounted",
        REQUEST_URI="/mounted/echo",
    )
    assert events[-1].uri == "/echo"
    result = call(app, path="/hello/J\xc3\xbcrgen%")
    assert result.body == "Hello, Jürgen%!".encode()


@pytest.mark.parametrize(
    ("length", "body", "status"),
    [
        ("12", b"short", 400),
        ("abc", b"", 400),
        (str(10**9), b"", 413),
    ],
)
def test_bad_bodies_are_refused(length, body, status):
    result = call(
        to_wsgi(make_kali_app()),
        "POST",
        "/echo",
        validate=length.isdigit(),  # the validator itself refuses "abc"
        **{"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": length},
    )
    assert result.code == status


def test_chunked_request_body_is_read_to_eof_when_terminated():
    events = []
    app = to_wsgi(make_kali_app(events=events))
    result = call(
        app,
        "POST",
        "/echo",
        headers={"Content-Type": "text/plain"},
        **{"wsgi.input": io.BytesIO(b"abc" * 1000), "wsgi.input_terminated": True},
    )
    assert result.code == 200 and b'"length":3000' in result.body


def test_bad_target_is_a_400_from_the_request_parser():
    # PATH_INFO is decoded: "%ff" is literal text, "\xff" the byte 0xFF.
    app = to_wsgi(make_kali_app())
    assert call(app, path="/hello/%ff").body == b"Hello, %ff!"
    assert call(app, path="/hello/\xff").code == 400


def test_cross_site_post_is_refused_same_origin_passes():
    app = to_wsgi(make_kali_app())
    cross = call(
        app, "POST", "/echo", body=b"a=1", headers={"Origin": "http://evil.example"}
    )
    assert cross.code == 403
    same = call(
        app, "POST", "/echo", body=b"a=1", headers={"Origin": "http://127.0.0.1:8000"}
    )
    assert same.code == 200
    off = to_wsgi(make_kali_app(), security=False)
    assert call(off, "POST", "/echo", headers={"Origin": "http://x"}).code == 200


def test_the_app_is_never_entered_by_two_threads_at_once():
    active, most = [0], [0]
    guard = threading.Lock()

    def slow(request):
        with guard:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.02)
        with guard:
            active[0] -= 1
        return "ok"

    app = to_wsgi(slow)
    threads = [threading.Thread(target=call, args=(app,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1


# -- from_wsgi: a WSGI app as a kali handler ------------------------------------


def echo_environ(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    keys = (
        "REQUEST_METHOD SCRIPT_NAME PATH_INFO QUERY_STRING SERVER_NAME SERVER_PORT"
        " CONTENT_TYPE CONTENT_LENGTH HTTP_X_TEST HTTP_COOKIE wsgi.url_scheme"
    ).split()
    lines = [f"{key}={environ.get(key)!s}" for key in keys]
    lines.append(f"body={body.decode('latin-1')}")
    lines.append(f"input-rest={environ['wsgi.input'].read(10)!r}")
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return ["\n".join(lines).encode("utf-8")]


def fields(text):
    return dict(line.split("=", 1) for line in text.splitlines())


def test_wsgi_app_sees_a_pep_3333_environ():
    client = Client(from_wsgi(validator(echo_environ)))
    answer = client.get(
        "/a/caf%C3%A9?x=1&y=%2F", headers={"X-Test": "v", "Cookie": "a=1"}
    )
    assert answer.status == 200 and answer.content_type == "text/plain"
    seen = fields(answer.text)
    assert seen["REQUEST_METHOD"] == "GET"
    assert seen["SCRIPT_NAME"] == ""
    assert seen["PATH_INFO"] == "/a/caf\xc3\xa9"  # the bytes, as latin-1
    assert seen["QUERY_STRING"] == "x=1&y=%2F"
    assert seen["SERVER_NAME"] == "127.0.0.1" and seen["SERVER_PORT"] == "8080"
    assert seen["HTTP_X_TEST"] == "v" and seen["HTTP_COOKIE"] == "a=1"
    assert seen["wsgi.url_scheme"] == "http"
    assert seen["CONTENT_LENGTH"] == "None"


def test_post_body_is_exactly_the_input():
    client = Client(from_wsgi(validator(echo_environ)))
    answer = client.post("/form", data={"name": "Ada"})
    seen = fields(answer.text)
    assert seen["REQUEST_METHOD"] == "POST"
    assert seen["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert seen["CONTENT_LENGTH"] == "8" and seen["body"] == "name=Ada"
    assert seen["input-rest"] == "b''"


def test_spooled_body_is_given_as_the_temporary_file():
    client = Client(
        from_wsgi(validator(echo_environ)), limits=Limits(max_form_memory_bytes=100)
    )
    answer = client.post("/upload", body=b"z" * 5000, content_type="text/plain")
    seen = fields(answer.text)
    assert seen["CONTENT_LENGTH"] == "5000" and seen["body"] == "z" * 5000


def test_mounted_app_gets_script_name():
    router = Router()
    router.delegate_folder("/legacy/", from_wsgi(validator(echo_environ)))
    client = Client(router)
    seen = fields(client.get("/legacy/x/y?q=1").text)
    assert seen["SCRIPT_NAME"] == "/legacy" and seen["PATH_INFO"] == "/x/y"
    seen = fields(client.get("/legacy/").text)
    assert seen["SCRIPT_NAME"] == "/legacy" and seen["PATH_INFO"] == "/"


def test_make_environ_at_the_root_mount():
    from kali.request import Request

    request = Request("GET", "/", "HTTP/1.0", {"host": "[::1]"})
    request.mount_depth = 1
    environ = make_environ(request, url_scheme="https")
    assert environ["SCRIPT_NAME"] == "" and environ["PATH_INFO"] == "/"
    assert environ["SERVER_NAME"] == "[::1]" and environ["SERVER_PORT"] == "443"


class Recorder:
    """A WSGI app yielding ``chunks``, recording whether it was closed."""

    def __init__(self, chunks, status="200 OK", headers=None, fail_at=None):
        self.chunks = chunks
        self.status = status
        self.headers = headers or [("Content-Type", "text/plain")]
        self.fail_at = fail_at
        self.closed = 0

    def __call__(self, environ, start_response):
        start_response(self.status, self.headers)
        return self.body()

    def body(self):
        try:
            for index, chunk in enumerate(self.chunks):
                if index == self.fail_at:
                    raise RuntimeError("failed half-way")
                yield chunk
        finally:
            self.closed += 1


def test_generated_wsgi_body_is_sent_as_yielded_and_closed():
    app = Recorder([b"a", b"", b"bc", b"d"])
    answer = Client(from_wsgi(validator(app))).get("/")
    assert answer.status == 200 and answer.body == b"abcd"
    assert "content-length" not in answer.headers  # as gunicorn: no length given
    assert app.closed == 1


def test_max_buffer_bytes_collects_a_short_generated_body():
    app = Recorder([b"a", b"", b"bc", b"d"])
    answer = Client(from_wsgi(validator(app), max_buffer_bytes=100)).get("/")
    assert answer.body == b"abcd" and answer.headers["content-length"] == "4"
    assert app.closed == 1
    with pytest.raises(ValueError):
        from_wsgi(app, max_buffer_bytes=-1)


def test_long_wsgi_body_is_streamed_while_the_app_produces_it():
    app = Recorder([b"x" * 1000] * 10)
    handler = from_wsgi(validator(app), max_buffer_bytes=2500)
    response = handler(_request("GET", "/"))
    assert response.content_length is None  # streamed: no content-length
    assert response.get_header("content-type") == "text/plain"
    assert app.closed == 0  # still producing
    assert response.body == b"x" * 10000
    assert app.closed == 1


def _request(method, target, headers=None):
    from kali.request import Request

    return Request(method, target, "HTTP/1.0", headers or {"host": "localhost"})


def test_wsgi_app_error_is_a_500_and_the_iterable_is_closed(caplog):
    app = Recorder([b"a", b"b"], fail_at=0)  # before its first chunk
    with caplog.at_level(logging.ERROR, logger="kali"):
        answer = Client(from_wsgi(validator(app))).get("/")
    assert answer.status == 500 and b"failed half-way" not in answer.body
    assert app.closed == 1 and "failed half-way" in caplog.text
    buffered = Recorder([b"a", b"b"], fail_at=1)  # within max_buffer_bytes
    with caplog.at_level(logging.ERROR, logger="kali"):
        answer = Client(from_wsgi(validator(buffered), max_buffer_bytes=10)).get("/")
    assert answer.status == 500 and buffered.closed == 1

    def raises(environ, start_response):
        raise ValueError("at once")

    with caplog.at_level(logging.ERROR, logger="kali"):
        assert Client(from_wsgi(raises)).get("/").status == 500


def test_exc_info_replaces_the_status_before_the_body():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise KeyError("gone")
        except KeyError:
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "text/plain")],
                sys.exc_info(),
            )
        return [b"try later"]

    answer = Client(from_wsgi(validator(app))).get("/")
    assert answer.status == 503 and answer.body == b"try later"


def test_exc_info_after_the_body_started_reraises(caplog):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"half"
        try:
            raise KeyError("late")
        except KeyError:
            start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
        yield b"never"

    # The head went out with b"half": the error can only end the body
    # (the server then resets the connection).
    response = from_wsgi(app)(_request("GET", "/"))
    assert response.code == 200
    with pytest.raises(KeyError):
        b"".join(response.iter_body())
    response.close()
    # Held back by max_buffer_bytes, the head is not gone yet: a 500 page.
    with caplog.at_level(logging.ERROR, logger="kali"):
        answer = Client(from_wsgi(app, max_buffer_bytes=100)).get("/")
    assert answer.status == 500 and b"half" not in answer.body
    assert "KeyError" in caplog.text


@pytest.mark.parametrize(
    "app",
    [
        lambda environ, start_response: [b"no start_response"],
        lambda environ, start_response: (
            start_response("200 OK", []),
            start_response("200 OK", []),
        ),
        lambda environ, start_response: (start_response("OK", []), [b""])[1],
        lambda environ, start_response: (start_response("200 OK", []), ["text"])[1],
        lambda environ, start_response: (
            start_response("200 OK", [("X-Bad", "a\r\nb")]),
            [b""],
        )[1],
    ],
    ids=["no-start", "twice", "bad-status", "str-body", "header-injection"],
)
def test_broken_wsgi_apps_are_a_500(app, caplog):
    with caplog.at_level(logging.CRITICAL, logger="kali"):
        assert Client(from_wsgi(app)).get("/").status == 500


def test_head_reaches_the_app_and_the_body_is_dropped():
    seen = []

    def app(environ, start_response):
        seen.append(environ["REQUEST_METHOD"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"twelve bytes"]  # a list: its length is known

    answer = Client(from_wsgi(app)).head("/")
    assert answer.status == 200 and answer.body == b"" and seen == ["HEAD"]
    assert answer.headers["content-length"] == "12"


def test_head_gives_the_length_the_app_declares():
    # Flask and WhiteNoise answer HEAD with no body and the GET's length.
    def app(environ, start_response):
        start_response(
            "200 OK", [("Content-Type", "text/html"), ("Content-Length", "444")]
        )
        return iter(()) if environ["REQUEST_METHOD"] == "HEAD" else [b"x" * 444]

    client = Client(from_wsgi(validator(app)))
    head = client.head("/")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == "444"
    assert client.get("/").headers["content-length"] == "444"
    long = Recorder(
        [b"z" * 1000] * 3,
        headers=[("Content-Type", "text/plain"), ("Content-Length", "3000")],
    )
    response = from_wsgi(validator(long))(_request("HEAD", "/"))
    assert response.content_length == 3000 and long.closed == 1
    response.close()


def test_write_callable_comes_before_the_iterable():
    def app(environ, start_response):
        write = start_response("201 Created", [("Content-Type", "text/plain")])
        write(b"first ")
        return [b"then"]

    answer = Client(from_wsgi(validator(app))).get("/")
    assert answer.status == 201 and answer.body == b"first then"


def declaring(length, chunks):
    """A WSGI app that declares Content-Length ``length`` and yields ``chunks``."""

    def app(environ, start_response):
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("Connection", "keep-alive"),
                ("Content-Length", length),
                ("X-App", "1"),
            ],
        )
        return chunks() if callable(chunks) else chunks

    return app


def test_hop_by_hop_headers_are_kalis_and_content_length_is_the_apps():
    answer = Client(from_wsgi(validator(declaring("4", [b"four"])))).get("/")
    assert "connection" not in answer.headers
    assert answer.headers["content-length"] == "4" and answer.body == b"four"
    assert answer.headers["x-app"] == "1"


def test_a_body_longer_than_its_content_length_is_cut(caplog):
    with caplog.at_level(logging.WARNING, logger="kali"):
        answer = Client(from_wsgi(validator(declaring("2", [b"four"])))).get("/")
    assert answer.headers["content-length"] == "2" and answer.body == b"fo"
    assert "past its content-length" in caplog.text


@pytest.mark.parametrize(
    "chunks",
    [[b"four"], lambda: iter([b"fo", b"ur"])],
    ids=["list", "generator"],
)
def test_a_body_shorter_than_its_content_length_fails(chunks):
    # Sent, it makes the server reset the connection (test_wsgi_servers).
    response = from_wsgi(declaring("999", chunks))(_request("GET", "/"))
    assert response.content_length == 999
    with pytest.raises(ValueError, match="ended after 4 of its 999 bytes"):
        b"".join(response.iter_body())
    response.close()


@pytest.mark.parametrize("length", ["abc", "-1", "1 2"])
def test_a_bad_content_length_from_the_app_is_a_500(length, caplog):
    with caplog.at_level(logging.CRITICAL, logger="kali"):
        answer = Client(from_wsgi(declaring(length, [b"four"]))).get("/")
    assert answer.status == 500


def test_no_content_answers_drop_the_declared_length():
    def app(environ, start_response):
        start_response("304 Not Modified", [("Content-Length", "1234")])
        return [b""]

    answer = Client(from_wsgi(validator(app))).get("/")
    assert answer.status == 304 and answer.body == b""
    assert "content-length" not in answer.headers


def test_wsgi_errors_go_to_the_kali_logger(caplog):
    def app(environ, start_response):
        print("something odd", file=environ["wsgi.errors"])
        environ["wsgi.errors"].write("unflushed")
        start_response("204 No Content", [])
        return []

    with caplog.at_level(logging.ERROR, logger="kali"):
        answer = Client(from_wsgi(validator(app))).get("/")
    assert answer.status == 204
    messages = [record.getMessage() for record in caplog.records]
    assert "something odd\nunflushed" in messages


def test_log_stream_refuses_bytes():
    with pytest.raises(TypeError):
        LogStream().write(b"bytes")  # type: ignore[arg-type]


def test_url_scheme_must_be_http_or_https():
    with pytest.raises(ValueError):
        from_wsgi(echo_environ, url_scheme="ftp")


def test_round_trip_kali_to_wsgi_to_kali():
    events = []
    handler = from_wsgi(to_wsgi(make_kali_app(events=events)))
    client = Client(handler)
    assert client.get("/hello/there").text == "Hello, there!"
    posted = client.post("/echo", data={"k": "v"})
    assert posted.json()["form"] == {"k": "v"}
    assert client.get("/stream").text == "part 0;part 1;part 2;"
    assert client.get("/missing").status == 404


# -- real HTTP -------------------------------------------------------------------


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def wsgiref_server():
    servers = []

    def start(app):
        server = make_server(
            "127.0.0.1", 0, app, server_class=WSGIServer, handler_class=QuietHandler
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server.server_address[1]

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(10)
        server.server_close()


def fetch(port, method="GET", path="/", body=None, headers=None, scheme_context=None):
    if scheme_context is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    else:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=10, context=scheme_context
        )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), data
    finally:
        connection.close()


def test_kali_app_under_wsgiref_answers_real_http(wsgiref_server, tmp_path):
    events = []
    port = wsgiref_server(validator(to_wsgi(make_kali_app(tmp_path, events))))
    status, headers, body = fetch(port, path="/hello/J%C3%BCrgen")
    assert status == 200 and body == "Hello, Jürgen!".encode()
    status, _, body = fetch(
        port,
        "POST",
        "/echo",
        body=b"a=1&b=2",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and b'"form":{"a":"1","b":"2"}' in body
    status, headers, body = fetch(port, "HEAD", "/hello/x")
    assert status == 200 and body == b"" and headers["content-length"] == "9"
    assert fetch(port, path="/stream")[2] == b"part 0;part 1;part 2;"
    assert fetch(port, path="/file?offset=1&length=3")[2] == b"\x01\x02\x03"
    assert fetch(port, path="/boom")[0] == 500


@pytest.fixture
def kali_wsgi_server():
    """Serve a WSGI app with serve_wsgi (serve_http's loop) in a thread."""
    running = []

    def start(app, **options):
        ready = threading.Event()
        servers = []

        def on_ready(server):
            servers.append(server)
            ready.set()

        options.setdefault("port", 0)
        thread = threading.Thread(
            target=serve_wsgi,
            args=(app,),
            kwargs=dict(start=None, on_ready=on_ready, **options),
            daemon=True,
        )
        thread.start()
        assert ready.wait(10)
        running.append((servers[0], thread))
        return servers[0]

    yield start
    for server, thread in running:
        server.stop()
        thread.join(10)
        assert not thread.is_alive()


def test_wsgi_app_under_serve_http_answers_real_http(kali_wsgi_server):
    app = Recorder([b"one ", b"two"])
    server = kali_wsgi_server(validator(echo_environ))
    status, headers, body = fetch(server.port, path="/p?q=1", headers={"X-Test": "t"})
    assert status == 200 and headers["content-type"].startswith("text/plain")
    seen = fields(body.decode())
    assert seen["PATH_INFO"] == "/p" and seen["HTTP_X_TEST"] == "t"
    assert seen["SERVER_PORT"] == str(server.port)
    status, _, body = fetch(
        server.port, "POST", "/", body=b"payload", headers={"Content-Type": "x/y"}
    )
    assert fields(body.decode())["body"] == "payload"
    # kali's localhost checks guard the WSGI app too
    status, _, _ = fetch(server.port, headers={"Host": "evil.example"})
    assert status == 403
    other = kali_wsgi_server(validator(app))
    assert fetch(other.port)[2] == b"one two"
    deadline = time.monotonic() + 10  # closed once the last byte is sent
    while app.closed == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.closed == 1


def test_flask_app_under_serve_http(kali_wsgi_server):
    # Flask is a test extra (setup.cfg [dev]); in CI it must be there.
    if os.environ.get("CI") == "true":
        import flask
    else:
        flask = pytest.importorskip("flask")
    app = flask.Flask("demo")

    @app.route("/hi/<name>")
    def hi(name):
        return flask.jsonify(hello=name, url=flask.url_for("hi", name=name))

    server = kali_wsgi_server(app)
    status, _, body = fetch(server.port, path="/hi/you")
    assert status == 200 and b'"hello":"you"' in body and b'"/hi/you"' in body


# -- the example ---------------------------------------------------------------


def test_wsgi_demo_example(wsgiref_server):
    demo = load_example("wsgi_demo")
    router, visits = demo.make_app()
    client = Client(router)
    assert "served by <b>kali</b>" in client.get("/").text
    assert client.get("/hello/You").text == "Hello, You!"
    legacy = client.get("/legacy/x?y=1").text
    assert "SCRIPT_NAME = '/legacy'" in legacy and "PATH_INFO   = '/x'" in legacy
    commands = demo.make_commands(visits)
    assert commands.get("visits").run("") == "2 pages served"
    port = wsgiref_server(validator(demo.make_wsgi_application()))
    assert b"served by <b>wsgiref</b>" in fetch(port)[2]
    # wsgiref checks no Host: the demo's to_wsgi does (DNS rebinding).
    assert fetch(port, headers={"Host": "evil.example"})[0] == 403
    rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    assert fetch(port, "POST", "/", body=b"x", headers=rebound)[0] == 403
    ticks = client.get("/ticks/").text
    assert ticks.startswith("tick 1\n") and ticks.endswith("tick 3\n")


def test_failure_after_streaming_started_raises_from_the_body():
    app = Recorder([b"x" * 1000] * 5, fail_at=3)
    handler = from_wsgi(validator(app), max_buffer_bytes=1500)
    response = handler(_request("GET", "/"))
    sent = []
    with pytest.raises(RuntimeError, match="failed half-way"):
        for chunk in response.iter_body():
            sent.append(chunk)
    assert b"".join(sent) == b"x" * 3000
    response.close()
    assert app.closed == 1


def test_streamed_wsgi_body_over_real_http(kali_wsgi_server):
    app = Recorder([b"y" * 100_000] * 30)  # 3 MB: streamed, not buffered
    server = kali_wsgi_server(validator(app))
    status, headers, body = fetch(server.port)
    assert status == 200 and body == b"y" * 3_000_000
    assert "content-length" not in {name.lower() for name in headers}
    assert app.closed == 1


def test_head_of_a_long_body_stops_the_app_and_closes_it():
    app = Recorder([b"z" * 1000] * 100)
    handler = from_wsgi(validator(app), max_buffer_bytes=2500)
    response = handler(_request("HEAD", "/"))
    assert app.closed == 1 and response.code == 200
    assert response.content_length is None and response.body == b""


# -- streaming: sent when yielded, held to a declared length --------------------


def test_each_yield_of_a_wsgi_app_is_sent_before_the_next_is_asked_for():
    asked = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        for number in range(3):
            asked.append(number)
            yield f"data: {number}\n\n".encode()

    response = from_wsgi(validator(app))(_request("GET", "/events"))
    chunks = response.iter_body()
    assert next(chunks) == b"data: 0\n\n" and asked == [0]
    assert next(chunks) == b"data: 1\n\n" and asked == [0, 1]
    assert list(chunks) == [b"data: 2\n\n"]
    response.close()


def test_a_kali_stream_sends_each_item_when_it_is_produced():
    asked = []

    def items():
        for number in range(3):
            asked.append(number)
            yield ["<p>", str(number), "</p>\n"]  # one item: pieces coalesced

    response = Response.stream(items())
    chunks = response.iter_body()
    assert next(chunks) == b"<p>0</p>\n" and asked == [0]
    assert next(chunks) == b"<p>1</p>\n" and asked == [0, 1]
    response.close()
    assert list(chunks) == []


class Closable:
    """An iterable with a close() that counts its calls."""

    def __init__(self, items):
        self.items = items
        self.closed = 0

    def __iter__(self):
        return iter(self.items)

    def close(self):
        self.closed += 1


def test_a_stream_with_a_content_length_is_held_to_it(caplog):
    exact = Response.stream([b"ab", "cd"], content_length=4)
    assert exact.get_header("content-length") == "4" and exact.body == b"abcd"
    with caplog.at_level(logging.WARNING, logger="kali"):
        longer = Response.stream(Closable([b"ab", b"cdef", b"never"]), content_length=3)
        assert longer.body == b"abc"
    assert "past its content-length (3)" in caplog.text
    shorter = Response.stream(iter([b"ab"]), content_length=3)
    with pytest.raises(ValueError, match="ended after 2 of its 3 bytes"):
        b"".join(shorter.iter_body())
    assert Response.stream([], content_length=0).body == b""
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError):
            Response.stream([], content_length=bad)


def test_closing_a_stream_response_closes_its_iterable():
    items = Closable([b"a", b"b"])
    response = Response.stream(items)
    assert next(response.iter_body()) == b"a"
    response.close()
    assert items.closed == 1
    response.close()
    assert items.closed == 1


def test_a_long_generated_body_keeps_the_declared_length_over_real_http(
    kali_wsgi_server,
):
    app = Recorder(
        [b"w" * 100_000] * 30,
        headers=[("Content-Type", "text/plain"), ("Content-Length", "3000000")],
    )
    server = kali_wsgi_server(validator(app))
    status, headers, body = fetch(server.port)
    assert status == 200 and headers["content-length"] == "3000000"
    assert body == b"w" * 3_000_000
    # The server closes the app's iterable once the last byte is handed to
    # the kernel, which may be just after the client has read it.
    deadline = time.monotonic() + 10
    while app.closed == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.closed == 1


def test_a_failing_generated_body_resets_the_connection(kali_wsgi_server, caplog):
    app = Recorder([b"v" * 100_000] * 30, fail_at=29)  # fails after 2.9 MB
    server = kali_wsgi_server(app)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        with caplog.at_level(logging.CRITICAL, logger="kali"):
            connection.request("GET", "/")
            response = connection.getresponse()
            with pytest.raises(ConnectionResetError):
                response.read()
    finally:
        connection.close()


# -- wsgi.file_wrapper: a file the app hands over ----------------------------------


def file_app(path, *, offset=0, length=None, method="open"):
    def app(environ, start_response):
        headers = [("Content-Type", "application/octet-stream")]
        if length is not None:
            headers.append(("Content-Length", str(length)))
        start_response("200 OK", headers)
        if method == "memory":
            source = io.BytesIO(path.read_bytes())
        else:
            source = open(path, "rb")  # noqa: SIM115 - closed through the wrapper
        source.seek(offset)
        return environ["wsgi.file_wrapper"](source, 1024)

    return app


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 40)  # 10240 bytes
    return path


def test_a_regular_file_from_the_file_wrapper_is_sent_as_a_file(data_file):
    response = from_wsgi(file_app(data_file))(_request("GET", "/"))
    span = response.file_span
    assert span is not None and span[1:] == (0, 10240)
    assert response.get_header("content-length") == "10240"
    assert response.body == data_file.read_bytes()
    response.close()
    assert span[0].closed
    part = from_wsgi(file_app(data_file, offset=1000, length=10))(_request("GET", "/"))
    assert (
        part.file_span[1:] == (1000, 10)
        and part.body == data_file.read_bytes()[1000:1010]
    )
    part.close()
    head = from_wsgi(file_app(data_file))(_request("HEAD", "/"))
    assert head.content_length == 10240
    head.close()


def test_other_files_from_the_file_wrapper_are_read_in_blocks(data_file):
    memory = from_wsgi(file_app(data_file, method="memory"))(_request("GET", "/"))
    assert memory.file_span is None and memory.body == data_file.read_bytes()
    memory.close()
    # Declaring more than the file holds: sent, then the connection is reset.
    over = from_wsgi(file_app(data_file, length=20000))(_request("GET", "/"))
    assert over.file_span is None and over.content_length == 20000
    with pytest.raises(ValueError, match="ended after 10240 of its 20000"):
        b"".join(over.iter_body())
    over.close()


def test_the_file_wrapper_under_a_range_wrapper_seeks(data_file):
    from kali.wsgi.handler import FileWrapper

    with open(data_file, "rb") as file:
        wrapper = FileWrapper(file, 100)
        assert wrapper.seekable() and wrapper.seek(200) == 200
        assert (
            wrapper.tell() == 200
            and next(iter(wrapper)) == data_file.read_bytes()[200:300]
        )
    assert not FileWrapper(object()).seekable()


# -- to_wsgi: kali's localhost policy under any WSGI server --------------------------


def test_to_wsgi_refuses_other_hosts_and_cross_site_posts_under_wsgiref(
    wsgiref_server,
):
    port = wsgiref_server(validator(to_wsgi(make_kali_app())))
    assert fetch(port, path="/hello/x")[0] == 200
    assert fetch(port, path="/hello/x", headers={"Host": f"localhost:{port}"})[0] == 200
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}"):
        status, _, body = fetch(port, path="/hello/x", headers={"Host": host})
        assert status == 403 and b"Hello" not in body
    posted = {"Content-Type": "application/x-www-form-urlencoded"}
    cross = {**posted, "Origin": "http://evil.example"}
    assert fetch(port, "POST", "/echo", body=b"a=1", headers=cross)[0] == 403
    same = {**posted, "Origin": f"http://127.0.0.1:{port}"}
    assert fetch(port, "POST", "/echo", body=b"a=1", headers=same)[0] == 200


def test_to_wsgi_host_allowlist_for_a_proxy():
    public = {"HTTP_HOST": "app.example"}
    default = to_wsgi(make_kali_app())
    assert call(default, path="/hello/x", **public).code == 403
    named = to_wsgi(make_kali_app(), allowed_hosts=["app.example"])
    assert call(named, path="/hello/x", **public).code == 200
    assert call(named, path="/hello/x", HTTP_HOST="other.example").code == 403
    proxied = to_wsgi(make_kali_app(), allowed_hosts=None)  # the proxy checks
    assert call(proxied, path="/hello/x", HTTP_HOST="other.example").code == 200
    cross = {"Origin": "http://evil.example"}
    assert call(proxied, "POST", "/echo", body=b"a=1", headers=cross).code == 403
    off = to_wsgi(make_kali_app(), security=False)
    assert call(off, path="/hello/x", HTTP_HOST="evil.example").code == 200
    with pytest.raises(ValueError):
        to_wsgi(make_kali_app(), allowed_hosts=["http://app.example/"])
    with pytest.raises(TypeError):
        to_wsgi(make_kali_app(), allowed_hosts="app.example")


def test_a_body_complete_at_its_declared_length_is_sent_whole():
    asked = []

    def app(environ, start_response):
        start_response(
            "200 OK", [("Content-Type", "text/html"), ("Content-Length", "5")]
        )
        asked.append("page")
        yield b"<p>5>"
        asked.append("more")  # never reached: the length is all there
        yield b"extra"

    response = from_wsgi(app)(_request("GET", "/"))
    assert response.chunks == [b"<p>5>"] and response.content_length == 5
    assert asked == ["page"]
    response.close()
