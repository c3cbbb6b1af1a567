"""The launch token (``serve_http(token=True)``): one-time launch codes and
a cookie bound to this process and port.

:class:`LaunchPolicy` adds them to the Host and cross-site checks of
:class:`~kali.security.SecurityPolicy`; :func:`protect_launch` installs it
on a bound server; :func:`mint_code` makes a code for a launch (the running
instance's or, from its 0600 record, a second launch's). See
:class:`LaunchPolicy` for what the token does and does not protect.

Rules: part of the launch layer (beside :mod:`kali.desktop`, which uses it);
nothing below the launch layer imports it. No sockets.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .pagewatch import LAUNCH_PROBE_PATH as INSTANCE_PATH
from .response import Response
from .security import SAFE_METHODS, TOKEN_QUERY_NAME, SecurityPolicy

if TYPE_CHECKING:
    from .server import Server

__all__ = ["ENTRY_PAGE", "LaunchPolicy", "mint_code", "protect_launch"]

# -- the launch token ---------------------------------------------------------------


def _mac(key: bytes, *parts: object) -> str:
    message = "\0".join(str(part) for part in parts).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def mint_code(key: bytes, port: int) -> str:
    """A one-time launch code for the server on ``port`` holding ``key``:
    64 hex digits (a random nonce, then its HMAC)."""
    nonce = secrets.token_hex(16)
    return nonce + _mac(key, "launch-code", port, nonce)[:32]


ENTRY_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Opening…</title>
<noscript><meta http-equiv="refresh" content="0;url={url}"></noscript></head>
<body><p><a href="{url}">Open the app</a></p>
<script>location.replace({script})</script></body></html>
"""


@dataclass
class LaunchPolicy(SecurityPolicy):
    """The launch token as ``serve_http(token=True)`` applies it, on top of
    the Host and cross-site checks of :class:`~kali.security.SecurityPolicy`.

    * The browser is opened with a **one-time code**
      (``?kali-token=<code>``, minted by :meth:`launch_target` or, in a
      second launch, from the key in the 0600 instance record). The first
      GET carrying it gets a small page that sets the cookie and moves on
      to the same address without the code; the code is useless after that.
      ``secret`` (the ``token`` the app gave, or the random one) is also
      accepted there, for links made by hand; it is never shown.
    * The cookie (``kali-token-PORT``, HttpOnly, SameSite=Strict) holds an
      HMAC of this port under a key made for this process: not the secret,
      and worth nothing to another server or to this app's next run.

    What it does not protect: browsers send cookies to every port of a host,
    so a page served by another local program on ``127.0.0.1`` that the
    user's browser visits receives the cookie and can use this running app
    with it until it stops. It protects against other local users who can
    reach the port but cannot make the user's browser visit their server,
    nor read the user's files.
    """

    secret: str | None = None
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    #: Codes already exchanged (only holders of ``key`` can add to it).
    used_codes: set[str] = field(default_factory=set, repr=False)
    cookie_value: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.cookie_value = _mac(self.key, "cookie", self.scheme, self.port)

    @classmethod
    def from_policy(cls, policy: SecurityPolicy) -> LaunchPolicy:
        """``policy``'s checks, with its token turned into launch codes."""
        return cls(
            port=policy.port,
            allowed_hosts=policy.allowed_hosts,
            scheme=policy.scheme,
            secret=policy.token,
        )

    def launch_target(self, start: str) -> str:
        """``start`` with a fresh one-time launch code."""
        target = "/" + start.lstrip("/")
        joiner = "&" if "?" in target else "?"
        return f"{target}{joiner}{TOKEN_QUERY_NAME}={mint_code(self.key, self.port)}"

    def redeem(self, code: str) -> bool:
        """Is ``code`` an unused launch code (now used) or the secret?"""
        offered = code.encode("utf-8", "replace")
        if self.secret is not None and hmac.compare_digest(
            offered, self.secret.encode("utf-8")
        ):
            return True
        if len(code) != 64 or code in self.used_codes:
            return False
        expected = _mac(self.key, "launch-code", self.port, code[:32])[:32]
        if not hmac.compare_digest(offered[32:], expected.encode("ascii")):
            return False
        self.used_codes.add(code)
        return True

    def has_cookie(self, headers: Iterable[tuple[str, str]]) -> bool:
        expected = self.cookie_value.encode("ascii")
        for name, value in headers:
            if name != "cookie":
                continue
            for item in value.split(";"):
                key, _, offered = item.strip().partition("=")
                if key == self.cookie_name and hmac.compare_digest(
                    offered.encode("utf-8", "replace"), expected
                ):
                    return True
        return False

    def check(
        self, method: str, target: str, headers: Iterable[tuple[str, str]]
    ) -> Response | None:
        """Host and cross-site checks first; then the cookie, or a launch code
        to exchange for it. The liveness probe needs neither."""
        if not isinstance(headers, (list, tuple)):
            headers = list(headers)
        refusal = super().check(method, target, headers)
        if refusal is not None:
            return refusal
        if target[:1] == "/":
            path, _, query = target.partition("?")
        else:
            parts = urllib.parse.urlsplit(target)
            path, query = parts.path, parts.query
        if path == INSTANCE_PATH and method in SAFE_METHODS:
            return None  # answers only a proof: see InstanceLock.wrap
        has_cookie = self.has_cookie(headers)
        if method == "GET" and TOKEN_QUERY_NAME in query:
            pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
            offered = [value for name, value in pairs if name == TOKEN_QUERY_NAME]
            if offered:
                if self.redeem(offered[-1]) or has_cookie:
                    rest = [pair for pair in pairs if pair[0] != TOKEN_QUERY_NAME]
                    return self.entry_page(path, rest)
                return Response.error_page(
                    403, "This link was used already: start the app again to open it."
                )
        if has_cookie:
            return None
        return Response.error_page(
            403, "Open this app from its launcher (start it again to get a new link)."
        )

    def entry_page(self, path: str, rest: list[tuple[str, str]]) -> Response:
        """The page that sets the cookie and goes on to ``path`` without the
        code. Not a redirect: the move starts from this origin, so the
        browser sends the SameSite=Strict cookie with it even when the code
        came from a file or another site."""
        location = "/" + path.lstrip("/")
        if rest:
            location += "?" + urllib.parse.urlencode(rest)
        script = json.dumps(location).replace("<", "\\u003c")
        page = ENTRY_PAGE.format(url=html.escape(location), script=script)
        response = Response(
            page,
            headers={
                "content-type": "text/html; charset=utf-8",
                "cache-control": "no-store",
                "referrer-policy": "no-referrer",
            },
        )
        return response.set_cookie(
            self.cookie_name, self.cookie_value, same_site="Strict", http_only=True
        )


def protect_launch(server: Server) -> LaunchPolicy | None:
    """Give the bound ``server`` a :class:`LaunchPolicy` if it has a launch
    token (None if it has none); the same one if it has it already."""
    policy = server.policy
    assert policy is not None, "bind() first"
    if isinstance(policy, LaunchPolicy):
        return policy
    if policy.token is None:
        return None
    launch = LaunchPolicy.from_policy(policy)
    server.policy = launch
    return launch
