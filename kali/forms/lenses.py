"""Lenses: converting one field's text to a Python value and back, with validation.

In HTML everything is a string; in the application it is a date, a number, an
enumeration or ``None``. A *lens* converts in both directions:

* ``string_for_browser(native) -> str`` puts a stored value into a form, and
* ``native_from_string(text)`` turns what the user typed into a value, or
  raises :class:`ValidationError` with a short message ("may not be blank.")
  that the form shows beside the field.

Lenses compose like decorators: ``Required(IntegerLens(minimum=0))`` trims,
refuses blanks, parses and checks bounds. The ready-made singletons (kali
0.0.8 names) are ``BLANKABLE``, ``TYPICAL``, ``NULLABLE`` and ``DATE``; this
release adds ``EMAIL``. Lenses hold only immutable configuration, so one
instance may serve any number of fields and requests.

This module knows nothing of HTTP, HTML or form elements: it imports only the
standard library.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

__all__ = [
    "BLANKABLE",
    "DATE",
    "EMAIL",
    "NULLABLE",
    "TYPICAL",
    "ChoiceLens",
    "DateLens",
    "DecimalLens",
    "EmailLens",
    "EnumLens",
    "IntegerLens",
    "Lens",
    "ListLens",
    "Nullable",
    "Required",
    "StringLens",
    "Test",
    "ValidationError",
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

    Subclasses override both methods. ``native_from_string`` may raise
    :class:`ValidationError`; ``string_for_browser`` must accept ``None`` and
    every value ``native_from_string`` can return.
    """

    def string_for_browser(self, n: Any) -> str:
        """Convert a native Python value to the text shown in the form."""
        raise NotImplementedError(type(self))

    def native_from_string(self, s: str) -> Any:
        """Convert the text a user sent to a native value.

        Raises ValidationError when the text is unacceptable.
        """
        raise NotImplementedError(type(self))


class StringLens(Lens):
    """Text stays text: ``None`` shows as blank, input is stripped of whitespace."""

    def string_for_browser(self, n: Any) -> str:
        return "" if n is None else str(n)

    def native_from_string(self, s: str) -> Any:
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

    def string_for_browser(self, n: Any) -> str:
        return self.child.string_for_browser(n)

    def native_from_string(self, s: str) -> Any:
        n = self.child.native_from_string(s)
        if self._test(n):
            return n
        raise ValidationError(self._error)


#: Plain text, stripped, and not blank.
TYPICAL = Test(bool, error="may not be blank.")


class Nullable(Lens):
    """Blank input becomes ``None`` (SQL NULL), and ``None`` shows as blank."""

    def __init__(self, child: Lens) -> None:
        self.child = child

    def string_for_browser(self, n: Any) -> str:
        return self.child.string_for_browser("" if n is None else n)

    def native_from_string(self, s: str) -> Any:
        n = self.child.native_from_string(s)
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

    def string_for_browser(self, n: Any) -> str:
        return self.child.string_for_browser(n)

    def native_from_string(self, s: str) -> Any:
        if not s.strip():
            raise ValidationError(self._error)
        return self.child.native_from_string(s)


# ISO 8601 calendar date, as <input type="date"> sends it. ASCII digits only:
# "\d" would also accept other scripts' digits, which int() would then parse.
_DATE = re.compile(r"\s*([0-9]{4})-([0-9]{2})-([0-9]{2})\s*")


class DateLens(StringLens):
    """A ``datetime.date``, written ``YYYY-MM-DD`` as ``<input type="date">`` sends it.

    Blank input becomes ``None``. An impossible date (February 30th) raises
    ValidationError with Python's own message; anything else that is not a
    date raises ``ValidationError('does not look like a date (YYYY-MM-DD).')``.
    """

    def native_from_string(self, s: str) -> Any:
        if not s.strip():
            return None
        m = _DATE.fullmatch(s)
        if m is None:
            raise ValidationError("does not look like a date (YYYY-MM-DD).")
        year, month, day = (int(part) for part in m.groups())
        try:
            return datetime.date(year, month, day)
        except ValueError as error:
            raise ValidationError(*error.args) from None


#: Optional dates: ``datetime.date`` or ``None``.
DATE = DateLens()


# An integer in plain decimal notation. Python's int() would also take
# underscores and non-ASCII digits, which no user means in a number field.
_INTEGER = re.compile(r"[+-]?[0-9]+")
# A decimal in plain notation ("12", "-3.50", ".5"): no exponent, NaN or infinity.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Longer input is refused before any parsing, so a hostile post cannot make
# the server convert a million-digit number.
MAX_NUMBER_CHARS = 100

