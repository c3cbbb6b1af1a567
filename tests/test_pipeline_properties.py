"""Hypothesis: random request heads and failing apps through the real loop.

Each example writes one request, built from a grammar, to one end of a
``socket.socketpair()`` and has a bound :class:`kali.server.Server` answer
the other end with ``serve_connection``. The grammar covers methods (known,
unknown, lower-case), targets in origin-form (percent-encodings, valid or
not, ``%00``, ``%2f``, non-ASCII) and absolute-form (brackets, IPv6 forms
valid and not, ports empty, huge or not digits, userinfo, non-ASCII),
Host/Origin/Referer from the same authority grammar or garbage, right and
wrong Content-Length, and Sec-Fetch-Site. The app and its ``error_page``
fail in every way the issue lists (any exception, a bad ``HTTPError``, a
body that cannot be flattened, a stream that fails before or after its
first chunk).

Each part of a head carries a verdict, VALID, BAD or EITHER (kali may take
it or refuse it), and the expected answer follows from them:

* ``serve_connection`` returns without raising, in a few seconds at most;
* the client reads a parseable ``HTTP/1.x`` answer, or nothing at all (a
  close or reset, only where one is expected);
* bad input gets a 4xx (or 501/505), never a 500; a 2xx only when the app
  ran and succeeded; the app runs for every valid, complete request;
* no page shows an exception's text;
* an app failure is logged once, and an answer without one logs no error;
* the same server then answers an honest ``GET / HTTP/1.0`` with 200.

Two contracts found along the way have tests of their own at the end:
``serve_connection`` closes the socket it is given, and a ProtocolError
raised with a status that is no error is an app failure (a 500).
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from kali import HTTPError, Response
from kali.errors import ProtocolError
from kali.server import Server

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")
given, example, settings = hypothesis.given, hypothesis.example, hypothesis.settings
event = hypothesis.event

#: How long the client waits for the whole answer, and the server thread for
#: serve_connection to return: far above any legitimate wait here.
HANG_SECONDS = 5.0
#: Text of every exception an app raises here: no page may show it.
MARKER = "kali-secret-exception-text"
#: Stands for the server's port in generated text until the example runs.
PORT = "<port>"

VALID, EITHER, BAD = 0, 1, 2


def worst(*verdicts: int) -> int:
    return max(verdicts, default=VALID)


def mostly(items: list[Any], is_good: Callable[[Any], bool] | None = None) -> Any:
    """Draw from ``items``, a good one (verdict VALID) nine times in ten, so
    that whole requests are often valid and reach the app."""
    good = [item for item in items if (is_good or _is_valid)(item)]
    rest = [item for item in items if item not in good]
    return st.sampled_from(good * max(1, 9 * len(rest) // len(good)) + rest)


def _is_valid(item: Any) -> bool:
    return item[-1] == VALID


# -- the request grammar -------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    """``[userinfo] host [port]`` with what each part is."""

    userinfo: str
    host: str
    host_kind: str  # "ours", "other" (well-formed, not this server), "bad"
    port: str
    port_kind: str  # "none", "ours", "padded", "empty", "other", "bad"

    @property
    def text(self) -> str:
        return self.userinfo + self.host + self.port

    def grammar(self) -> int:
        bad = self.userinfo or "bad" in (self.host_kind, self.port_kind)
        return BAD if bad else VALID

    def as_host(self) -> int:
        """As the name of this server (a port is optional)."""
        if self.grammar() == BAD or self.host_kind == "other":
            return BAD
        return {"none": VALID, "ours": VALID}.get(self.port_kind, EITHER)

    def as_origin(self) -> int:
        """As the authority of this server's origin (the port is required)."""
        if self.grammar() == BAD or self.host_kind == "other":
            return BAD
        # Without a port it is ours if the Host header has no port either.
        return {"ours": VALID, "other": BAD}.get(self.port_kind, EITHER)


