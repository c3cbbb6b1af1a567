"""The one request pipeline: from a parsed head and a body reader to the answer.

Every way kali runs an app hands its requests to :class:`Pipeline`: the
server loop (``kali.connection``), the in-process test client
(``kali.testing``) and the WSGI adapter (``kali.wsgi``). ``handle(head,
read_body)`` does every step in order, once, for all of them:

1. the security check (``kali.security``): a refusal is the answer. With
   a :class:`~kali.cors.CorsPolicy` in the options, an invited
   origin's preflight is answered here (after the Host check alone), its
   other requests are checked without their cross-site evidence (the Host
   check and the token still apply), and every answer gets the CORS
   headers (``Vary: Origin`` only, for anybody else);
2. the body, read by the caller's ``read_body()`` only now, so a refused
   request never costs an upload;
3. the Request, built from the head and the body (its form is parsed when
   the handler first reads ``request.POST``: a 400 or 413 from there is
   the handler's ProtocolError, so a WSGI app gets the body as sent);
4. the handler, inside kali's one error boundary: an iolist becomes a
   Response, an ``HTTPError`` or ``ProtocolError`` its error page, any other
   exception a logged 500 (the traceback on the page only with ``debug``).

Bad client input is a 4xx page (the app's ``error_page`` renders it, if it
has one), a failure a 500, and no exception of any type leaves ``handle``
except what the caller's own ``read_body`` raises for its connection (the
client went away): that belongs to the caller. The app-level options
(``debug``, ``error_page``, ``logger``) travel together as one frozen
:class:`AppOptions`, beside :class:`~kali.protocol.Limits`.

This module must not touch sockets, and it knows nothing of how a request
arrived or how the answer is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Protocol, Union

from .errors import HTTPError, ProtocolError
from .iolist import Body
from .protocol import Limits
from .request import Request
from .response import Response
from .security import SecurityPolicy

if TYPE_CHECKING:  # a policy comes made: kali.cors loads only for an app using it
    from .cors import CorsPolicy

Handler = Callable[[Request], Union[Response, Body]]
#: ``error_page(request_or_None, status, message)`` renders an error page.
ErrorPage = Callable[[Union[Request, None], int, str], Union[Response, Body]]
#: ``read_body()``: the request body, bytes or a (spooled) binary file.
#: ProtocolError for a bad or late body; anything else it raises is the
#: caller's (a connection that went away) and passes through the pipeline.
BodyReader = Callable[[], Union[bytes, IO[bytes]]]

log = logging.getLogger("kali")


@dataclass(frozen=True)
class AppOptions:
    """How the pipeline treats an app: one value, made once, shared by the
    server, the test client and the WSGI adapter."""

    #: Show tracebacks in 500 pages (``Request.debug`` is set too).
    debug: bool = False
    #: ``error_page(request_or_None, status, message)`` renders every error
    #: page (kali's plain page when None, or when it fails).
    error_page: ErrorPage | None = None
    #: Where failures and refusals are logged.
    logger: logging.Logger = log
    #: The other origins a browser may call this app from (CORS); None: none.
    cors: CorsPolicy | None = None


def app_options(
    options: AppOptions | None = None,
    *,
    debug: bool = False,
    error_page: ErrorPage | None = None,
    logger: logging.Logger | None = None,
    cors: CorsPolicy | None = None,
) -> AppOptions:
    """``options``, or one made of the keywords that public constructors keep
    (``Server``, ``to_wsgi``, ``Client``); TypeError when both are given."""
    if options is None:
        return AppOptions(debug, error_page, logger or log, cors)
    if debug or error_page is not None or logger is not None or cors is not None:
        raise TypeError("give options= or debug/error_page/logger/cors, not both")
    return options


class Head(Protocol):
    """What the pipeline needs of a request head: a
    :class:`~kali.protocol.RequestHead` from the wire, or a :class:`PlainHead`."""

    @property
    def method(self) -> str: ...

    @property
    def target(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def headers(self) -> Iterable[tuple[str, str]]: ...


class PlainHead(NamedTuple):
    """A request head from plain parts (an environ, a test call); header
    names lower-case."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]


class Answer(NamedTuple):
    """What to send (``response``) and the Request it answers, if one was
    built. ``close()`` releases both once the response is sent."""

    response: Response
    request: Request | None = None

    def close(self) -> None:
        try:
            self.response.close()
        finally:
            if self.request is not None:
                self.request.close()


