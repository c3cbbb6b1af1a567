"""Bag: a dict that remembers every value given for a key.

Query strings, form posts and headers may repeat a name. A Bag answers
``bag[key]`` with the *last* value (``bag.single``) and keeps every value, in
order, in ``bag.multiple``. This is the kali 0.0.8 API, kept as it was.

This is a leaf module: it imports nothing from kali.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Union

Pairs = Union[Mapping[Any, Any], "Bag", Iterable[tuple[Any, Any]]]


class Bag:
    """A multi-valued mapping: ``single`` holds the last value per key,
    ``multiple`` every value in arrival order."""

    __slots__ = ("single", "multiple")

    def __init__(self, pairs: Pairs | None = None) -> None:
        self.single: dict[Any, Any] = {}
        self.multiple: dict[Any, list[Any]] = {}
        if pairs is not None:
            self.update(pairs)

    def __getitem__(self, key: Any) -> Any:
        return self.single[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.single[key] = value
        self.multiple.setdefault(key, []).append(value)

    def __delitem__(self, key: Any) -> None:
        del self.single[key]
        del self.multiple[key]

    def __contains__(self, key: object) -> bool:
        return key in self.single

    def __iter__(self) -> Iterator[Any]:
        return iter(self.single)

    def __len__(self) -> int:
        return len(self.single)

    def __bool__(self) -> bool:
        return bool(self.single)

    def __str__(self) -> str:
        return str(self.multiple)

    def __repr__(self) -> str:
        return f"Bag({list(self.items())!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Bag):
            return self.multiple == other.multiple
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def keys(self) -> Iterable[Any]:
        return self.single.keys()

    def get(self, key: Any, default: Any = None) -> Any:
        """The last value for ``key``, or ``default``."""
        return self.single.get(key, default)

    def get_list(self, key: Any) -> list[Any]:
        """Every value for ``key`` in order (a new list; ``[]`` if absent)."""
        return list(self.multiple.get(key, ()))

    # WTForms and Werkzeug spell it this way; forms accept either.
    getlist = get_list

    def update(self, pairs: Pairs) -> None:
        """Add pairs from a dict, another Bag (every value) or an iterable of pairs."""
        if type(pairs) in (list, tuple):  # the common case, without ABC checks
            items: Iterable[tuple[Any, Any]] = pairs  # type: ignore[assignment]
        elif isinstance(pairs, Bag):
            items = list(pairs.items())
        elif isinstance(pairs, Mapping):
            items = pairs.items()
        else:
            items = pairs
        single, multiple = self.single, self.multiple
        for key, value in items:  # __setitem__, inlined: this is a hot path
            single[key] = value
            bucket = multiple.get(key)
            if bucket is None:
                multiple[key] = [value]
            else:
                bucket.append(value)

    def items(self) -> Iterator[tuple[Any, Any]]:
        """Every (key, value) pair, grouped by key in first-seen order."""
        for key, values in self.multiple.items():
            for value in values:
                yield key, value