Number = Union[int, decimal.Decimal]


def _check_bounds(
    value: Number, minimum: Number | None, maximum: Number | None
) -> None:
    if minimum is not None and value < minimum:
        raise ValidationError(f"must be at least {minimum}.")
    if maximum is not None and value > maximum:
        raise ValidationError(f"must be at most {maximum}.")


class _NumberLens(Lens):
    """What IntegerLens and DecimalLens share: bounds, blank input as None,
    and text checked against a size cap and the number pattern."""

    _PATTERN: re.Pattern[str]
    _NOT_A_NUMBER: str
    minimum: Any
    maximum: Any

    def _set_bounds(self, minimum: Number | None, maximum: Number | None) -> None:
        if minimum is not None and maximum is not None and minimum > maximum:
            raise ValueError(f"minimum {minimum} is above maximum {maximum}")
        self.minimum = minimum
        self.maximum = maximum

    def string_for_browser(self, n: Any) -> str:
        return "" if n is None else str(n)

    def _number_text(self, s: str) -> str | None:
        """The stripped text, None when blank; ValidationError if not a number."""
        text = s.strip()
        if not text:
            return None
        if len(text) > MAX_NUMBER_CHARS or not self._PATTERN.fullmatch(text):
            raise ValidationError(self._NOT_A_NUMBER)
        return text


class IntegerLens(_NumberLens):
    """A whole number (``int``), optionally within ``minimum``..``maximum``.

    Blank input becomes ``None`` (wrap the lens in :class:`Required` to refuse
    it). Surrounding spaces are ignored. Raises ValidationError for anything
    but an optionally signed run of digits, and for a value out of bounds.
    """

    _PATTERN = _INTEGER
    _NOT_A_NUMBER = "is not a whole number."

    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self._set_bounds(minimum, maximum)

    def native_from_string(self, s: str) -> Any:
        text = self._number_text(s)
        if text is None:
            return None
        value = int(text)
        _check_bounds(value, self.minimum, self.maximum)
        return value


class DecimalLens(_NumberLens):
    """An exact decimal number (``decimal.Decimal``), such as an amount of money.

    ``places`` limits the digits after the point (2 for cents); ``minimum``
    and ``maximum`` bound the value. Blank input becomes ``None``. Raises
    ValidationError for anything but plain decimal notation ("12", "-3.50"),
    for too many decimal places, and for a value out of bounds.
    """

    _PATTERN = _DECIMAL
    _NOT_A_NUMBER = "is not a number."

    def __init__(
        self,
        minimum: Number | str | None = None,
        maximum: Number | str | None = None,
        *,
        places: int | None = None,
    ) -> None:
        self._set_bounds(
            None if minimum is None else decimal.Decimal(minimum),
            None if maximum is None else decimal.Decimal(maximum),
        )
        if places is not None and places < 0:
            raise ValueError("places must not be negative")
        self.places = places

    def native_from_string(self, s: str) -> Any:
        text = self._number_text(s)
        if text is None:
            return None
        value = decimal.Decimal(text)
        if self.places is not None:
            _, _, point = text.partition(".")
            if len(point) > self.places:
                if self.places == 0:
                    raise ValidationError("must be a whole number.")
                raise ValidationError(
                    f"may have at most {self.places} digits after the point."
                )
        _check_bounds(value, self.minimum, self.maximum)
        return value


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

    def native_from_string(self, s: str) -> Any:
        text = s.strip()
        if text and not _EMAIL.fullmatch(text):
            raise ValidationError("does not look like an e-mail address.")
        return text


#: An optional e-mail address (``''`` when blank).
EMAIL = EmailLens()


class ChoiceLens(Lens):
    """A lens over a small finite set of values, each with a human label.

    ``string_pairs()`` yields ``(value, label)`` strings for the browser. For
    every valid native ``n``, ``string_for_browser(n)`` must be one of the
    values.
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

    def string_for_browser(self, n: Any) -> str:
        return "" if n is None else str(n - self.base)

    def native_from_string(self, s: str) -> Any:
        if not s:
            return None
        if not _INTEGER.fullmatch(s) or len(s) > MAX_NUMBER_CHARS:
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

    def string_for_browser(self, n: Any) -> str:
        return "" if n is None else str(n)

    def native_from_string(self, s: str) -> Any:
        if not s:
            return None
        if s in self.options:
            return s
        raise ValidationError("invalid selection")
