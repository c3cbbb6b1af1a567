"""Number lenses: whole numbers and exact decimals, with bounds.

:class:`IntegerLens` reads ``int`` and :class:`DecimalLens` reads
``decimal.Decimal`` (money: never a float) from plain decimal notation, as
``<input type="number">`` sends it; both turn blank input into ``None``
(wrap them in :class:`~kali.forms.lenses.Required` to refuse it) and check
``minimum``/``maximum``. :class:`~kali.forms.elements.NumberEntry` copies
those bounds into the input's ``min``, ``max`` and ``step``. An IntegerLens
also keeps every value within SQLite's INTEGER range (signed 64 bits), so a
30-digit id is a message beside the field, not an OverflowError from the
database.

Like every lens module it knows nothing of HTTP, HTML or form elements.
"""

from __future__ import annotations

import decimal
import re
from typing import Any, Union

from .lenses import INTEGER_PATTERN, MAX_NUMBER_CHARS, Lens, ValidationError

__all__ = [
    "SQLITE_MAX_INTEGER",
    "SQLITE_MIN_INTEGER",
    "DecimalLens",
    "IntegerLens",
    "Number",
]

#: The range of an SQLite INTEGER (a signed 64-bit integer): Python's
#: sqlite3 raises OverflowError for any int beyond it.
SQLITE_MIN_INTEGER = -(2**63)
SQLITE_MAX_INTEGER = 2**63 - 1

# A decimal in plain notation ("12", "-3.50", ".5"): no exponent, NaN or infinity.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
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

    def to_text(self, n: Any) -> str:
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
    but an optionally signed run of digits, and for a value out of bounds:
    ``minimum``/``maximum``, and (unless ``sqlite_range=False``) SQLite's
    INTEGER range, :data:`SQLITE_MIN_INTEGER` to :data:`SQLITE_MAX_INTEGER`.
    """

    _PATTERN = INTEGER_PATTERN
    _NOT_A_NUMBER = "is not a whole number."

    def __init__(
        self,
        minimum: int | None = None,
        maximum: int | None = None,
        *,
        sqlite_range: bool = True,
    ) -> None:
        self._set_bounds(minimum, maximum)
        self.sqlite_range = sqlite_range

    def to_native(self, s: str) -> Any:
        text = self._number_text(s)
        if text is None:
            return None
        value = int(text)
        _check_bounds(value, self.minimum, self.maximum)
        if self.sqlite_range:
            if value > SQLITE_MAX_INTEGER:
                raise ValidationError("is too large.")
            if value < SQLITE_MIN_INTEGER:
                raise ValidationError("is too small.")
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

    def to_text(self, n: Any) -> str:
        """The number in plain notation, with at least ``places`` decimals.

        ``89.9`` with ``places=2`` shows as ``89.90``. A value with *more*
        decimals than ``places`` is shown in full, never rounded: the form
        then refuses it until the user decides, instead of silently changing
        a stored amount. Text that is not a number is shown as it is.
        """
        if n is None:
            return ""
        if isinstance(n, bool) or not isinstance(n, (int, float, str, decimal.Decimal)):
            return str(n)
        try:
            # str() first: Decimal(89.9) would show the float's binary error.
            value = n if isinstance(n, decimal.Decimal) else decimal.Decimal(str(n))
        except decimal.InvalidOperation:
            return str(n)
        if not value.is_finite():
            return str(n)
        # Enough precision for any exponent: quantize never rounds or fails.
        exact = decimal.Context(prec=decimal.MAX_PREC)
        if isinstance(n, float) and value == value.to_integral_value():
            # repr(7.0) is "7.0": the ".0" is the float's, not a decimal place.
            value = value.quantize(decimal.Decimal(1), context=exact)
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)  # finite numbers have an int exponent
        if self.places is not None and -exponent < self.places:
            places = decimal.Decimal(1).scaleb(-self.places)
            value = value.quantize(places, context=exact)
        return format(value, "f")

    def to_native(self, s: str) -> Any:
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