def printable(text: Any) -> str:
    """``text`` with control characters escaped, for log lines."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in value)


def build_request(
    method: str,
    target: str,
    version: str,
    headers: Iterable[tuple[str, str]],
    body: bytes | IO[bytes],
    *,
    limits: Limits,
    client_address: Any = None,
    debug: bool = False,
) -> Request:
    """A Request from plain parts; ProtocolError for malformed ones.

    A spooled ``body`` is closed when the Request cannot be built (nothing
    else would ever close it).
    """
    try:
        return Request(
            method,
            target,
            version,
            headers,
            body,
            client_address=client_address,
            debug=debug,
            limits=limits,
        )
    except BaseException:
        if not isinstance(body, bytes):
            body.close()
        raise


_new_tuple = tuple.__new__


class Pipeline:
    """Runs ``handler`` for request heads; see the module docstring.

    ``handler`` may be replaced after construction (a desktop wrapper does),
    and so may ``options`` (a new :class:`AppOptions`).
    """

    def __init__(
        self,
        handler: Handler,
        options: AppOptions | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.handler = handler
        self.options = options or AppOptions()
        self.limits = limits or Limits()

    def __repr__(self) -> str:
        return f"<kali Pipeline for {self.handler!r}>"

    @property
    def log(self) -> logging.Logger:
        return self.options.logger

    def handle(
        self,
        head: Head,
        read_body: BodyReader | None = None,
        policy: SecurityPolicy | None = None,
        client_address: Any = None,
    ) -> Answer:
        """Check, read the body, build the Request and run the handler.

        ``read_body`` is called once the check has passed (None: the request
        has no body); ``policy`` is the security check to apply (None: none).
        Never raises, except what ``read_body`` raises other than
        ProtocolError.
        """
        cors = self.options.cors
        if cors is not None:
            return self._handle_cors(cors, head, read_body, policy, client_address)
        return self._handle(head, read_body, policy, client_address, head.headers)

    def _handle_cors(
        self,
        cors: CorsPolicy,
        head: Head,
        read_body: BodyReader | None,
        policy: SecurityPolicy | None,
        client_address: Any,
    ) -> Answer:
        """:meth:`handle` with the CORS steps (see the module docstring)."""
        checked = head.headers
        try:
            origin = cors.invited_origin(head.headers)
            if origin is not None:
                if cors.is_preflight(head.method, head.headers):
                    refusal = None
                    if policy is not None:
                        refusal = policy.check_host(head.target, head.headers)
                    return Answer(refusal or cors.preflight(origin, head.headers))
                checked = cors.without_cross_site_evidence(head.headers)
        except Exception:
            self.log.exception("The CORS check failed")
            return Answer(Response.error_page(500, None))
        answer = self._handle(head, read_body, policy, client_address, checked)
        try:
            cors.decorate(answer.response, origin)
        except Exception:
            self.log.exception("The CORS headers were refused")
            answer.close()
            return Answer(Response.error_page(500, None))
        return answer

    def _handle(
        self,
        head: Head,
        read_body: BodyReader | None,
        policy: SecurityPolicy | None,
        client_address: Any,
        checked_headers: Iterable[tuple[str, str]],
    ) -> Answer:
        """:meth:`handle`, the security check seeing ``checked_headers``."""
        try:
            if policy is not None:
                refusal = policy.check(head.method, head.target, checked_headers)
                if refusal is not None:
                    return Answer(refusal)
        except Exception:
            self.log.exception("The security check failed")
            return Answer(Response.error_page(500, None))
        try:
            body = b"" if read_body is None else read_body()
        except ProtocolError as error:
            return Answer(self.refuse(error))
        try:
            request = build_request(
                head.method,
                head.target,
                head.version,
                head.headers,
                body,
                limits=self.limits,
                client_address=client_address,
                debug=self.options.debug,
            )
        except ProtocolError as error:
            return Answer(self.refuse(error))
        except Exception:
            self.log.exception("Could not build the Request")
            return Answer(Response.error_page(500, None))
        # tuple.__new__: NamedTuple's own __new__ is a Python call per request
        return _new_tuple(Answer, (self.respond(request), request))

    def refuse(self, error: ProtocolError) -> Response:
        """The page for bad client input (a 4xx, or 501...), logged once."""
        self.log.info("Refused: %d %s", error.status, printable(error.message))
        return self.render_error(None, error.status, error.message)

    def respond(self, request: Request) -> Response:
        """Run the handler inside kali's one error boundary; never raises."""
        try:
            return self._respond(request)
        except Exception:  # the error page or debug page itself failed
            self.log.exception("Could not make an error page")
            return Response.error_page(500, None)

    def _respond(self, request: Request) -> Response:
        try:
            result = self.handler(request)
            if not isinstance(result, Response):
                return Response(result)
            if result.is_error_page and self.options.error_page is not None:
                return self.render_error(
                    request,
                    result.code,
                    result.error_message or "",
                    result.error_headers,
                )
            return result
        except HTTPError as error:
            return self.render_error(
                request, error.status, error.message, error.headers
            )
        except ProtocolError as error:
            return self.render_error(request, error.status, error.message)
        except Exception:
            self.log.exception(
                "During %s %s", printable(request.command), printable(request.uri)
            )
            if self.options.debug:
                return Response.from_exception(request)
            return self.render_error(request, 500, "")

    def render_error(
        self,
        request: Request | None,
        status: int,
        message: str,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Response:
        """The error page for ``status``: the app's ``error_page`` if it has one
        (falling back to kali's plain page if that fails), else kali's.
        Never raises: whatever fails here is logged and answered with 500."""
        try:
            return self._render_error(request, status, message, headers)
        except Exception:
            self.log.exception("Could not make the %s page", printable(status))
            return Response.error_page(500, None)

    def _render_error(
        self,
        request: Request | None,
        status: int,
        message: str,
        headers: Iterable[tuple[str, str]],
    ) -> Response:
        response: Response | None = None
        error_page = self.options.error_page
        if error_page is not None:
            try:
                result = error_page(request, status, message)
                response = (
                    result
                    if isinstance(result, Response)
                    else Response(result, code=status)
                )
            except Exception:
                self.log.exception("The error_page function failed")
        if response is None:
            # Messages are kali's or the app's own words (an HTTPError, a
            # refusal); an exception's text never gets here.
            response = Response.error_page(status, message or None)
        try:
            for name, value in headers:
                response.add_header(name, value)
        except Exception:  # e.g. a header value with CR/LF from the app
            self.log.exception("The headers of a %d page were refused", status)
            return Response.error_page(500, None)
        return response
