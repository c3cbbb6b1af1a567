"""Request: what the browser asked for, as plain Python values.

A Request is built from plain data (method, target, version, headers, body),
so handlers and tests need no socket: ``kali.server`` builds one from the
wire, ``kali.testing`` builds one in-process, and an app can call
``Request('GET', '/', 'HTTP/1.0', Bag())`` directly.

The constructor parses the target at once and raises
:class:`~kali.errors.ProtocolError` (a 4xx) for a malformed one. The form
body is parsed when ``POST`` is first read, by kali's form rules and
:class:`~kali.protocol.Limits`: that read raises the ProtocolError (400, 413)
that the pipeline answers, and a handler that never reads it (a WSGI app
under ``from_wsgi``, a proxy, a JSON route) gets the body as sent. It must
not read sockets or write responses; the only response it makes is the
redirect/404 of ``normalize``.
"""

from __future__ import annotations

import json as _json
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import IO, Any, Protocol, Union

from .errors import ProtocolError
from .formdata import parse_content_type, parse_form, parse_query
from .multidict import Bag
from .protocol import HeaderFields, Limits
from .response import Response

#: A request body: bytes in memory, or a binary file (a spooled temporary
#: file for big bodies), or nothing.
Payload = Union[bytes, bytearray, IO[bytes], None]

_DEFAULT_LIMITS = Limits()


class URLBuilder(Protocol):
    """What ``Request.url_for`` needs from the Router that dispatched it."""

    def url_for(self, target: object, /, *values: Any, **query: Any) -> str: ...


def _split_origin_form(target: str) -> tuple[str, str]:
    """``(path, query)`` of an origin-form target (RFC 9112 3.2.1: absolute-path
    [ "?" query ]). urlparse() would read "//evil.example/x" as a host, so it
    is split by hand: a target starting with "/" is always a path here."""
    path, _, query = target.partition("?")
    if "#" in target:  # browsers never send a fragment; drop one if sent
        path = path.partition("#")[0]
        query = query.partition("#")[0]
    return path, query


def _is_seekable(stream: IO[bytes]) -> bool:
    # SpooledTemporaryFile has no seekable() before Python 3.11, yet seeks.
    try:
        return bool(stream.seekable())
    except AttributeError:
        return hasattr(stream, "seek")