HOSTS = [
    ("127.0.0.1", "ours"),
    ("localhost", "ours"),
    ("LocalHost", "ours"),
    ("[::1]", "ours"),
    ("example.com", "other"),
    ("127.0.0.2", "other"),
    ("127.0.0.1.", "other"),
    ("%31%32%37.0.0.1", "other"),
    ("[::2]", "other"),
    ("[::ffff:127.0.0.1]", "other"),
    ("[fe80::1%25eth0]", "other"),
    ("", "other"),
    ("[zz]", "bad"),
    ("[1.2.3.4]", "bad"),
    ("[v1.x]", "bad"),
    ("[", "bad"),
    ("[::1", "bad"),
    ("[]", "bad"),
    ("[[::1]]", "bad"),
    ("::1", "bad"),
    ("exämple.com", "bad"),
    ("ex\u2603.com", "bad"),
    ("a<b", "bad"),
    ("a\tb", "bad"),
]
PORTS = [
    ("", "none"),
    (":" + PORT, "ours"),
    (":0" + PORT, "padded"),
    (":", "empty"),
    (":80", "other"),
    (":0", "other"),
    (":65536", "other"),
    (":99999999999999999999", "other"),
    (":abc", "bad"),
    (":-1", "bad"),
    (":+80", "bad"),
    (":８０", "bad"),
    (":" + PORT + ":" + PORT, "bad"),
]
USERINFO = ["user@", "user:pw@", "@", "ü@"]

authorities = st.builds(
    lambda userinfo, host, port: Authority(userinfo, host[0], host[1], *port),
    mostly([""] + USERINFO, lambda userinfo: userinfo == ""),
    mostly(HOSTS, lambda host: host[1] == "ours"),
    mostly(PORTS, lambda port: port[1] in ("none", "ours")),
)

METHODS = [
    ("GET", VALID),
    ("HEAD", VALID),
    ("POST", VALID),
    ("PUT", VALID),
    ("DELETE", VALID),
    ("PATCH", VALID),
    ("OPTIONS", VALID),
    ("TRACE", VALID),
    ("get", BAD),
    ("Post", BAD),
    ("FOO", BAD),
    ("PROPFIND", BAD),
    ("GE(T", BAD),
    ("", BAD),
]
VERSIONS = [
    ("HTTP/1.0", VALID),
    ("HTTP/1.1", VALID),
    ("HTTP/2.0", BAD),
    ("HTTP/1.2", BAD),
    ("HTTP/1", BAD),
    ("http/1.0", BAD),
]
PATH_PIECES = [
    ("a", VALID),
    ("index.html", VALID),
    ("/", VALID),
    ("x-y_z~.!$&'()*+,;=:@", VALID),
    ("..", VALID),
    ("/[zz]/", VALID),
    ("%41", EITHER),
    ("%2f", EITHER),
    ("%2F", EITHER),
    ("%00", EITHER),
    ("%0d%0a", EITHER),
    ("%zz", EITHER),
    ("%", EITHER),
    ("%4", EITHER),
    ("%e9", EITHER),
    ("%c3%a9", EITHER),
    ("é", BAD),
    ("\u2603", BAD),
    (" ", BAD),
    ("\t", BAD),
    ("\x7f", BAD),
]
QUERY_PIECES = [
    ("a=1", VALID),
    ("&", VALID),
    ("=", VALID),
    ("+", VALID),
    ("v=%0d%0aSet-Cookie:%20x=1", EITHER),
    ("%e9", EITHER),
    ("%zz", EITHER),
    ("#fragment", EITHER),
    ("é", BAD),
]
TARGET_SCHEMES = [("http", VALID), ("HTTP", VALID), ("https", EITHER)]
TARGET_SCHEMES += [("ftp", BAD), ("", BAD), ("http:", BAD)]
ODD_TARGETS = [("*", BAD), ("", BAD), ("?a=1", BAD), ("//evil.example/x", VALID)]
URL_SCHEMES = [("http", VALID), ("HTTP", EITHER), ("https", BAD), ("", BAD)]
GARBAGE_HOSTS = [  # (value, verdict on its grammar, verdict as this server)
    ("", EITHER, EITHER),
    ("a b", BAD, BAD),
    ("\x01", BAD, BAD),
    ("http://127.0.0.1", BAD, BAD),
    ("127.0.0.1/x", BAD, BAD),
    ("[::1]x", BAD, BAD),
]
GARBAGE_ORIGINS = ["null", "", "*", "http://[", "http://[zz]", "http://[::1"]
GARBAGE_REFERERS = ["http://[", "http://[zz]/", "http://[::1/", "not a url", ""]
GARBAGE_REFERERS += ["/relative", "javascript:alert(1)"]
FETCH_SITES = [("same-origin", VALID), ("none", VALID), ("Same-Origin", EITHER)]
FETCH_SITES += [("cross-site", BAD), ("same-site", BAD), ("garbage", EITHER)]
CONTENT_TYPES = [
    ("text/plain", VALID),
    ("application/json", VALID),
    ("application/x-www-form-urlencoded", EITHER),
    ("multipart/form-data", EITHER),
    ("multipart/form-data; boundary=xyz", EITHER),
]
BAD_LENGTHS = ["abc", "-1", "1.5", "+1", "0x1", "1 1", "", "1" * 19]
EXTRA_LINES = [
    ("X-Fine: yes", VALID),
    ("Cookie: a=b", VALID),
    ("X-Latin: caf\xe9", VALID),
    ("X-Bad Name: v", BAD),
    ("No colon here", BAD),
    (" folded", BAD),
    ("Transfer-Encoding: chunked", VALID),  # the body is then sent chunked
    ("Content_Length: 5", BAD),
    ("X-Control: a\x01b", BAD),
]


