"""Localhost security checks, applied to every request head before the app runs.

A local app listens on 127.0.0.1, but any web page the user visits can make
the browser send requests there. Three checks stop that, all on by default
except the token (see DESIGN.md, "Security for a localhost app"):

* **DNS rebinding**: the ``Host`` header must name this server (``localhost``,
  ``127.0.0.1``, ``[::1]`` or an allowed host, with no port or ours);
  otherwise 403. Without it, a hostile page can rebind its own name to
  127.0.0.1 and read the app's pages.
* **Cross-site requests**: a method other than GET/HEAD whose ``Origin`` (or,
  lacking it, ``Referer``) is not this server's own origin, or whose
  ``Sec-Fetch-Site`` says ``cross-site``/``same-site``, gets 403. Requests
  carrying none of these headers (curl, scripts, tests) pass, and so does
  ``Origin: null`` with ``Sec-Fetch-Site: same-origin`` (Chromium's form
  POSTs from a page with ``Referrer-Policy: no-referrer``). Origins the app
  invites with a :class:`CorsPolicy` pass too: ``kali.handling`` checks
  their requests without the cross-site evidence, and adds the CORS headers.
* **Launch token** (opt-in): a secret in the URL the browser is opened at,
  turned into an HttpOnly SameSite=Strict cookie; requests without it get
  403. This protects against *other local users* on a shared machine.

An ``allowed_hosts`` entry is a name (``myapp.test``: with no port or the
server's own) or a ``name:port`` pair (``localhost:19000``: exactly that
port, for a forwarded port); anything else is a ValueError when the policy
is made.

This module decides; it never reads sockets.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field

from .protocol import url_origin
from .response import Response

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
TOKEN_QUERY_NAME = "kali-token"


def is_loopback(address: str) -> bool:
    """Is ``address`` (an IP literal or ``localhost``) a loopback address?"""
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def host_literal(address: str) -> str:
    """``address`` as it appears in a URL: IPv6 in brackets, names lower-cased."""
    address = address.lower()
    if ":" in address and not address.startswith("["):
        return f"[{address}]"
    return address


def split_host(value: str) -> tuple[str, int | None] | None:
    """``'name:port'`` → ``('name', port)``; None when malformed."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[: end + 1], value[end + 1 :]
    else:
        name, colon, port_text = value.partition(":")
        rest = colon + port_text
    if not name:
        return None
    if not rest:
        return name, None
    if not rest.startswith(":") or not rest[1:].isdigit() or len(rest) > 6:
        return None
    return name, int(rest[1:])


# A DNS name or IPv4 address in an allowlist: dot-separated labels.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")


def _default_port(scheme: str) -> int | None:
    return {"http": 80, "https": 443}.get(scheme)


def parse_host_entry(entry: str) -> tuple[str, int | None]:
    """``(name, port or None)`` of an ``allowed_hosts`` entry: a host name,
    an IPv4 address, an IPv6 address (bracketed or not), each optionally
    with ``:port``. Names are lower-cased, IPv6 put in brackets. ValueError
    for anything else (a URL, a wildcard, a bad port)."""
    if not isinstance(entry, str):
        raise TypeError(f"an allowed host must be a str, not {type(entry).__name__}")
    text = entry.lower()
    problem = f"allowed host {entry!r} is not a host name or host:port pair"
    if "/" in text:
        raise ValueError(f"{problem} (give the host, not a URL)")
    if text.count(":") > 1 and not text.startswith("["):
        text = f"[{text}]"  # a bare IPv6 address
    parts = split_host(text) if text == text.strip() else None
    if parts is None:
        raise ValueError(problem)
    name, port = parts
    if name.startswith("["):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            raise ValueError(f"{problem} ({name} is not an IPv6 address)") from None
    elif len(name) > 253 or not _HOST_NAME.fullmatch(name):
        raise ValueError(problem)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{problem} (the port must be 1-65535)")
    return name, port


