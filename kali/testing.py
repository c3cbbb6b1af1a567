"""kali.testing: call a handler in-process, the way the server would.

    from kali.testing import Client

    client = Client(make_app())
    page = client.get('/tasks/', query={'sort': 'due'})
    assert page.status == 200 and 'Buy milk' in page.text
    saved = client.post('/tasks/new', data={'title': 'Walk dog'})
    assert saved.status == 302 and saved.location == '/tasks/'
    api = client.post('/api/tasks', json={'title': 'Walk dog'})
    assert api.json()['ok']

The client hands each request to the server's own pipeline
(``kali.handling.Pipeline``): the server's security policy (Host, cross-site
checks) unless told not to, a real :class:`~kali.request.Request` (so form,
multipart and JSON bodies go through kali's own parsers), the handler inside
the one error boundary (HTTPError pages, 500 pages, the app's
``error_page``). It drops the body of HEAD answers.
It keeps a cookie jar across calls, like a browser.

This module must not open sockets: nothing here touches the network.
"""

from __future__ import annotations

import datetime
import email.utils
import json as _json
import re
import secrets
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Union

from .errors import HTTPError, ProtocolError

# The server's pipeline is reused, not copied, so tests see exactly what a
# browser would.
from .handling import AppOptions, ErrorPage, Pipeline, PlainHead, app_options
from .multidict import Bag
from .protocol import Limits
from .request import Request
from .response import Response
from .security import SecurityPolicy
from .testing_forms import Form, Upload, encode_multipart_entries, parse_forms

#: Form fields: a dict, a Bag or (name, value) pairs.
Fields = Union[Mapping[str, Any], Bag, Iterable[tuple[str, Any]]]

_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 10


def _pairs(fields: Fields) -> list[tuple[str, Any]]:
    if isinstance(fields, Bag):
        return list(fields.items())
    if isinstance(fields, Mapping):
        return list(fields.items())
    return list(fields)


def encode_multipart(
    fields: Fields, files: Mapping[str, Upload], boundary: str
) -> bytes:
    """A ``multipart/form-data`` body as a browser would send it: the fields,
    then the files."""
    entries: list[tuple[str, str | bytes | Upload]] = [
        (name, value if isinstance(value, bytes) else str(value))
        for name, value in _pairs(fields)
    ]
    entries += list(files.items())
    return encode_multipart_entries(entries, boundary)


class Headers(Mapping[str, str]):
    """Response headers with case-insensitive names; ``h[name]`` is the last
    value sent (as ``Response.get_header``), ``get_list(name)`` all of them."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.pairs = [(name.lower(), value) for name, value in pairs]

    def __getitem__(self, name: str) -> str:
        values = self.get_list(name)
        if not values:
            raise KeyError(name)
        return values[-1]

    def get_list(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.pairs if key == name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self.pairs))

    def __len__(self) -> int:
        return len(set(name for name, _ in self.pairs))

    def __repr__(self) -> str:
        return f"Headers({self.pairs!r})"


def cookie_attributes(value: str) -> dict[str, str]:
    """The attributes of one ``set-cookie`` header value, names lower-case
    (``{'path': '/admin', 'httponly': ''}``); the last of a name wins."""
    found = {}
    for attribute in value.split(";")[1:]:
        key, _, arg = attribute.strip().partition("=")
        found[key.strip().lower()] = arg.strip()
    return found


def parse_set_cookie(value: str) -> tuple[str, str, bool]:
    """``(name, value, expired)`` from one ``set-cookie`` header value:
    expired by ``Max-Age`` <= 0 or, lacking it, an ``Expires`` date past."""
    first = value.split(";")[0]
    name, _, cookie = first.partition("=")
    attributes = cookie_attributes(value)
    expired = False
    if "max-age" in attributes:  # RFC 6265 5.3 step 3: Max-Age wins
        try:
            expired = int(attributes["max-age"]) <= 0
        except ValueError:
            pass
    elif "expires" in attributes:
        try:
            when = email.utils.parsedate_to_datetime(attributes["expires"])
        except (TypeError, ValueError, IndexError):
            pass
        else:
            if when.tzinfo is None:
                when = when.replace(tzinfo=datetime.timezone.utc)
            expired = when <= datetime.datetime.now(datetime.timezone.utc)
    return name.strip(), cookie.strip(), expired


def default_cookie_path(request_path: str) -> str:
    """RFC 6265 5.1.4: the folder of the request's path (``/a/b`` -> ``/a``)."""
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[: request_path.rindex("/")]