@dataclass(frozen=True)
class Case:
    """One request as bytes (with :data:`PORT` to fill in) and its verdict."""

    raw: bytes
    verdict: int
    method: str = "GET"
    #: Content-Length promises more than is sent: the client half-closes.
    short_body: bool = False
    half_close: bool = False

    def data(self, port: int) -> bytes:
        return self.raw.replace(PORT.encode(), str(port).encode())


@st.composite
def origin_forms(draw: Any) -> tuple[str, int]:
    pieces = draw(st.lists(mostly(PATH_PIECES), max_size=4))
    query = draw(st.lists(mostly(QUERY_PIECES), max_size=3))
    text = "/" + "".join(text for text, _ in pieces)
    if query:
        text += "?" + "".join(text for text, _ in query)
    return text, worst(*(verdict for _, verdict in pieces + query))


@st.composite
def urls(draw: Any) -> tuple[str, int]:
    """A Referer: an absolute URL (verdict: is it ours?) or garbage."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(GARBAGE_REFERERS)), BAD
    scheme, scheme_verdict = draw(mostly(URL_SCHEMES))
    authority = draw(authorities)
    path = draw(st.sampled_from(["", "/", "/page?x=1", "/é", "#top"]))
    return f"{scheme}://{authority.text}{path}", worst(
        scheme_verdict, authority.as_origin()
    )


@st.composite
def origins(draw: Any) -> tuple[str, int]:
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(GARBAGE_ORIGINS)), BAD
    scheme, scheme_verdict = draw(mostly(URL_SCHEMES))
    authority = draw(authorities)
    end, end_verdict = draw(mostly([("", VALID), ("/", EITHER), ("/x", BAD)]))
    return f"{scheme}://{authority.text}{end}", worst(
        scheme_verdict, authority.as_origin(), end_verdict
    )


def cross_site_verdict(
    origin: tuple[str, int] | None,
    fetch_site: tuple[str, int] | None,
    referer: tuple[str, int] | None,
) -> int:
    """For a method other than GET/HEAD: is the request same-site?"""
    if origin is not None:  # the Origin decides; a Sec-Fetch-Site may too
        same_origin = fetch_site and fetch_site[0].lower() == "same-origin"
        if origin[0] == "null" and same_origin:
            return fetch_site[1]  # Chromium's no-referrer form POST (issue 16.6)
        return worst(origin[1], EITHER if fetch_site and fetch_site[1] else VALID)
    return worst(*(part[1] for part in (fetch_site, referer) if part is not None))


@st.composite
def requests(draw: Any) -> Case:
    method, method_verdict = draw(mostly(METHODS))
    version, version_verdict = draw(mostly(VERSIONS))
    form = draw(mostly(["origin", "absolute", "odd"], lambda form: form != "odd"))
    verdicts = [method_verdict, version_verdict]
    if form == "origin":
        target, target_verdict = draw(origin_forms())
    elif form == "absolute":
        scheme, scheme_verdict = draw(mostly(TARGET_SCHEMES))
        authority = draw(authorities)
        path, path_verdict = draw(st.one_of(st.just(("", VALID)), origin_forms()))
        target = f"{scheme}://{authority.text}{path}"
        target_verdict = worst(scheme_verdict, authority.as_host(), path_verdict)
    else:
        target, target_verdict = draw(st.sampled_from(ODD_TARGETS))
    verdicts.append(target_verdict)
    lines = []

    host_kind = draw(mostly(["name", "none", "garbage"], lambda kind: kind == "name"))
    if host_kind == "name":
        authority = draw(authorities)
        host = (authority.text, authority.grammar(), authority.as_host())
    elif host_kind == "garbage":
        host = draw(st.sampled_from(GARBAGE_HOSTS))
    else:
        host = None
    if host is None:
        verdicts.append(BAD if version == "HTTP/1.1" else VALID)
    else:
        lines.append(f"Host: {host[0]}")
        # The authority of an absolute-form target names the server instead.
        verdicts.append(host[1] if form == "absolute" else host[2])

    origin = draw(st.none() | origins())
    fetch_site = draw(st.none() | mostly(FETCH_SITES))
    referer = draw(st.none() | urls())
    for name, part in (("Origin", origin), ("Sec-Fetch-Site", fetch_site)):
        if part is not None:
            lines.append(f"{name}: {part[0]}")
    if referer is not None:
        lines.append(f"Referer: {referer[0]}")
    if method not in ("GET", "HEAD") and method_verdict == VALID:
        verdicts.append(cross_site_verdict(origin, fetch_site, referer))

    body = draw(st.binary(max_size=12))
    length = draw(
        mostly(
            ["none", "exact", "less", "more", "bad", "huge", "twice"],
            lambda kind: kind in ("none", "exact", "less"),
        )
    )
    short_body = False
    if length == "exact" or length == "twice":
        lines.append(f"Content-Length: {len(body)}")
        if length == "twice":
            lines.append(f"Content-Length: {len(body)}")
            verdicts.append(BAD)
    elif length == "more":
        lines.append(f"Content-Length: {len(body) + draw(st.integers(1, 5))}")
        short_body = True
    elif length == "less" and body:
        lines.append(f"Content-Length: {draw(st.integers(0, len(body) - 1))}")
    elif length == "bad":
        lines.append(f"Content-Length: {draw(st.sampled_from(BAD_LENGTHS))}")
        verdicts.append(BAD)
    elif length == "huge":
        lines.append("Content-Length: 99999999999")  # past Limits.max_body_bytes
        verdicts.append(BAD)
    content_type = draw(st.none() | mostly(CONTENT_TYPES))
    if content_type is not None:
        lines.append(f"Content-Type: {content_type[0]}")
        verdicts.append(content_type[1])
    extras = draw(st.lists(mostly(EXTRA_LINES), max_size=2))
    for line, verdict in extras:
        lines.append(line)
        verdicts.append(verdict)
    chunked = sum(line.startswith("Transfer-Encoding") for line, _ in extras)
    if chunked:
        # Chunked framing alone, from HTTP/1.1, is valid (RFC 9112 6.1);
        # with Content-Length, twice, or from HTTP/1.0, a 400.
        sized = any(line.startswith("Content-Length") for line in lines)
        if chunked > 1 or sized or version != "HTTP/1.1":
            verdicts.append(BAD)
        encoded = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + (
            b"0\r\n\r\n"
        )
        cut = draw(st.integers(0, len(encoded)))
        body = encoded[:cut]
        short_body = short_body or cut < len(encoded)

    lines = draw(st.permutations(lines))
    head = "\r\n".join([f"{method} {target} {version}", *lines]) + "\r\n\r\n"
    return Case(
        raw=head.encode("utf-8") + body,
        verdict=worst(*verdicts),
        method=method,
        short_body=short_body,
        half_close=short_body or draw(st.booleans()),
    )


# -- apps that fail in every way -------------------------------------------------


class Unprintable(Exception):
    """An exception whose text cannot even be made."""

    def __str__(self) -> str:
        raise RuntimeError(MARKER)

    __repr__ = __str__


class BadText:
    def __str__(self) -> str:
        raise ValueError(MARKER)


class BadIterable:
    def __iter__(self) -> Any:
        raise RuntimeError(MARKER)


def failing_chunks(after_first: bool) -> Any:
    if after_first:  # big enough to go out alone, not joined with what follows
        yield b"x" * (128 * 1024)
    raise RuntimeError(MARKER)


def failing_body() -> Any:
    yield "a"
    raise KeyError(MARKER)


def recurse(request: Any) -> Any:
    return recurse(request)


@dataclass(frozen=True)
class Mode:
    """What the app does, and the statuses it may get (for HEAD too)."""

    name: str
    handler: Callable[[Any], Any] = field(repr=False)
    statuses: frozenset[int]
    #: The app succeeded or answered on purpose: nothing is logged as an error.
    quiet: bool
    head_statuses: frozenset[int] | None = None
    head_quiet: bool | None = None
    #: A GET may end in a close without an answer (a body failed too late).
    reset_ok: bool = False

    def allowed(self, head_only: bool) -> frozenset[int]:
        return (self.head_statuses if head_only else None) or self.statuses

    def is_quiet(self, head_only: bool) -> bool:
        return (
            self.head_quiet if head_only and self.head_quiet is not None else self.quiet
        )


def returning(name: str, make: Callable[[], Any], status: int = 200) -> Mode:
    return Mode(name, lambda request: make(), frozenset([status]), quiet=True)


def raising(name: str, make: Callable[[], BaseException], status: int = 500) -> Mode:
    def handler(request: Any) -> Any:
        raise make()

    return Mode(name, handler, frozenset([status]), quiet=status != 500)


def streaming(name: str, chunks: Callable[[], Any], *, after_first: bool) -> Mode:
    return Mode(
        name,
        lambda request: Response.stream(chunks()),
        frozenset([200] if after_first else [500]),
        quiet=False,
        head_statuses=frozenset([200]),  # a HEAD never runs the body
        head_quiet=True,
        reset_ok=True,
    )


def failing(name: str, make: Callable[[], Any]) -> Mode:
    """The app returns what ``make()`` gives, and that fails: a 500."""
    return Mode(name, lambda request: make(), frozenset([500]), quiet=False)


def deep_list(depth: int) -> Any:
    body: Any = "deep"
    for _ in range(depth):
        body = [body]
    return body


MODES = [
    returning("iolist", lambda: ["ok ", b"bytes", ("nested", [bytearray(b"!")])]),
    returning("int", lambda: 42),
    returning("object", lambda: object()),
    returning("none", lambda: None),
    returning("dict", lambda: {"a": [1, 2.5], b"b": None}),
    returning("deep", lambda: deep_list(10_000)),
    returning("response", lambda: Response("ok", headers={"x-a": "b"})),
    returning("no content", lambda: Response("", code=204), 204),
    returning("redirect", lambda: Response.redirect("/elsewhere"), 302),
    returning("stream", lambda: Response.stream(iter([b"a", "b", 3]))),
]
MODES += [
    failing(name, body)
    for name, body in [
        ("body str fails", lambda: BadText()),
        ("nested str fails", lambda: ["a", [b"b", (BadText(),)]]),
        ("dict key fails", lambda: {BadText(): 1}),
        ("iter fails", lambda: BadIterable()),
        ("generator fails", lambda: failing_body()),
        ("json fails", lambda: Response.json({"a": object()})),
        ("bad status", lambda: Response("x", code=1000)),
    ]
]
MODES += [
    streaming("stream fails first", lambda: failing_chunks(False), after_first=False),
    streaming("stream fails later", lambda: failing_chunks(True), after_first=True),
    streaming("stream item fails", lambda: [b"a", BadText()], after_first=False),
    Mode("recursion", recurse, frozenset([500]), quiet=False),
]
MODES += [
    raising(exception.__name__, lambda exception=exception: exception(MARKER))
    for exception in [
        ValueError,
        KeyError,
        RuntimeError,
        UnicodeError,
        RecursionError,
        Unprintable,
        OSError,
        ConnectionResetError,
        TimeoutError,
        AssertionError,
        StopIteration,
        MemoryError,
        TypeError,
    ]
]
MODES += [
    raising(
        "UnicodeDecodeError", lambda: UnicodeDecodeError("utf-8", b"\xff", 0, 1, MARKER)
    ),
    raising("404", lambda: HTTPError(404, "gone"), 404),
    raising("405", lambda: HTTPError(405, "no", headers={"Allow": "GET"}), 405),
    raising("418 CRLF message", lambda: HTTPError(418, "<b>\r\nX: y"), 418),
    raising("503", lambda: HTTPError(503, "", headers=[("Retry-After", 1)]), 503),
    raising("599", lambda: HTTPError(599), 599),
    raising("ProtocolError", lambda: ProtocolError("bad input", 400), 400),
    raising("ProtocolError 413", lambda: ProtocolError("too big", 413), 413),
]
BAD_HEADERS: list[Any] = [
    {"x-echo": "a\r\nSet-Cookie: x=1 " + MARKER},
    {"x-echo": "a\nb"},
    {"x-echo": "a\rb"},
    {"x-echo": "a\x00b"},
    {"bad name": "x"},
    {"": "x"},
    {"a:b": "x"},
    {"é": "x"},
    {"x-echo": BadText()},
    {"content-length": "5"},
    [("only-one",)],
    [("a", "b", "c")],
    5,
]
MODES += [
    raising(
        f"HTTPError headers={headers!r}", lambda h=headers: HTTPError(400, headers=h)
    )
    for headers in BAD_HEADERS
]
MODES += [
    raising(f"HTTPError({status!r})", lambda s=status: HTTPError(s, "odd"))
    for status in [1234, 200, 302, 399, 600, 99, -1, True, "404", 404.0, None]
]
MODE_BY_NAME = {mode.name: mode for mode in MODES}


@dataclass(frozen=True)
class Page:
    """An ``error_page`` function, and whether it may log or reset."""

    name: str
    function: Callable[[Any, int, str], Any] | None = field(repr=False)
    quiet: bool = True
    #: Its pages may fail while being sent: an error then has no answer.
    reset_ok: bool = False


def raise_from_page(request: Any, status: int, message: str) -> Any:
    raise KeyError(MARKER)


PAGES = [
    Page("none", None),
    Page("custom", lambda request, status, message: ["custom ", status, message]),
    Page("response", lambda request, status, message: Response("c", code=status)),
    Page("int", lambda request, status, message: 42),
    Page("raises", raise_from_page, quiet=False),
    Page("bad str", lambda request, status, message: BadText(), quiet=False),
    Page(
        "bad iter", lambda request, status, message: ["x", BadIterable()], quiet=False
    ),
    Page("uses request", lambda request, status, message: [request.path], quiet=False),
    Page(
        "stream fails",
        lambda request, status, message: Response.stream(
            failing_chunks(False), code=status
        ),
        quiet=False,
        reset_ok=True,
    ),
]
PAGE_BY_NAME = {page.name: page for page in PAGES}


class App:
    """Runs the mode's handler while armed; after that, answers "ok"."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.calls = 0
        self.armed = True

    def __call__(self, request: Any) -> Any:
        if not self.armed:
            return "ok"
        self.calls += 1
        return self.mode.handler(request)


