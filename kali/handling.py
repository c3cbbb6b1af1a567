"""The error boundary: run a handler and turn whatever happens into a Response.

Every way kali runs an app goes through :class:`Responder`: the server loop,
the in-process test client (``kali.testing``) and the WSGI adapter
(``kali.wsgi``). So an app behaves the same everywhere: an iolist becomes a
Response, an ``HTTPError`` or ``ProtocolError`` becomes its error page, any
other exception becomes a logged 500 (with the traceback on the page only in
debug mode), and the app's ``error_page`` renders every error page.

This is kali's one ``except Exception`` boundary. It must not touch sockets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import IO, Any, Union

from .errors import HTTPError, ProtocolError
from .iolist import Body
from .protocol import Limits
from .request import Request
from .response import Response

Handler = Callable[[Request], Union[Response, Body]]
#: ``error_page(request_or_None, status, message)`` renders an error page.
ErrorPage = Callable[[Union[Request, None], int, str], Union[Response, Body]]

log = logging.getLogger("kali")


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


class Responder:
    """Runs ``handler`` for each request inside the error boundary."""

    def __init__(
        self,
        handler: Handler,
        *,
        debug: bool = False,
        error_page: ErrorPage | None = None,
        logger: logging.Logger | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.handler = handler
        self.debug = debug
        self.error_page = error_page
        self.log = logger or log
        self.limits = limits or Limits()

    def build_request(
        self,
        method: str,
        target: str,
        version: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | IO[bytes],
        *,
        client_address: Any = None,
    ) -> Request:
        """:func:`build_request` with this responder's limits and debug flag."""
        return build_request(
            method,
            target,
            version,
            headers,
            body,
            limits=self.limits,
            client_address=client_address,
            debug=self.debug,
        )

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
            if result.is_error_page and self.error_page is not None:
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
            if self.debug:
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
        (falling back to kali's plain page if that fails), else kali's."""
        response: Response | None = None
        if self.error_page is not None:
            try:
                result = self.error_page(request, status, message)
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