def path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 5.1.4: is a cookie of ``cookie_path`` sent to ``request_path``?"""
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    )


class CookieJar(dict[str, str]):
    """A browser's cookies for the app: name -> value, plus each cookie's
    ``Path`` in :attr:`paths` (a cookie set by a test, ``jar[name] = value``,
    has the path ``/``). One cookie per name: a second ``set-cookie`` of a
    name replaces the first, whatever its path."""

    def __init__(self) -> None:
        super().__init__()
        #: name -> the Path attribute the cookie came with.
        self.paths: dict[str, str] = {}

    def store(self, header: str, request_path: str) -> None:
        """Keep (or forget, if expired) the cookie of one ``set-cookie``."""
        name, value, expired = parse_set_cookie(header)
        if expired:
            self.pop(name, None)
            return
        path = cookie_attributes(header).get("path", "")
        if not path.startswith("/"):
            path = default_cookie_path(request_path)
        self[name] = value
        self.paths[name] = path

    def header_for(self, request_path: str) -> str | None:
        """The ``cookie`` header for a request to ``request_path``: the
        cookies whose path matches, longest path first (RFC 6265 5.4)."""
        chosen = [
            (name, value, self.paths.get(name, "/"))
            for name, value in self.items()
            if path_matches(request_path, self.paths.get(name, "/"))
        ]
        chosen.sort(key=lambda cookie: -len(cookie[2]))
        return "; ".join(f"{name}={value}" for name, value, _ in chosen) or None

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        self.paths.pop(name, None)

    def pop(self, name: str, *default: Any) -> Any:  # type: ignore[override]
        self.paths.pop(name, None)
        return super().pop(name, *default)

    def clear(self) -> None:
        super().clear()
        self.paths.clear()


class TestResponse:
    """What the handler answered, parsed: ``status`` (also ``status_code``),
    ``reason``, ``headers`` (case-insensitive), ``body`` (bytes; empty for
    HEAD), ``text``, ``json()``, ``location``, ``content_type``, ``cookies``
    (set by this response), the original ``response``, the ``url`` asked
    for (path and query) and the ``client`` that asked. ``forms`` and
    :meth:`form` fill in and submit the page's forms; :meth:`follow` follows
    a redirect."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        response: Response,
        body: bytes,
        *,
        url: str = "/",
        client: Client | None = None,
    ) -> None:
        self.response = response
        self.url = url
        self.client = client
        self._forms: list[Form] | None = None
        self.status = response.code
        self.reason = response.reason
        self.headers = Headers(response.headers)
        self.body = body
        self.cookies: dict[str, str] = {}
        for header in self.headers.get_list("set-cookie"):
            name, value, _expired = parse_set_cookie(header)
            self.cookies[name] = value

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ('' if none)."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    @property
    def text(self) -> str:
        """The body decoded by its charset (default UTF-8; errors replaced)."""
        match = re.search(r"charset=([\w.-]+)", self.headers.get("content-type", ""))
        charset = match.group(1) if match else "utf-8"
        try:
            return self.body.decode(charset, "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (ValueError if it is not)."""
        return _json.loads(self.body.decode("utf-8"))

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @property
    def status_code(self) -> int:
        """The status, under the name requests and Werkzeug use."""
        return self.status

    @property
    def forms(self) -> list[Form]:
        """Every ``<form>`` of the page, parsed once (see :meth:`form`)."""
        if self._forms is None:
            self._forms = parse_forms(self.text, self.url, self.client)
        return self._forms

    def form(self, which: str | int | None = None) -> Form:
        """A form of the page, to fill in and submit (:mod:`kali.testing_forms`).

        ``which`` is the form's ``id``, its ``name`` or its index; None means
        the page's only form. Raises LookupError (KeyError, IndexError) when
        there is no such form, and ValueError when None is ambiguous.
        """
        forms = self.forms
        if which is None:
            if len(forms) == 1:
                return forms[0]
            if not forms:
                raise LookupError(f"the page at {self.url} has no <form>")
            raise ValueError(
                f"the page at {self.url} has {len(forms)} forms: give an id, a "
                "name or an index"
            )
        if isinstance(which, int) and not isinstance(which, bool):
            try:
                return forms[which]
            except IndexError:
                raise IndexError(
                    f"the page at {self.url} has {len(forms)} forms, no [{which}]"
                ) from None
        for attribute in ("id", "name"):
            for form in forms:
                if getattr(form, attribute) == which:
                    return form
        names = [form.id or form.name for form in forms]
        raise KeyError(f"no form with id or name {which!r} at {self.url}: {names}")

    def follow(self, **options: Any) -> TestResponse:
        """GET the redirect's ``location`` with the same client. ValueError
        if this is not a redirect to a path of the app."""
        location = self.location
        if self.status not in _REDIRECTS or not location:
            raise ValueError(f"{self!r} is not a redirect")
        if self.client is None:
            raise ValueError("this response came from no client")
        target = urllib.parse.urlsplit(urllib.parse.urljoin(self.url, location))
        if target.scheme or target.netloc:
            raise ValueError(f"the redirect leaves the app: {location!r}")
        path = target.path + (f"?{target.query}" if target.query else "")
        return self.client.get(path, **options)

    def __repr__(self) -> str:
        return f"<TestResponse {self.status} {self.reason}>"


class Client:
    """Send requests to ``handler`` in-process; see the module docstring.

    ``debug`` shows tracebacks in 500 pages (as ``serve_http(debug=True)``),
    ``error_page`` is the server's option of that name (or give ``options``,
    an :class:`~kali.handling.AppOptions`), ``security=False``
    skips the Host and cross-site checks, ``raise_exceptions=True`` lets a
    handler's exception propagate to the test instead of becoming a 500.
    Requests carry ``Host: {host}:{port}``.
    """

    __test__ = False

    def __init__(
        self,
        handler: Any,
        *,
        debug: bool = False,
        error_page: ErrorPage | None = None,
        security: bool = True,
        raise_exceptions: bool = False,
        host: str = "127.0.0.1",
        port: int = 8080,
        limits: Limits | None = None,
        options: AppOptions | None = None,
    ) -> None:
        self.handler = handler
        self.raise_exceptions = raise_exceptions
        options = app_options(options, debug=debug, error_page=error_page)
        self.debug = options.debug
        self.limits = limits or Limits()
        #: The server's one request pipeline, running this client's handler.
        self.pipeline = Pipeline(self._run, options, self.limits)
        self.host = f"{host}:{port}"
        self.policy = SecurityPolicy.for_server(host, port) if security else None
        #: Cookies the app set and will get back, like a browser's jar
        #: (a dict of name -> value that also knows each cookie's Path).
        self.cookies = CookieJar()
        self._failure: Exception | None = None

    def _run(self, request: Request) -> Response:
        try:
            result = self.handler(request)
            return result if isinstance(result, Response) else Response(result)
        except (HTTPError, ProtocolError):
            raise
        except Exception as error:
            if self.raise_exceptions:
                self._failure = error
            raise

    # -- the verbs -------------------------------------------------------------

    def get(self, path: str, **options: Any) -> TestResponse:
        return self.request("GET", path, **options)

    def head(self, path: str, **options: Any) -> TestResponse:
        return self.request("HEAD", path, **options)

    def post(self, path: str, **options: Any) -> TestResponse:
        return self.request("POST", path, **options)

    def put(self, path: str, **options: Any) -> TestResponse:
        return self.request("PUT", path, **options)

    def patch(self, path: str, **options: Any) -> TestResponse:
        return self.request("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> TestResponse:
        return self.request("DELETE", path, **options)

    def options(self, path: str, **options: Any) -> TestResponse:
        return self.request("OPTIONS", path, **options)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Fields | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        data: Fields | None = None,
        files: Mapping[str, Upload] | None = None,
        json: Any = None,
        body: bytes | None = None,
        content_type: str | None = None,
        follow_redirects: bool = False,
    ) -> TestResponse:
        """Send one request and return the parsed answer.

        ``path`` may carry a query; ``query`` adds more pairs. The body is
        one of: ``data`` (urlencoded form), ``data`` plus ``files``
        (multipart, ``{name: (filename, bytes[, type])}``), ``json`` (any
        JSON value) or raw ``body`` bytes with ``content_type``.
        ``follow_redirects`` follows local redirects (303 and 302 as GET).
        """
        payload, kind = self._body(data, files, json, body, content_type)
        target = self._target(path, query)
        extra = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        answer = self._send(method, target, extra, payload, kind)
        for _ in range(_MAX_REDIRECTS):
            location = answer.location
            if not follow_redirects or answer.status not in _REDIRECTS:
                break
            if (
                location is None
                or not location.startswith("/")
                or location.startswith("//")
            ):
                break
            if answer.status in (307, 308):
                answer = self._send(method, location, extra, payload, kind)
            else:
                answer = self._send(
                    "GET" if method != "HEAD" else "HEAD", location, extra, b"", None
                )
        return answer

    @staticmethod
    def _target(path: str, query: Fields | None) -> str:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        # What a browser does to a typed URL: percent-encode what may not
        # appear on the wire, leave existing escapes alone.
        target = re.sub(r"[^\x21-\x7e]", lambda m: urllib.parse.quote(m.group()), path)
        if query:
            joiner = "&" if "?" in target else "?"
            target += joiner + urllib.parse.urlencode(_pairs(query))
        return target

    @staticmethod
    def _body(
        data: Fields | None,
        files: Mapping[str, Upload] | None,
        json: Any,
        body: bytes | None,
        content_type: str | None,
    ) -> tuple[bytes, str | None]:
        given = sum(x is not None for x in (data if not files else None, json, body))
        if given > 1 or (files and (json is not None or body is not None)):
            raise ValueError("give at most one of data (with files), json or body")
        if files:
            boundary = "kali-" + secrets.token_hex(12)
            payload = encode_multipart(data or (), files, boundary)
            return payload, f"multipart/form-data; boundary={boundary}"
        if data is not None:
            encoded = urllib.parse.urlencode(_pairs(data)).encode("ascii")
            return encoded, "application/x-www-form-urlencoded"
        if json is not None:
            return _json.dumps(json).encode("utf-8"), "application/json"
        return (body or b""), content_type

    def _send(
        self,
        method: str,
        target: str,
        extra: list[tuple[str, str]],
        payload: bytes,
        kind: str | None,
    ) -> TestResponse:
        pairs = [("host", self.host)]
        request_path = target.partition("?")[0]
        jar = self.cookies.header_for(request_path)
        if jar is not None:
            pairs.append(("cookie", jar))
        if kind is not None:
            pairs.append(("content-type", kind))
        if payload:
            pairs.append(("content-length", str(len(payload))))
        given = {name.lower() for name, _ in extra}
        pairs = [pair for pair in pairs if pair[0] not in given]
        pairs += [(name.lower(), str(value)) for name, value in extra]
        response, request = self._respond(method, target, pairs, payload)
        try:
            body = b"" if method == "HEAD" else response.body
        finally:
            response.close()
            if request is not None:
                request.close()  # uploads and spooled bodies, as the server does
        answer = TestResponse(response, body, url=target, client=self)
        for header in answer.headers.get_list("set-cookie"):
            self.cookies.store(header, request_path)
        return answer

    def _respond(
        self, method: str, target: str, pairs: list[tuple[str, str]], payload: bytes
    ) -> tuple[Response, Request | None]:
        self._failure = None
        response, request = self.pipeline.handle(
            PlainHead(method, target, "HTTP/1.1", pairs),
            lambda: payload,
            self.policy,
            ("127.0.0.1", 0),
        )
        failure, self._failure = self._failure, None
        if failure is not None:
            response.close()
            if request is not None:
                request.close()
            raise failure
        return response, request
