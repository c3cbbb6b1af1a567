"""Forms are parsed when kali code first reads ``request.POST`` (issue 16.4).

A WSGI app under ``from_wsgi`` gets the body as sent, whatever kali's form
rules say of it: only the size limit on the body applies. A kali handler
that reads the form gets the 400 or 413 those rules give, as a page with a
short message, and one that does not read it is never refused for it.
"""

from __future__ import annotations

import http.client
import io
import threading
import wsgiref.util

import pytest

from kali.errors import HTTPError, ProtocolError
from kali.handling import AppOptions
from kali.protocol import Limits
from kali.request import Request
from kali.response import Response
from kali.server import Server
from kali.testing import Client
from kali.wsgi import from_wsgi, to_wsgi

FORM = "application/x-www-form-urlencoded"
#: 2 MB of urlencoded text: over the 1 MiB form memory limit.
BIG_FORM = b"note=" + b"x" * 2_000_000
#: 1,500 fields: over the 1,000 field limit.
MANY_FIELDS = "&".join(f"f{n}={n}" for n in range(1500)).encode("ascii")
#: Latin-1, not UTF-8: not a form by kali's rules.
LATIN1_FORM = "name=Ren\xe9e&city=K\xf6ln".encode("latin-1")
LATIN1_ESCAPED = b"name=Ren%E9e"
MULTIPART = "multipart/form-data; boundary=zz"
BROKEN_MULTIPART = b"--zz\r\nno blank line after the part head\r\n--zz--\r\n"

CASES = [
    ("2 MB urlencoded", FORM, BIG_FORM, 413),
    ("1,500 fields", FORM, MANY_FIELDS, 413),
    ("latin-1 form", FORM, LATIN1_FORM, 400),
    ("latin-1 escapes", FORM, LATIN1_ESCAPED, 400),
    ("broken multipart", MULTIPART, BROKEN_MULTIPART, 400),
    ("multipart without boundary", "multipart/form-data", b"--x\r\n", 400),
]
IDS = [case[0] for case in CASES]


def wsgi_echo(environ, start_response):
    """A WSGI app that answers with the length and a digest of its input."""
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    kind = environ.get("CONTENT_TYPE", "")
    return [f"{len(body)} {hash(body)} {kind}".encode()]


def reads_the_form(request):
    return Response.plain_text(f"{len(request.POST)} fields")


def ignores_the_form(request):
    return Response.plain_text(f"{len(request.body)} bytes")


@pytest.fixture
def serve():
    started = []

    def start(handler, **options):
        server = Server(handler, port=0, **options)
        server.bind()
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.stop()
        thread.join(10)
        server.close()
        assert not thread.is_alive()


def post(server, body: bytes, content_type: str, path: str = "/"):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", path, body, {"Content-Type": content_type})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


# -- over real sockets ---------------------------------------------------------------


@pytest.mark.parametrize("content_type, body, status", [c[1:] for c in CASES], ids=IDS)
def test_a_wsgi_app_gets_the_body_as_sent(serve, content_type, body, status):
    server = serve(from_wsgi(wsgi_echo))
    answer = post(server, body, content_type)
    assert answer == (200, f"{len(body)} {hash(body)} {content_type}".encode())


@pytest.mark.parametrize("content_type, body, status", [c[1:] for c in CASES], ids=IDS)
def test_a_kali_handler_that_reads_the_form_is_refused(
    serve, content_type, body, status
):
    server = serve(reads_the_form)
    code, page = post(server, body, content_type)
    assert code == status
    assert b"Traceback" not in page and len(page) < 4000


@pytest.mark.parametrize("content_type, body, status", [c[1:] for c in CASES], ids=IDS)
def test_a_kali_handler_that_ignores_the_form_is_served(
    serve, content_type, body, status
):
    server = serve(ignores_the_form)
    assert post(server, body, content_type) == (200, f"{len(body)} bytes".encode())


