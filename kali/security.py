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
  invites with a :class:`kali.cors.CorsPolicy` pass too: ``kali.handling``
  checks their requests without the cross-site evidence, and adds the CORS
  headers.
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

import ipaddress
import re
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


# A DNS name or IPv4 address in an allowlist: dot-separated labels. Only
# allowed_hosts entries are checked with it, at start: compiled on first use.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = rf"{_LABEL}(?:\.{_LABEL})*"


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
    elif len(name) > 253 or not re.fullmatch(_HOST_NAME, name):
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
        secret: str | None = None
        if isinstance(token, str):
            secret = token
        elif token:
            import secrets  # only for the opt-in token (hashlib is slow to load)

            secret = secrets.token_urlsafe(32)
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
        import hmac  # only for the opt-in token (hashlib is slow to load)

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
