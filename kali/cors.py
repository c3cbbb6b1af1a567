"""CORS by invitation: which other origins may call this app from a browser.

By default kali refuses every cross-site request that could change data
(``kali.security``). An app that serves a front end on another origin (a dev
server on ``http://localhost:5173``) invites it with a :class:`CorsPolicy`,
given as ``AppOptions(cors=...)`` or built by :func:`cors_policy` from
``serve_http(cors_origins=..., cors_credentials=...)``. The pipeline
(``kali.handling``) asks the policy whether a request comes from an invited
origin, answers its preflights with :meth:`CorsPolicy.preflight`, checks its
requests without the cross-site evidence, and adds the CORS headers to every
answer with :meth:`CorsPolicy.decorate`.

What it must not do: decide anything else about a request (the Host check
and the launch token stay ``kali.security``'s, and apply to invited origins
too), send anything on its own, or accept a malformed origin or name: those
are a ValueError or TypeError when the policy is made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .response import Response
from .security import _default_port, parse_host_entry

__all__ = [
    "CORS_MAX_AGE_SECONDS",
    "CORS_METHODS",
    "CorsPolicy",
    "cors_policy",
    "parse_origin",
]

#: Methods a preflight allows unless the app says otherwise: those a JSON API
#: uses. (GET, HEAD and a form-like POST need no preflight at all.)
CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
#: How long a browser may reuse a preflight's answer: 10 minutes, so a
#: changed list takes effect soon (Chromium caps this at 2 hours anyway).
CORS_MAX_AGE_SECONDS = 600
_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 section 3.1),
# matched after lower-casing.
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
# What only the browser's cross-site evidence carries; an invited origin's
# request is checked without it, so that the Host check and token still apply.
_CROSS_SITE_EVIDENCE = frozenset({"origin", "referer", "sec-fetch-site"})


def parse_origin(origin: str) -> str:
    """``origin`` as browsers serialise it (``scheme://host[:port]``, lower
    case, no default port); ValueError for anything else (a path, a
    trailing slash, ``null``, a wildcard other than ``"*"`` alone)."""
    if not isinstance(origin, str):
        raise TypeError(f"an origin must be a str, not {type(origin).__name__}")
    scheme, separator, authority = origin.lower().partition("://")
    problem = f"CORS origin {origin!r} is not scheme://host[:port]"
    if not separator or not _SCHEME.fullmatch(scheme):
        raise ValueError(problem)
    if authority.endswith("/") and "/" not in authority[:-1]:
        raise ValueError(f"{problem}: leave out the trailing slash")
    if "@" in authority:
        raise ValueError(problem)
    try:
        name, port = parse_host_entry(authority)
    except ValueError:
        raise ValueError(problem) from None
    if port is None or port == _default_port(scheme):
        return f"{scheme}://{name}"
    return f"{scheme}://{name}:{port}"


def _tokens(values: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a list of names, not one str")
    names = tuple(values)
    for name in names:
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"{what}: {name!r} is not a valid name")
    return names


@dataclass(frozen=True)
class CorsPolicy:
    """Which other origins may call this app from a browser (CORS), and how.

    ``CorsPolicy(["http://localhost:5173"])`` invites a front-end dev server:
    its preflights (``OPTIONS`` with ``Access-Control-Request-Method``) are
    answered, its requests pass the cross-site check, and every answer to it
    carries ``Access-Control-Allow-Origin`` with its origin and
    ``Vary: Origin``. Any other origin gets nothing of the kind, and its
    cross-site requests are still refused. ``["*"]`` invites every origin
    (``Access-Control-Allow-Origin: *``), and then never with credentials.

    ``credentials=True`` adds ``Access-Control-Allow-Credentials: true``
    (the page may send its cookies with ``credentials: "include"``).
    ``methods`` are those a preflight allows; ``allow_headers`` the request
    headers it allows (None: whatever the preflight asks for);
    ``expose_headers`` the response headers a page may read beyond the
    simple ones; ``max_age_seconds`` how long a preflight's answer is kept.
    ValueError or TypeError for anything malformed, when it is made.
    """

    origins: tuple[str, ...]
    credentials: bool = False
    methods: tuple[str, ...] = CORS_METHODS
    allow_headers: tuple[str, ...] | None = None
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int = CORS_MAX_AGE_SECONDS

    def __post_init__(self) -> None:
        given = self.origins
        if isinstance(given, str):
            raise TypeError("CORS origins must be a list of origins, not one str")
        origins = tuple(given)
        if not origins:
            raise ValueError("a CorsPolicy needs at least one origin")
        if "*" in origins:
            if len(origins) > 1:
                raise ValueError('"*" invites every origin: give it alone')
            if self.credentials:
                raise ValueError(
                    'CORS credentials are never allowed with origin "*": '
                    "list the origins"
                )
        else:
            origins = tuple(dict.fromkeys(parse_origin(origin) for origin in origins))
        set_ = object.__setattr__  # a frozen dataclass normalises in __post_init__
        set_(self, "origins", origins)
        set_(self, "credentials", bool(self.credentials))
        set_(self, "methods", _tokens(self.methods, "CORS methods"))
        if self.allow_headers is not None:
            names = _tokens(self.allow_headers, "CORS allow_headers")
            set_(self, "allow_headers", tuple(name.lower() for name in names))
        names = _tokens(self.expose_headers, "CORS expose_headers")
        set_(self, "expose_headers", tuple(name.lower() for name in names))
        age = self.max_age_seconds
        if isinstance(age, bool) or not isinstance(age, int) or age < 0:
            raise ValueError(f"CORS max_age_seconds must be an int >= 0: {age!r}")

    @property
    def is_open(self) -> bool:
        """Does it invite every origin (``"*"``)?"""
        return self.origins == ("*",)

    def invited_origin(self, headers: Iterable[tuple[str, str]]) -> str | None:
        """The request's ``Origin`` as listed here when it is invited, else None."""
        for name, value in headers:
            if name == "origin":
                origin = value.strip().lower()
                if self.is_open:
                    return origin or None
                return origin if origin in self.origins else None
        return None

    @staticmethod
    def is_preflight(method: str, headers: Iterable[tuple[str, str]]) -> bool:
        """Is this a CORS preflight (``OPTIONS`` asking for a method)?"""
        return method == "OPTIONS" and any(
            name == "access-control-request-method" for name, _ in headers
        )

    @staticmethod
    def without_cross_site_evidence(
        headers: Iterable[tuple[str, str]],
    ) -> list[tuple[str, str]]:
        """``headers`` without Origin, Referer and Sec-Fetch-Site: what the
        security check sees of an invited origin's request."""
        return [pair for pair in headers if pair[0] not in _CROSS_SITE_EVIDENCE]

    def preflight(self, origin: str, headers: Iterable[tuple[str, str]]) -> Response:
        """The 204 answer to an invited origin's preflight."""
        requested = ""
        private_network = False
        for name, value in headers:
            if name == "access-control-request-headers":
                requested += "," + value
            elif name == "access-control-request-private-network":
                private_network = value.strip().lower() == "true"
        if self.allow_headers is not None:
            allowed = self.allow_headers
        else:  # echo what was asked for, as far as it is header names
            asked = (item.strip().lower() for item in requested.split(","))
            allowed = tuple(dict.fromkeys(n for n in asked if _TOKEN.fullmatch(n)))
        response = Response(b"", code=204)
        self._allow(response, origin)
        response.set_header("access-control-allow-methods", ", ".join(self.methods))
        if allowed:
            response.set_header("access-control-allow-headers", ", ".join(allowed))
        response.set_header("access-control-max-age", str(self.max_age_seconds))
        if private_network:  # Chromium's Private Network Access, for an invitee
            response.set_header("access-control-allow-private-network", "true")
        vary = "access-control-request-headers, access-control-request-method"
        response.add_header("vary", vary if self.is_open else "origin, " + vary)
        return response

    def decorate(self, response: Response, origin: str | None) -> None:
        """Add the CORS headers to ``response``, the answer to a request from
        ``origin`` (None: from no invited origin, which gets ``Vary`` only)."""
        if origin is not None:
            self._allow(response, origin)
            if self.expose_headers:
                response.set_header(
                    "access-control-expose-headers", ", ".join(self.expose_headers)
                )
        if not self.is_open and not _varies_by_origin(response):
            # The answer depends on Origin: caches must key on it.
            response.add_header("vary", "origin")

    def _allow(self, response: Response, origin: str) -> None:
        allowed = "*" if self.is_open else origin
        response.set_header("access-control-allow-origin", allowed)
        if self.credentials:
            response.set_header("access-control-allow-credentials", "true")


def _varies_by_origin(response: Response) -> bool:
    for name, value in response.headers:
        if name == "vary":
            items = {item.strip().lower() for item in value.split(",")}
            if "origin" in items or "*" in items:
                return True
    return False


def cors_policy(
    origins: Iterable[str] | None, *, credentials: bool = False
) -> CorsPolicy | None:
    """The :class:`CorsPolicy` for ``serve_http(cors_origins=...,
    cors_credentials=...)``: None when no origin is given (CORS off).
    ValueError for credentials without origins, or a malformed origin."""
    if isinstance(origins, str):
        raise TypeError("cors_origins must be a list of origins, not one str")
    listed = tuple(origins or ())
    if not listed:
        if credentials:
            raise ValueError("cors_credentials=True needs cors_origins")
        return None
    return CorsPolicy(listed, credentials=credentials)