# -- one exchange over a socketpair --------------------------------------------------


class Errors(logging.Handler):
    """Collects the records of level ERROR and above of the kali logger."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> list[str]:
        messages = [record.getMessage() for record in self.records]
        self.records.clear()
        return messages


@dataclass
class Exchange:
    reply: bytes
    returned: Any = None
    raised: BaseException | None = None
    finished: bool = False
    #: Did serve_connection close the socket, as its docstring says?
    closed: bool = False


def exchange(server: Server, data: bytes, *, half_close: bool) -> Exchange:
    """Write ``data``, have ``server`` answer, read until EOF or reset."""
    client, served = socket.socketpair()
    outcome = Exchange(b"")

    def serve() -> None:
        try:
            outcome.returned = server.serve_connection(served, ("127.0.0.1", 50000))
        except BaseException as error:  # the property under test
            outcome.raised = error
        finally:
            outcome.closed = served.fileno() == -1
            served.close()  # as serve_forever does, so that the client sees EOF
            outcome.finished = True

    try:
        client.sendall(data)  # small: it fits the socket buffer at once
        if half_close:
            client.shutdown(socket.SHUT_WR)
    except BaseException:
        client.close()
        served.close()
        raise
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    chunks = []
    try:
        deadline = time.monotonic() + HANG_SECONDS
        while True:
            client.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                chunk = client.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                pytest.fail(f"no end of answer after {HANG_SECONDS} s: {data!r}")
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        client.close()
        thread.join(HANG_SECONDS)
    assert outcome.finished, f"serve_connection did not return: {data!r}"
    assert outcome.raised is None, f"serve_connection raised {outcome.raised!r}"
    outcome.reply = b"".join(chunks)
    return outcome


STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9]) [^\r\n]*\r\n")
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *([0-9]+)\r\n", re.I)


def status_of(reply: bytes, head: str) -> int | None:
    """The status of ``reply`` (None when empty), checking its framing.

    ``head`` is "no body" (a HEAD the app answered), "maybe a body" (a HEAD
    kali refused: a malformed one is not known to be a HEAD) or "body".
    """
    if not reply:
        return None
    match = STATUS_LINE.match(reply)
    assert match, f"not an HTTP/1.x status line: {reply[:80]!r}"
    assert b"\r\n\r\n" in reply, f"no end of head: {reply[:200]!r}"
    fields, body = reply.split(b"\r\n\r\n", 1)
    length = CONTENT_LENGTH.search(fields + b"\r\n")
    if head == "no body" or (head == "maybe a body" and not body):
        assert body == b"", "a body in the answer to HEAD"
    elif length is not None:
        assert len(body) == int(length.group(1)), f"framing: {reply[:200]!r}"
    return int(match.group(1))


def is_client_error(status: int | None) -> bool:
    return status is not None and (400 <= status < 500 or status in (501, 505))


def check(case: Case, mode: Mode, page: Page, answer: Exchange, app: App) -> str:
    """Check the answer; return what happened, for the statistics."""
    head_only = case.method == "HEAD"
    ran = app.calls == 1
    framing = "body" if not head_only else "no body" if ran else "maybe a body"
    status = status_of(answer.reply, framing)
    assert not answer.returned, "a shut_down nobody asked for"
    assert MARKER.encode() not in answer.reply, "an exception's text was sent"
    assert app.calls <= 1
    page_reset = page.reset_ok  # (a malformed HEAD gets a body too)
    if ran:
        assert case.verdict != BAD, f"the app ran for a bad request ({status})"
        assert not case.short_body, "the app ran before its body arrived"
        if status is None:
            assert (mode.reset_ok and not head_only) or page_reset, "no answer"
        else:
            assert status in mode.allowed(head_only), f"{mode.name}: {status}"
    else:
        assert not (case.verdict == VALID and not case.short_body), (
            f"a valid request did not reach the app ({status})"
        )
        if status is None:
            assert (case.short_body and case.verdict != BAD) or page_reset, "no answer"
        else:
            assert is_client_error(status), f"not a client error: {status}"
    verdict = ("valid", "either", "bad")[case.verdict]
    return f"{verdict} request, app {'ran' if ran else 'not run'}: {status}"


def still_serving(server: Server, app: App, errors: Errors) -> None:
    app.armed = False
    answer = exchange(server, b"GET / HTTP/1.0\r\n\r\n", half_close=False)
    assert status_of(answer.reply, "body") == 200 and answer.reply.endswith(b"ok")
    assert errors.take() == [], "an honest request logged an error"


# -- the property --------------------------------------------------------------------


def run(case: Case, mode: Mode, page: Page) -> str:
    app = App(mode)
    server = Server(app, port=0, error_page=page.function)
    kali_log = logging.getLogger("kali")
    errors = Errors()
    kali_log.addHandler(errors)
    try:
        server.bind()
        answer = exchange(server, case.data(server.port), half_close=case.half_close)
        logged = errors.take()
        outcome = check(case, mode, page, answer, app)
        if page.quiet:  # an app failure is logged once; no failure, no error
            quiet = not app.calls or mode.is_quiet(case.method == "HEAD")
            assert len(logged) == (0 if quiet else 1), logged
        still_serving(server, app, errors)
    finally:
        kali_log.removeHandler(errors)
        server.close()
    return outcome


def request(raw: str, verdict: int, *, method: str = "GET", **more: bool) -> Case:
    return Case(raw.encode("utf-8"), verdict, method=method, **more)


@settings(max_examples=1000, deadline=None, database=None)
@given(
    case=requests(),
    mode=st.sampled_from(MODES),
    page=st.sampled_from(PAGES),
)
@example(  # the vectors of issue 13
    case=request("GET http://[zz]/ HTTP/1.0\r\n\r\n", BAD),
    mode=MODE_BY_NAME["iolist"],
    page=PAGE_BY_NAME["none"],
)
@example(
    case=request("GET http://[1.2.3.4]/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", BAD),
    mode=MODE_BY_NAME["iolist"],
    page=PAGE_BY_NAME["none"],
)
@example(
    case=request(
        "POST / HTTP/1.0\r\nReferer: http://[zz]/\r\nContent-Length: 0\r\n\r\n",
        BAD,
        method="POST",
    ),
    mode=MODE_BY_NAME["iolist"],
    page=PAGE_BY_NAME["none"],
)
@example(
    case=request("POST / HTTP/1.0\r\nReferer: http://[\r\n\r\n", BAD, method="POST"),
    mode=MODE_BY_NAME["iolist"],
    page=PAGE_BY_NAME["custom"],
)
@example(
    case=request("GET /echo?v=a%0d%0ab HTTP/1.0\r\n\r\n", VALID),
    mode=MODE_BY_NAME[f"HTTPError headers={BAD_HEADERS[0]!r}"],
    page=PAGE_BY_NAME["none"],
)
@example(
    case=request("GET / HTTP/1.1\r\nHost: 127.0.0.1:" + PORT + "\r\n\r\n", VALID),
    mode=MODE_BY_NAME["stream fails first"],
    page=PAGE_BY_NAME["raises"],
)
def test_the_loop_answers_or_closes_and_goes_on(case: Case, mode: Mode, page: Page):
    event(run(case, mode, page))  # see --hypothesis-show-statistics


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.0\r\n\r\n",
        b"",  # a client that connects and says nothing
        b"POST / HTTP/1.0\r\nContent-Length: 1\r\n\r\n",  # a body cut short
        b"GET / HTTP/1.0\r\nHost: [zz]\r\n\r\n",
    ],
)
def test_serve_connection_closes_the_socket_it_is_given(data):
    """As its docstring says, whether or not there was anything to answer."""
    server = Server(App(MODE_BY_NAME["iolist"]), port=0)
    try:
        server.bind()
        assert exchange(server, data, half_close=True).closed
    finally:
        server.close()


@pytest.mark.parametrize("status", [100, 200, 204, 302, 999])
def test_a_protocol_error_with_a_status_that_is_no_error_is_a_500(status):
    """ProtocolError stands for a 4xx/5xx: an app that raises one with any
    other status has failed, as one raising ``HTTPError(200)`` has."""
    mode = raising(f"ProtocolError({status})", lambda: ProtocolError("odd", status))
    run(request("GET / HTTP/1.0\r\n\r\n", VALID), mode, PAGE_BY_NAME["none"])