def test_the_body_size_limit_still_applies_under_from_wsgi(serve):
    server = serve(from_wsgi(wsgi_echo), limits=Limits(max_body_bytes=1_000_000))
    assert post(server, BIG_FORM, FORM)[0] == 413
    assert post(server, MANY_FIELDS, FORM)[0] == 200


# -- in-process ---------------------------------------------------------------------


def test_a_refusal_from_the_form_reaches_the_apps_error_page():
    seen = []

    def error_page(request, status, message):
        seen.append((request is not None, status, message))
        return Response(f"<p>{status}: {message}</p>", code=status)

    client = Client(reads_the_form, error_page=error_page)
    answer = client.post("/", body=MANY_FIELDS, content_type=FORM)
    assert answer.status == 413
    assert seen == [(True, 413, "too many form fields")]
    assert answer.text == "<p>413: too many form fields</p>"


def test_reading_the_form_after_the_handler_caught_its_error():
    def handler(request):
        try:
            request.POST.get("a")
        except ProtocolError as error:
            first = error
        try:
            request.POST.get("a")
        except ProtocolError as error:
            assert error is first
            raise
        raise AssertionError("unreachable")

    answer = Client(handler).post("/", body=LATIN1_FORM, content_type=FORM)
    assert answer.status == 400


def test_a_good_form_is_read_as_before():
    def handler(request):
        return Response.plain_text(repr(sorted(request.POST.items())))

    answer = Client(handler).post("/", data={"name": "Renée", "n": "1"})
    assert answer.text == "[('n', '1'), ('name', 'Renée')]"


def test_from_wsgi_never_reads_the_form():
    class Watched(Request):
        @property
        def POST(self):
            raise AssertionError("from_wsgi read the form")

        @POST.setter
        def POST(self, value):
            raise AssertionError("from_wsgi set the form")

    handler = from_wsgi(wsgi_echo)
    request = Watched(
        "POST",
        "/",
        "HTTP/1.1",
        [("host", "localhost"), ("content-type", FORM)],
        MANY_FIELDS,
    )
    with request:
        response = handler(request)
    assert response.body == f"{len(MANY_FIELDS)} {hash(MANY_FIELDS)} {FORM}".encode()


def test_to_wsgi_refuses_only_when_the_app_reads_the_form():
    def call(handler, body):
        environ = {
            "REQUEST_METHOD": "POST",
            "CONTENT_TYPE": FORM,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        wsgiref.util.setup_testing_defaults(environ)
        statuses = []
        result = to_wsgi(handler)(environ, lambda s, h, e=None: statuses.append(s))
        try:
            b"".join(result)
        finally:
            result.close()
        return statuses[0]

    assert call(reads_the_form, LATIN1_FORM).startswith("400")
    assert call(ignores_the_form, LATIN1_FORM).startswith("200")


def test_an_http_error_from_the_handler_is_unchanged():
    def handler(request):
        raise HTTPError(409, "Already there.")

    assert Client(handler).post("/", data={"a": "1"}).status == 409


def test_the_request_closes_uploads_only_once_read():
    body = (
        b"--zz\r\nContent-Disposition: form-data; name=f; filename=a.txt\r\n\r\n"
        b"hello\r\n--zz--\r\n"
    )
    headers = [("content-type", MULTIPART)]
    unread = Request("POST", "/", "HTTP/1.1", headers, body)
    unread.close()  # nothing parsed, nothing to close
    assert unread._form is None
    with Request("POST", "/", "HTTP/1.1", headers, body) as read:
        upload = read.POST["f"]
        assert upload.content == b"hello"
    assert upload._file.closed


def test_options_and_limits_reach_the_lazy_parse():
    limits = Limits(max_form_fields=2)
    client = Client(reads_the_form, limits=limits, options=AppOptions())
    assert client.post("/", data={"a": "1", "b": "2"}).text == "2 fields"
    assert client.post("/", data={"a": "1", "b": "2", "c": "3"}).status == 413
