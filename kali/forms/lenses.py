"""Lenses: converting one field's text to a Python value and back, with validation.

In HTML everything is a string; in the application it is a date, a number, an
enumeration or ``None``. A *lens* converts in both directions:

* ``to_text(native) -> str`` puts a stored value into a form, and
* ``to_native(text)`` turns what the user typed into a value, or raises
  :class:`ValidationError` with a short message ("may not be blank.") that
  the form shows beside the field.

kali 0.0.8 called these ``string_for_browser`` and ``native_from_string``;
both names still work, for calling and for overriding (see
:mod:`kali.forms.aliases`).

Lenses compose like decorators: ``Required(IntegerLens(minimum=0))`` trims,
refuses blanks, parses and checks bounds (the number lenses are in
:mod:`kali.forms.numbers`). The ready-made singletons (kali
0.0.8 names) are ``BLANKABLE``, ``TYPICAL``, ``NULLABLE`` and ``DATE``; this
release adds ``EMAIL``. Lenses hold only immutable configuration, so one
instance may serve any number of fields and requests.

This module knows nothing of HTTP, HTML or form elements: it imports only the
standard library (and :mod:`kali.forms.aliases`).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

from .aliases import link_aliases

__all__ = [
    "BLANKABLE",
    "DATE",
    "DATE_ERROR",
    "EMAIL",
    "NULLABLE",
    "TYPICAL",
    "ChoiceLens",
    "DateLens",
    "EmailLens",
    "EnumLens",
    "Lens",
    "ListLens",
    "Nullable",
    "Required",
    "StringLens",
    "Test",
    "ValidationError",
    "refuses_blank",
]


class ValidationError(Exception):
    """One field's input is unacceptable; ``message`` (``args[0]``) says why.

    Messages are short phrases meant to follow the field's name, as in
    "when: does not look like a date (YYYY-MM-DD)."
    """

    def __init__(self, message: str = "is not valid.", *args: Any) -> None:
        super().__init__(message, *args)

    @property
    def message(self) -> str:
        """The message given to the constructor (``args[0]``)."""
        return str(self.args[0])


class Lens:
    """The two-way conversion between a native value and browser text.

    Subclasses override both methods, under either name: ``to_text`` (or
    kali 0.0.8's ``string_for_browser``) and ``to_native`` (or
    ``native_from_string``). ``to_native`` may raise
    :class:`ValidationError`; ``to_text`` must accept ``None`` and every
    value ``to_native`` can return.
    """

    #: (readable name, kali 0.0.8 name): whichever a subclass defines serves both.
    ALIASES = (("to_text", "string_for_browser"), ("to_native", "native_from_string"))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        link_aliases(cls, Lens.ALIASES)

    def to_text(self, n: Any) -> str:
        """Convert a native Python value to the text shown in the form."""
        raise NotImplementedError(type(self))

    def to_native(self, s: str) -> Any:
        """Convert the text a user sent to a native value.

        Raises ValidationError when the text is unacceptable.
        """
        raise NotImplementedError(type(self))

    #: kali 0.0.8's name for :meth:`to_text`.
    string_for_browser = to_text
    #: kali 0.0.8's name for :meth:`to_native`.
    native_from_string = to_native


def refuses_blank(lens: Lens) -> bool:
    """Whether ``lens`` rejects blank input: then its field is *required*.

    Asks the lens itself (``to_native('')``), so it holds for every lens,
    including an app's own. The form renderer uses it for the ``required``
    attribute.
    """
    try:
        lens.to_native("")
    except ValidationError:
        return True
    return False


class StringLens(Lens):
    """Text stays text: ``None`` shows as blank, input is stripped of whitespace."""

    def to_text(self, n: Any) -> str:
        return "" if n is None else str(n)

    def to_native(self, s: str) -> Any:
        return s.strip()


#: Plain text, stripped, blank allowed (the result may be ``''``).
BLANKABLE = StringLens()

Predicate = Union[str, "re.Pattern[str]", Callable[[Any], Any]]


class Test(Lens):
    """Convert with ``child``, then accept the result only if ``predicate`` holds.

    ``predicate`` is a regular expression (a str, compiled with ``flags``, or
    a compiled pattern), which must match the *whole* value, or any callable
    of one argument whose result is tested for truth. On failure the lens
    raises ``ValidationError(error)``. Raises TypeError at construction when
    ``predicate`` is neither.
    """

    # Not a test case: keeps pytest from collecting it when a test module
    # imports it (every app's test suite would otherwise get a warning).
    __test__ = False

    def __init__(
        self,
        predicate: Predicate,
        *,
        child: Lens = BLANKABLE,
        error: str,
        flags: int | re.RegexFlag | None = None,
    ) -> None:
        if isinstance(predicate, str):
            predicate = re.compile(predicate, flags or 0)
        if isinstance(predicate, re.Pattern):
            predicate = predicate.fullmatch
        if not callable(predicate):
            raise TypeError(
                f"Test needs a regular expression or a callable, not {predicate!r}"
            )
        self.child = child
        self._test: Callable[[Any], Any] = predicate
        self._error = error

    def to_text(self, n: Any) -> str:
        return self.child.to_text(n)

    def to_native(self, s: str) -> Any:
        n = self.child.to_native(s)
        if self._test(n):
            return n
        raise ValidationError(self._error)


#: Plain text, stripped, and not blank.
TYPICAL = Test(bool, error="may not be blank.")


class Nullable(Lens):
    """Blank input becomes ``None`` (SQL NULL), and ``None`` shows as blank."""

    def __init__(self, child: Lens) -> None:
        self.child = child

    def to_text(self, n: Any) -> str:
        return self.child.to_text("" if n is None else n)

    def to_native(self, s: str) -> Any:
        n = self.child.to_native(s)
        return None if n == "" else n


#: Plain text, stripped; blank input becomes ``None``.
NULLABLE = Nullable(BLANKABLE)


class Required(Lens):
    """Refuse blank (or whitespace-only) input, then convert with ``child``.

    Use it in front of lenses that map blank to ``None``, such as
    ``Required(DATE)`` or ``Required(IntegerLens())``.
    """

    def __init__(
        self, child: Lens = BLANKABLE, error: str = "may not be blank."
    ) -> None:
        self.child = child
        self._error = error

    def to_text(self, n: Any) -> str:
        return self.child.to_text(n)

    def to_native(self, s: str) -> Any:
        if not s.strip():
            raise ValidationError(self._error)
        return self.child.to_native(s)


# ISO 8601 calendar date, as <input type="date"> sends it. ASCII digits only:
# "\d" would also accept other scripts' digits, which int() would then parse.
_DATE = re.compile(r"\s*([0-9]{4})-([0-9]{2})-([0-9]{2})\s*")


#: The one message for anything that is not a date, malformed or impossible.
DATE_ERROR = "does not look like a date (YYYY-MM-DD)."


class DateLens(StringLens):
    """A ``datetime.date``, written ``YYYY-MM-DD`` as ``<input type="date">`` sends it.

    Blank input becomes ``None``. Anything else that is not a date, whether
    malformed ("next week") or impossible ("2030-02-30"), raises
    ``ValidationError(error)``: by default :data:`DATE_ERROR`, "does not
    look like a date (YYYY-MM-DD)."
    """

    def __init__(self, error: str = DATE_ERROR) -> None:
        self.error = error

    def to_native(self, s: str) -> Any:
        if not s.strip():
            return None
        m = _DATE.fullmatch(s)
        if m is None:
            raise ValidationError(self.error)
        year, month, day = (int(part) for part in m.groups())
        try:
            return datetime.date(year, month, day)
        except ValueError:
            # Python's own message ("day is out of range for month") would
            # follow the field's label awkwardly, and differ from the one above.
            raise ValidationError(self.error) from None


#: Optional dates: ``datetime.date`` or ``None``.
DATE = DateLens()


# An integer in plain decimal notation. Python's int() would also take
# underscores and non-ASCII digits, which no user means in a number field.
INTEGER_PATTERN = re.compile(r"[+-]?[0-9]+")
# Longer input is refused before any parsing, so a hostile post cannot make
# the server convert a million-digit number.
MAX_NUMBER_CHARS = 100


# The shape of an e-mail address, as loose as the WHATWG rule for
# <input type="email"> but allowing non-ASCII letters (internationalised
# addresses, RFC 6531): a local part without spaces or specials, an "@", and
# a host name of dot-separated labels that start and end with a letter or digit.
_EMAIL = re.compile(
    r"[^\s@\"(),:;<>\[\]\\]{1,64}"
    r"@(?=.{1,253}\Z)[^\W_](?:[\w-]{0,61}[^\W_])?(?:\.[^\W_](?:[\w-]{0,61}[^\W_])?)+",
    re.DOTALL,
)


class EmailLens(StringLens):
    """An e-mail address, stripped; blank stays ``''`` (wrap it to change that).

    Only the shape is checked (``name@host.domain``): no lookup, and the
    case is kept. Raises ``ValidationError('does not look like an e-mail
    address.')`` otherwise.
    """

    def to_native(self, s: str) -> Any:
        text = s.strip()
        if text and not _EMAIL.fullmatch(text):
            raise ValidationError("does not look like an e-mail address.")
        return text


#: An optional e-mail address (``''`` when blank).
EMAIL = EmailLens()


class ChoiceLens(Lens):
    """A lens over a finite set of values, each with a human label.

    This is the protocol :class:`~kali.forms.choices.Pick` and
    :class:`~kali.forms.choices.RadioGroup` need; to offer choices of your
    own (from a file, an API, a computed list), subclass it and write three
    methods:

    * ``string_pairs()`` yields ``(value, label)`` pairs of ``str`` in
      display order. It is called on every render, so it may read fresh
      data each time (see :class:`~kali.forms.rows.RowChoice`).
    * ``to_text(native)`` gives the option value for a native value
      (``''`` for ``None``); for every valid native it is one of the values.
    * ``to_native(text)`` turns a posted option value back into the native
      value: ``''`` (nothing chosen) conventionally becomes ``None``, and a
      value that is not (or no longer) among the choices raises
      :class:`ValidationError` with a message for the user.

    Labels and values are escaped when rendered: return plain text.
    """

    def string_pairs(self) -> Iterable[tuple[str, str]]:
        """Yield ``(value, label)`` pairs of strings, in display order."""
        raise NotImplementedError(type(self))


class EnumLens(ChoiceLens):
    """Choose an integer code: the offset of a label in ``options``, plus ``base``.

    Blank input becomes ``None``. ``reverse`` shows the options last-first.
    Raises ``ValidationError('invalid selection')`` for input that is not an
    integer, and "out of range" for an integer outside the options.
    """

    def __init__(
        self, options: Sequence[Any], *, base: int = 0, reverse: bool = False
    ) -> None:
        self.options = options
        self.base = base
        self._pairs = [(str(index), str(label)) for index, label in enumerate(options)]
        if reverse:
            self._pairs.reverse()

    def string_pairs(self) -> Iterable[tuple[str, str]]:
        yield from self._pairs

    def to_text(self, n: Any) -> str:
        return "" if n is None else str(n - self.base)

    def to_native(self, s: str) -> Any:
        if not s:
            return None
        if not INTEGER_PATTERN.fullmatch(s) or len(s) > MAX_NUMBER_CHARS:
            raise ValidationError("invalid selection")
        offset = int(s)
        if 0 <= offset < len(self.options):
            return offset + self.base
        raise ValidationError("out of range (How did you do that?)")


class ListLens(ChoiceLens):
    """Choose one of a fixed list of short strings, shown as they are.

    Blank input becomes ``None``; anything not in the list raises
    ``ValidationError('invalid selection')``. Raises TypeError at construction
    when an option is not a str.
    """

    def __init__(self, options: Sequence[str]) -> None:
        for option in options:
            if not isinstance(option, str):
                raise TypeError(f"ListLens options must be str, not {option!r}")
        self.options = options

    def string_pairs(self) -> Iterable[tuple[str, str]]:
        return ((x, x) for x in self.options)

    def to_text(self, n: Any) -> str:
        return "" if n is None else str(n)

    def to_native(self, s: str) -> Any:
        if not s:
            return None
        if s in self.options:
            return s
        raise ValidationError("invalid selection")