def _host_entry(entry: str) -> str:
    """An allowlist entry as the policy keeps it: ``name`` or ``name:port``."""
    name, port = parse_host_entry(entry)
    return name if port is None else f"{name}:{port}"


@dataclass
class SecurityPolicy:
    """What the server accepts. Build it with :meth:`for_server` once the port
    is known; ``check`` then answers each request head."""

    port: int
    #: Host names (lower-case; IPv6 in brackets) the Host header may carry
    #: with no port or ours, and ``name:port`` pairs it may carry exactly;
    #: None turns the DNS-rebinding check off.
    allowed_hosts: frozenset[str] | None
    scheme: str = "http"
    #: The launch secret, or None when the token check is off.
    token: str | None = None
    allowed_origins: frozenset[str] = field(init=False)
    #: Host header values already found allowed (a small cache).
    _hosts_seen: set[str | None] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        origins = set()
        default_port = _default_port(self.scheme)
        for entry in self.allowed_hosts or ():
            parts = split_host(entry)
            name, port = parts if parts is not None else (entry, None)
            port = self.port if port is None else port
            origins.add(f"{self.scheme}://{name}:{port}")
            if port == default_port:  # browsers leave a default port out
                origins.add(f"{self.scheme}://{name}")
        self.allowed_origins = frozenset(origins)

    @classmethod
    def for_server(
        cls,
        address: str,
        port: int,
        *,
        allowed_hosts: Iterable[str] = (),
        token: bool | str = False,
        scheme: str = "http",
    ) -> SecurityPolicy:
        """The default policy for a server bound to ``address:port``.

        Bound to loopback, the Host check allows the loopback names, the bound
        address and ``allowed_hosts``. Bound elsewhere it is off unless
        ``allowed_hosts`` is given. ``token=True`` makes a fresh secret.
        An ``allowed_hosts`` entry is a name or a ``name:port`` pair (see
        :func:`parse_host_entry`; ValueError for anything else).
        """
        if isinstance(allowed_hosts, str):
            raise TypeError("allowed_hosts must be a list of hosts, not one str")
        extra = {_host_entry(host) for host in allowed_hosts}
        hosts: frozenset[str] | None
        if is_loopback(address):
            hosts = LOOPBACK_NAMES | extra | {host_literal(address)}
        elif extra:
            hosts = LOOPBACK_NAMES | extra | {host_literal(address)}
        else:
            hosts = None
        secret = (
            token
            if isinstance(token, str)
            else (secrets.token_urlsafe(32) if token else None)
        )
        return cls(port=port, allowed_hosts=hosts, scheme=scheme, token=secret)

    @property
    def cookie_name(self) -> str:
        # Cookies ignore ports, so two kali apps on one machine need two names.
        return f"kali-token-{self.port}"

    def launch_target(self, start: str) -> str:
        """The path (and query) to open the browser at, with the token if any."""
        target = "/" + start.lstrip("/")
        if self.token is None:
            return target
        joiner = "&" if "?" in target else "?"
        return f"{target}{joiner}{TOKEN_QUERY_NAME}={self.token}"

    # -- the checks ----------------------------------------------------------

    def is_allowed_host(self, host: str | None) -> bool:
        allowed = self.allowed_hosts
        if allowed is None or host is None:
            return True  # HTTP/1.0 without Host is served (spec 2.2)
        parts = split_host(host)
        if parts is None:
            return False
        name, port = parts
        if name in allowed and port in (None, self.port):
            return True
        if port is None:
            port = _default_port(self.scheme)
        return f"{name}:{port}" in allowed  # a forwarded port, allowed by name

    def is_same_origin(self, origin: str, host: str | None) -> bool:
        origin = origin.strip().lower().rstrip("/")
        if origin in self.allowed_origins:
            return True
        # Host check off (a LAN bind): same-origin means "the origin the
        # browser itself used to reach us", i.e. the Host header.
        return host is not None and origin == f"{self.scheme}://{host.strip().lower()}"

    def check_host(
        self, target: str, headers: Iterable[tuple[str, str]]
    ) -> Response | None:
        """The DNS-rebinding check alone (a CORS preflight gets only this):
        None if the request names this server, else the refusal to send."""
        return self._host_of(target, headers)[1]

    def _host_of(
        self, target: str, headers: Iterable[tuple[str, str]]
    ) -> tuple[str | None, Response | None]:
        """``(the host the request names, None)``, or ``(None, refusal)``."""
        host = None
        if target[:1] != "/":
            origin = url_origin(target)
            if origin is None:
                return None, Response.error_page(400, "Invalid request target.")
            host = origin[1]
        else:
            for name, value in headers:
                if name == "host":  # browsers send it first
                    host = value
                    break
        if host not in self._hosts_seen:  # browsers send the same Host each time
            if not self.is_allowed_host(host):
                return None, Response.error_page(
                    403, "This server only answers to its own name."
                )
            if len(self._hosts_seen) < 16:
                self._hosts_seen.add(host)
        return host, None

    def check(
        self, method: str, target: str, headers: Iterable[tuple[str, str]]
    ) -> Response | None:
        """None if the request may proceed, else the refusal to send."""
        host, refusal = self._host_of(target, headers)
        if refusal is not None:
            return refusal
        if method in SAFE_METHODS and self.token is None:
            return None  # most requests: nothing more to look at
        values: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in headers:
            if name == "cookie":
                cookies.append(value)
            elif name not in values:
                values[name] = value
        if method not in SAFE_METHODS and not self._is_same_site(values, host):
            return Response.error_page(403, "Cross-site request refused.")
        if self.token is not None:
            return self._check_token(target, cookies)
        return None

    def _is_same_site(self, values: dict[str, str], host: str | None) -> bool:
        origin = values.get("origin")
        fetch_site = values.get("sec-fetch-site")
        if origin is not None:
            if origin.strip().lower() == "null":
                # An opaque origin: Chromium sends it for a same-origin form
                # POST from a no-referrer page. Only the browser's own
                # Sec-Fetch-Site (no page can set it) makes that ours.
                return (
                    fetch_site is not None
                    and fetch_site.strip().lower() == "same-origin"
                )
            return self.is_same_origin(origin, host)
        if fetch_site is not None and fetch_site.strip().lower() not in (
            "same-origin",
            "none",
        ):
            return False
        referer = values.get("referer")
        if referer is not None:
            parts = url_origin(referer)
            if parts is None:  # not a URL by kali's grammar: not ours
                return False
            return self.is_same_origin(f"{parts[0]}://{parts[1]}", host)
        return True

    def _check_token(self, target: str, cookies: list[str]) -> Response | None:
        assert self.token is not None
        for header in cookies:
            for item in header.split(";"):
                name, _, value = item.strip().partition("=")
                if name == self.cookie_name and hmac.compare_digest(
                    value.encode(), self.token.encode()
                ):
                    return None
        path, _, query = target.partition("?")
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        offered = [value for name, value in pairs if name == TOKEN_QUERY_NAME]
        if offered and hmac.compare_digest(offered[-1].encode(), self.token.encode()):
            rest = [(name, value) for name, value in pairs if name != TOKEN_QUERY_NAME]
            location = (
                "/"
                + path.lstrip("/")
                + ("?" + urllib.parse.urlencode(rest) if rest else "")
            )
            response = Response.redirect(location)
            return response.set_cookie(
                self.cookie_name, self.token, same_site="Strict", http_only=True
            )
        return Response.error_page(
            403, "Open this app with the link it printed when it started."
        )


# -- CORS: cross-origin reads by invitation --------------------------------------

#: Methods a preflight allows unless the app says otherwise: those a JSON API
#: uses. (GET, HEAD and a form-like POST need no preflight at all.)
CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
#: How long a browser may reuse a preflight's answer: 10 minutes, so a
#: changed list takes effect soon (Chromium caps this at 2 hours anyway).
CORS_MAX_AGE_SECONDS = 600
_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
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