def _decode_path(raw_path: str) -> list[str]:
    text = raw_path
    if "%" in raw_path or not raw_path.isascii():  # plain paths skip unquote
        try:
            text = urllib.parse.unquote(raw_path, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise ProtocolError("The path is not valid UTF-8.") from None
    return text[1:].split("/") if text.startswith("/") else text.split("/")


class Request:
    """One HTTP request. See the README's reference for every attribute.

    ``headers`` may be a Bag, a mapping or an iterable of pairs; names are
    lower-cased. ``payload`` may be bytes or a binary file object (read from
    its current position). Raises ProtocolError for a malformed path or
    query; reading :attr:`POST` raises it for a malformed form body.
    """

    #: The Router that dispatched this request; it sets this before calling
    #: the handler, so that :meth:`url_for` can build its routes' URLs.
    router: URLBuilder | None = None
    #: The scheme for :attr:`base_url`: ``"http"`` unless whoever builds the
    #: Request knows better (a server speaking TLS sets ``"https"``).
    scheme = "http"

    def __init__(
        self,
        command: str,
        uri: str,
        protocol: str,
        headers: Bag | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        payload: Payload = None,
        *,
        client_address: tuple[Any, ...] | None = None,
        debug: bool = False,
        limits: Limits | None = None,
    ) -> None:
        self.command = command
        self.uri = uri
        self.protocol = protocol
        self._headers: Bag | None = None
        self._header_pairs: tuple[tuple[str, str], ...] = ()
        if type(headers) is HeaderFields:  # names already lower-case
            self._header_pairs = headers  # the Bag is made when asked
        else:
            self._headers = self._lower_headers(headers)
        self.client_address = client_address
        self.debug = debug
        self._url: urllib.parse.ParseResult | None = None  # made when asked
        if uri[:1] != "/":
            try:
                self._url = urllib.parse.urlparse(uri)
            except ValueError:  # e.g. a bracketed host that is not IPv6
                raise ProtocolError("Invalid request target.") from None
            raw_path, query = self._url.path or "/", self._url.query
        elif "?" in uri or "#" in uri:
            raw_path, query = _split_origin_form(uri)
        else:  # most requests: a plain path
            raw_path, query = uri, ""
        self._raw_path = raw_path
        self._query = query
        if "%" in raw_path or not raw_path.isascii() or raw_path[0] != "/":
            self.path: list[str] = _decode_path(raw_path)
        else:  # most paths: nothing to unquote
            self.path = raw_path[1:].split("/")
        # Filled in by the Router: how many path components belong to the
        # mount that handles this request, and the wildcard values.
        self.mount_depth = 0
        self.args: Any = ()
        self.GET = Bag(parse_query(query)) if query else Bag()
        self._cookies: dict[str, str] | None = None
        self._body: bytes | None = None
        self._payload_file: IO[bytes] | None = None
        if payload is None:
            self._body = b""
        elif isinstance(payload, (bytes, bytearray)):
            self._body = bytes(payload)
        else:
            self._payload_file = payload
            self._payload_start = payload.tell() if _is_seekable(payload) else 0
        self._limits = limits or _DEFAULT_LIMITS
        self._form: Bag | None = None  # parsed when POST is first read
        self._form_error: ProtocolError | None = None

    @property
    def POST(self) -> Bag:
        """The form fields of the body: ``str``, or ``FileUpload`` for file
        parts (empty for a body that is not a form). Parsed on first access;
        raises ProtocolError (400 malformed, 413 past the form limits), the
        same one on every access."""
        if self._form is None:
            if self._form_error is not None:
                raise self._form_error
            try:
                self._form = self._parse_form()
            except ProtocolError as error:
                self._form_error = error
                raise
        return self._form

    @POST.setter
    def POST(self, value: Bag) -> None:
        self._form = value

    def _parse_form(self) -> Bag:
        content_type = None
        if self._headers is not None:
            content_type = self._headers.single.get("content-type")
        else:
            for name, value in reversed(self._header_pairs):  # the last wins
                if name == "content-type":
                    content_type = value
                    break
        if not content_type:
            return Bag()
        source: bytes | IO[bytes]
        if self._body is not None:
            source = self._body
        else:
            stream = self._payload_file
            assert stream is not None
            if _is_seekable(stream):
                stream.seek(self._payload_start)
            source = stream
        return Bag(parse_form(content_type, source, self._limits))

    @property
    def headers(self) -> Bag:
        """The header fields, names lower-cased; repeats in ``.multiple``."""
        if self._headers is None:
            self._headers = Bag(self._header_pairs)
        return self._headers

    @headers.setter
    def headers(self, value: Bag) -> None:
        self._headers = value

    @property
    def url(self) -> urllib.parse.ParseResult:
        """The target split by :func:`urllib.parse.urlparse` rules (0.0.8);
        ``url.path`` and ``url.query`` are as sent, still percent-encoded."""
        if self._url is None:
            self._url = urllib.parse.ParseResult(
                "", "", self._raw_path, "", self._query, ""
            )
        return self._url

    @staticmethod
    def _lower_headers(
        headers: Bag | Mapping[str, str] | Iterable[tuple[str, str]] | None,
    ) -> Bag:
        if headers is None:
            return Bag()
        if isinstance(headers, Bag):
            pairs: Iterable[tuple[str, str]] = list(headers.items())
        elif isinstance(headers, Mapping):
            pairs = headers.items()
        else:
            pairs = headers
        return Bag((str(name).lower(), value) for name, value in pairs)

    @staticmethod
    def from_reader(reader: Any) -> Request:
        """Read one request from a ``kali.server.ClientReader`` (0.0.8 API)."""
        request: Request = reader.read_request()
        return request

    # -- body -------------------------------------------------------------

    @property
    def body(self) -> bytes:
        """The raw body bytes, whatever the content type (``b''`` when absent).

        A big body lives in a temporary file until this is first read.
        """
        if self._body is None:
            stream = self._payload_file
            assert stream is not None
            if _is_seekable(stream):
                stream.seek(self._payload_start)
            self._body = stream.read()
        return self._body

    @property
    def body_file(self) -> IO[bytes] | None:
        """The body as a binary file when it was spooled to disk, else None."""
        return self._payload_file

    def json(self) -> Any:
        """The body decoded as UTF-8 JSON; ProtocolError (400) if empty or invalid."""
        try:
            return _json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ProtocolError("The request body is not valid JSON.") from None

    @property
    def content_type(self) -> str:
        """The body's media type, lower-cased, without parameters ('' if none)."""
        return parse_content_type(self.headers.get("content-type"))[0]

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the browser (RFC 6265 ``name=value; ...``); the
        first of two same-named cookies wins, as browsers send the most
        specific first."""
        if self._cookies is None:
            jar: dict[str, str] = {}
            for header in self.headers.get_list("cookie"):
                for item in header.split(";"):
                    name, sep, value = item.partition("=")
                    name, value = name.strip(), value.strip()
                    if not sep or not name:
                        continue
                    if len(value) >= 2 and value[0] == value[-1] == '"':
                        value = value[1:-1]
                    jar.setdefault(name, value)
            self._cookies = jar
        return self._cookies

    def close(self) -> None:
        """Release the spooled body and uploaded files (temporary files).

        The server calls this once the response is sent; call it yourself for
        a Request you built with a file payload or uploads.
        """
        if self._form:  # uploads are FileUpload values with a close()
            for _, value in self._form.items():
                closer = getattr(value, "close", None)
                if closer is not None:
                    closer()
        if self._payload_file is not None:
            self._payload_file.close()

    def __enter__(self) -> Request:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- URLs and paths (0.0.8 API) -----------------------------------------

    def normalize(self) -> Response | None:
        """Redirect a non-canonical path (``/a/./b``, ``/a//b``, ``/a/x/../b``)
        to its canonical form, keeping the query; 404 for ``..`` above the root;
        None when the path is already canonical."""
        path = self.path
        normal: list[str] = []
        for component in path:
            if component == "..":
                if not normal:
                    return Response.generic(code=404)
                normal.pop()
            elif component not in ("", "."):
                normal.append(component)
        if path[-1] == "":
            normal.append("")
        if normal != path:
            return Response.redirect(self.root_url(normal, self.GET or None))
        return None

    @staticmethod
    def _query_string(query: Any) -> str:
        quote = urllib.parse.quote_plus
        return "&".join(
            quote(str(key)) + "=" + quote(str(value)) for key, value in query.items()
        )

    def root_url(self, path: list[str], query: Any = None) -> str:
        """``'/' + '/'.join(path)``, percent-quoted, plus ``?k=v&...`` for a
        non-empty ``query`` (a dict or a Bag). Never starts with ``//``, so it
        can never redirect off this host."""
        url = "/" + urllib.parse.quote("/".join(path), safe="/").lstrip("/")
        if query:
            url += "?" + self._query_string(query)
        return url

    def app_url(self, path: list[str], query: Any = None) -> str:
        """A URL under this request's mount point."""
        return self.root_url(self.path[: self.mount_depth] + list(path), query)

    def url_for(self, target: object, /, *values: Any, **query: Any) -> str:
        """The URL path of a route of the Router that dispatched this request:
        ``request.url_for(ContactPage, 5)`` is ``'/contacts/5'``. See
        ``Router.url_for``; ValueError if no Router dispatched this request."""
        if self.router is None:
            raise ValueError(
                "This request was not dispatched by a Router, so it cannot "
                "build URLs; call router.url_for(...) instead"
            )
        return self.router.url_for(target, *values, **query)

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]`` as the browser reached this server (from
        an absolute-form target, else the Host header), for absolute links:
        ``request.base_url + request.url_for(...)``. It is ``''`` when there
        is no usable host (HTTP/1.0 may omit Host), which still leaves a
        working relative link."""
        scheme, host = self.scheme, ""
        if self._url is not None and self._url.netloc:
            host = self._url.netloc
            if self._url.scheme in ("http", "https"):
                scheme = self._url.scheme
        else:
            host = self.headers.single.get("host", "").strip()
        # Only a plain name, IPv4 or [IPv6] literal and port go into a link.
        if not (host.isascii() and host):
            return ""
        if not all(c.isalnum() or c in ".-_:[]" for c in host):
            return ""
        return f"{scheme}://{host.lower()}"

    def path_suffix(self) -> list[str]:
        """The path components after the mount point."""
        return self.path[self.mount_depth :]

    def has_suffix(self) -> bool:
        """Are there path components after the mount point?"""
        return self.mount_depth < len(self.path)

    def __repr__(self) -> str:
        return f"<Request {self.command} {self.uri!r}>"
