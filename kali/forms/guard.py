"""SubmitGuard: one-time form tokens, so a "create" form saves only once.

A double click on "Save", or reloading the page a POST produced, sends the
same form twice. For an edit form that is harmless; for a create form it
inserts the record twice. The guard prevents that:

1. When the form is shown, ``token = guard.issue()`` makes a fresh random
   token, and ``guard.render(token)`` writes it into the form as a hidden
   input.
2. When the form comes back, ``guard.state(token)`` says whether that token
   is ``PENDING`` (never used: go ahead and save), ``USED`` (this very form
   was saved already) or ``UNKNOWN`` (forged, too old, or issued before the
   app restarted).
3. After a successful save, ``guard.complete(token, outcome)`` marks the
   token used and remembers the outcome (typically the redirect to the new
   record), which ``guard.outcome(token)`` gives back to answer the repeat.

:class:`~kali.forms.Formlet` does all of this when given ``guard=``. A guard
holds its tokens in memory, in an object the application creates (one per
app, or one per form): there is no module-level state. The memory is bounded:
beyond ``max_pending`` unused tokens the oldest are forgotten (that form then
reports itself expired, and keeps the user's input), and at most ``max_used``
outcomes are remembered.

The tokens are 128-bit random values from :mod:`secrets`. They are not a
defence against cross-site requests (kali's server checks ``Origin`` for
that); they only recognise a form that was already submitted.
"""

from __future__ import annotations

import enum
import secrets
from collections import OrderedDict
from typing import Any

from ..iolist import Markup
from .widgets import escape_text

__all__ = ["SubmitGuard", "TokenState"]


class TokenState(enum.Enum):
    """What a guard knows about a token."""

    PENDING = "pending"  #: issued and not used yet: the form may be saved
    USED = "used"  #: the form was saved already: answer with the outcome
    UNKNOWN = "unknown"  #: never issued, forgotten, or from before a restart


class SubmitGuard:
    """Issue one-time form tokens and remember which were used, and for what.

    ``field_name`` is the name of the hidden input (and the key of the
    token's HTML in a Formlet's ``fields``). ``max_pending`` bounds the
    tokens issued but not yet used (about one per form shown), and
    ``max_used`` the remembered outcomes; the defaults suit one user.
    """

    #: The hidden input's name unless another is given.
    DEFAULT_FIELD_NAME = "submit_token"

    def __init__(
        self,
        *,
        field_name: str = DEFAULT_FIELD_NAME,
        max_pending: int = 1000,
        max_used: int = 1000,
    ) -> None:
        if max_pending < 1 or max_used < 1:
            raise ValueError("max_pending and max_used must be at least 1")
        self.field_name = field_name
        self.max_pending = max_pending
        self.max_used = max_used
        self._pending: OrderedDict[str, None] = OrderedDict()
        self._used: OrderedDict[str, Any] = OrderedDict()

    def issue(self) -> str:
        """Make, remember and return a fresh token for one form."""
        token = secrets.token_urlsafe(16)
        self._pending[token] = None
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
        return token

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
        if token in self._pending:
            return TokenState.PENDING
        if token in self._used:
            return TokenState.USED
        return TokenState.UNKNOWN

    def complete(self, token: str, outcome: Any = None) -> None:
        """Mark ``token`` used and remember ``outcome`` for any repeat.

        Raises ValueError if the token is not pending: check :meth:`state`
        before saving.
        """
        if token not in self._pending:
            raise ValueError("only a pending token can be completed")
        del self._pending[token]
        self._used[token] = outcome
        while len(self._used) > self.max_used:
            self._used.popitem(last=False)

    def outcome(self, token: str) -> Any:
        """What :meth:`complete` remembered for a used token (KeyError otherwise)."""
        return self._used[token]
