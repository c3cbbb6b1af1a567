"""SubmitGuard: one-time form tokens, so a "create" form saves only once.

A double click on "Save", or reloading the page a POST produced, sends the
same form twice. For an edit form that is harmless; for a create form it
inserts the record twice. The guard prevents that:

1. When the form is shown, ``token = guard.issue()`` makes a fresh token,
   and ``guard.render(token)`` writes it into the form as a hidden input.
2. When the form comes back, ``guard.state(token)`` says whether that token
   is ``PENDING`` (never used: go ahead and save), ``USED`` (this very form
   was saved already) or ``UNKNOWN`` (forged, or older than ``max_age``).
3. After a successful save, ``guard.complete(token, outcome)`` records the
   token as used and remembers the outcome (typically the redirect to the
   new record), which ``guard.outcome(token)`` gives back to answer the
   repeat.

:class:`~kali.forms.Formlet` does all of this when given ``guard=``.

**Signed, not stored.** A token is its issue time and a random nonce,
signed with HMAC-SHA256 under a key made from the app's secret: the guard
keeps nothing for a form it shows, so no number of forms shown (1,000
cross-site GETs of a "new" page, say) can push out the token of the form a
user is filling in, and every worker process that shares the secret
accepts the tokens of the others. Only tokens that were really used are
recorded, with their outcome, until they are too old to be accepted anyway
(``max_age``, 7 days by default): at most ``max_used`` of them. Should more
forms than that be saved within ``max_age``, the oldest records are
forgotten and every token issued before them is refused as expired (the
form comes back with the user's input), never accepted twice.

The record of used tokens is this object's memory: under several worker
processes a form reloaded on another worker than the one that saved it is
not recognised as saved (a UNIQUE constraint in the database is the
defence there).

The secret: ``secret=`` (see :mod:`kali.appsecret`), else ``KALI_SECRET``
from the environment, else one made for this guard alone (said in an INFO
log line: its tokens then end with the process). The tokens are not a
defence against cross-site requests (kali's server checks ``Origin`` for
that); they only recognise a form that was already submitted.

Like the other form modules it knows nothing of HTTP; it must keep no
module-level state.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import heapq
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from ..iolist import Markup
from .widgets import escape_text

__all__ = ["DEFAULT_MAX_AGE", "SubmitGuard", "TokenState"]

log = logging.getLogger("kali")

#: Seconds a form stays valid after it was shown: a week, so a form left
#: open in a tab over a long weekend can still be saved.
DEFAULT_MAX_AGE = 7 * 24 * 60 * 60
#: Used tokens remembered at most (about 100 bytes each, plus the outcome).
DEFAULT_MAX_USED = 10_000
#: Seconds a token's issue time may lie in the future: clocks of the
#: processes of one app on one machine agree, so only a little slack.
CLOCK_SLACK = 60
#: The environment variable that gives every process of an app one secret
#: (the same name :mod:`kali.appsecret` reads).
SECRET_VARIABLE = "KALI_SECRET"
#: What the key is made for: a token is never valid as anything else.
_PURPOSE = b"kali.forms.guard"

# issued time (hex) "." nonce (12 bytes) "." signature (16 bytes), base64url
_TOKEN = re.compile(r"([0-9a-f]{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22})")


class TokenState(enum.Enum):
    """What a guard knows about a token."""

    PENDING = "pending"  #: issued and not used yet: the form may be saved
    USED = "used"  #: the form was saved already: answer with the outcome
    UNKNOWN = "unknown"  #: forged, too old, or from another secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _secret_of(secret: bytes | str | None) -> bytes | None:
    """The configured secret as bytes: ``secret``, else ``KALI_SECRET``,
    else None (none configured)."""
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if secret is None:
        configured = os.environ.get(SECRET_VARIABLE, "").strip()
        return configured.encode("utf-8") if configured else None
    if not isinstance(secret, (bytes, bytearray)):
        raise TypeError("secret must be bytes, str or None")
    if not secret:
        raise ValueError("the secret must not be empty")
    return bytes(secret)


class SubmitGuard:
    """Issue signed one-time form tokens and remember which were used, and
    for what.

    ``field_name`` is the name of the hidden input (and the key of the
    token's HTML in a Formlet's ``fields``). ``secret`` signs the tokens
    (bytes or str; the same in every process of the app). ``max_age`` is
    the seconds a shown form stays valid, ``max_used`` bounds the
    remembered used tokens. ``clock`` gives seconds since the epoch (tests).
    ``max_pending`` is accepted for compatibility and no longer used:
    nothing is kept for a form that was only shown. Raises ValueError or
    TypeError for a bad argument.
    """

    #: The hidden input's name unless another is given.
    DEFAULT_FIELD_NAME = "submit_token"

    def __init__(
        self,
        *,
        field_name: str = DEFAULT_FIELD_NAME,
        secret: bytes | str | None = None,
        max_age: int = DEFAULT_MAX_AGE,
        max_used: int = DEFAULT_MAX_USED,
        max_pending: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_pending < 1 or max_used < 1:
            raise ValueError("max_pending and max_used must be at least 1")
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 1:
            raise ValueError("max_age must be a positive int (seconds)")
        self.field_name = field_name
        self.max_age = max_age
        self.max_used = max_used
        self.max_pending = max_pending
        self.clock = clock
        configured = _secret_of(secret)
        #: No secret was configured: the key is this object's own, which the
        #: first :meth:`issue` says in the log (not before: an app may make
        #: its guards at import time, before it has said where it listens).
        self._is_per_process = configured is None
        key_source = secrets.token_bytes(32) if configured is None else configured
        self._key = hmac.new(key_source, _PURPOSE, hashlib.sha256).digest()
        self._used: dict[str, Any] = {}
        #: (issued, token) of every used token, oldest issue first.
        self._by_issue: list[tuple[int, str]] = []
        #: Tokens issued at or before this time may have been used and
        #: forgotten (the record overflowed): they are refused.
        self._horizon = -1

    def __repr__(self) -> str:  # never shows the key
        return f"<SubmitGuard {self.field_name!r}, {len(self._used)} used>"

    # -- tokens ----------------------------------------------------------

    def _signature(self, issued_hex: str, nonce: str) -> str:
        message = f"{self.field_name}\x00{issued_hex}.{nonce}".encode("ascii")
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest()[:16])

    def issue(self) -> str:
        """A fresh signed token for one form (nothing is stored)."""
        if self._is_per_process:
            self._is_per_process = False
            log.info(
                "SubmitGuard: no secret configured; its form tokens work only "
                "in this process (pass secret=, or set %s)",
                SECRET_VARIABLE,
            )
        issued_hex = format(int(self.clock()), "x")
        nonce = _b64(secrets.token_bytes(12))
        return f"{issued_hex}.{nonce}.{self._signature(issued_hex, nonce)}"

    def _issued(self, token: str) -> int | None:
        """The issue time of a genuine, unexpired token, else None."""
        match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
        if match is None:
            return None
        issued_hex, nonce, signature = match.groups()
        if not hmac.compare_digest(signature, self._signature(issued_hex, nonce)):
            return None
        issued = int(issued_hex, 16)
        now = self.clock()
        if issued > now + CLOCK_SLACK or now - issued > self.max_age:
            return None
        return issued

    def render(self, token: str) -> Markup:
        """The hidden ``<input>`` that carries ``token`` back with the form."""
        return Markup(
            f'<input type="hidden" name="{escape_text(self.field_name)}"'
            f' value="{escape_text(token)}"/>'
        )

    def token_from(self, form: Any) -> str:
        """The token posted in ``form`` (anything with ``get``), or ``''``."""
        token = form.get(self.field_name, "")
        return token if isinstance(token, str) else ""

    def state(self, token: str) -> TokenState:
        """Whether ``token`` is pending, used, or unknown to this guard."""
        issued = self._issued(token)
        if issued is None:
            return TokenState.UNKNOWN
        if token in self._used:
            return TokenState.USED
        if issued <= self._horizon:
            return TokenState.UNKNOWN
        return TokenState.PENDING

    def complete(self, token: str, outcome: Any = None) -> None:
        """Record ``token`` as used and remember ``outcome`` for any repeat.

        Raises ValueError if the token is not pending: check :meth:`state`
        before saving.
        """
        if self.state(token) is not TokenState.PENDING:
            raise ValueError("only a pending token can be completed")
        issued = self._issued(token)
        assert issued is not None  # it is pending
        self._used[token] = outcome
        heapq.heappush(self._by_issue, (issued, token))
        self._forget_old()

    def _forget_old(self) -> None:
        """Drop records of tokens too old to be accepted anyway, then the
        oldest beyond ``max_used`` (raising the horizon past them)."""
        oldest_valid = self.clock() - self.max_age
        while self._by_issue and (
            self._by_issue[0][0] < oldest_valid or len(self._used) > self.max_used
        ):
            issued, token = heapq.heappop(self._by_issue)
            del self._used[token]
            if issued >= oldest_valid:
                self._horizon = max(self._horizon, issued)

    def outcome(self, token: str) -> Any:
        """What :meth:`complete` remembered for a used token (KeyError otherwise)."""
        return self._used[token]
