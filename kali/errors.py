"""Exceptions that carry the HTTP status they stand for.

This is a leaf module: it imports nothing from kali, so every layer may raise
these. The server loop is the one place that turns them into responses.
"""

from __future__ import annotations

from http import HTTPStatus


def reason_phrase(status: int) -> str:
    """The standard reason phrase for ``status``, or ``'Unknown'``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class ProtocolError(ValueError):
    """The client sent something malformed; answer it with ``status`` (a 4xx/5xx).

    ``str(error)`` is a short message safe to show to the client (it never
    echoes raw request bytes).
    """

    def __init__(self, message: str = "", status: int = 400) -> None:
        if type(status) is not int or not 400 <= status <= 599:
            raise ValueError(
                f"ProtocolError status must be an int in 400-599, not {status!r}"
            )
        super().__init__(message or reason_phrase(status))
        self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0])


class HTTPError(Exception):
    """Raise this from any handler to answer with ``status`` and a short message.

    ``headers`` are added to the error response (for example ``Allow`` on a
    405 or ``Retry-After`` on a 503).
    """

    def __init__(
        self,
        status: int,
        message: str = "",
        *,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
    ) -> None:
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(
                f"HTTPError status must be an int in 400-599, not {status!r}"
            )
        super().__init__(message or reason_phrase(status))
        self.status = status
        self.headers = (
            list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        )

    @property
    def message(self) -> str:
        return str(self.args[0])


class RoutingError(HTTPError):
    """An HTTPError raised by kali's own dispatch: no route (404), a method
    the route does not serve (405/501), a bad query (400), a refused file.

    A Router answers it with an error Response rather than letting it
    propagate, as 0.0.8's Router returned its 404 page; the server still
    renders that page with the app's ``error_page`` when there is one.
    """
