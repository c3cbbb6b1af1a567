"""Typed path values: what a handler's annotations make of a URL's wildcards.

The router reads, once at registration, the annotations of a ``@function``'s
parameters (or of a servlet's or service's constructor) and binds each
wildcard to a converter: ``str`` (none), ``int`` (ASCII digits within
SQLite's integer range), :class:`SignedInt`, a finite ``float``,
``uuid.UUID``, an Enum, or any callable that raises ValueError for bad text
(with an optional ``to_url`` for building URLs back). A parameter named
``request`` receives the Request. A value that does not convert is the
router's 404. This module decides bindings and converts values; it never
chooses a route or calls a handler.
"""

from __future__ import annotations

import enum
import functools
import inspect
import math
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from .errors import RoutingError
from .request import Request

#: The parameter name that receives the Request in every registration style.
REQUEST_PARAMETER = "request"

_PARAMETER = inspect.Parameter
_POSITIONAL = (_PARAMETER.POSITIONAL_ONLY, _PARAMETER.POSITIONAL_OR_KEYWORD)
_NAMED = (_PARAMETER.POSITIONAL_OR_KEYWORD, _PARAMETER.KEYWORD_ONLY)
_PARAMETER_VARIADIC = (_PARAMETER.VAR_POSITIONAL, _PARAMETER.VAR_KEYWORD)

#: SQLite stores an INTEGER in 8 bytes, signed: a bigger number in a path can
#: never name a row, so it is a 404 rather than an OverflowError in a query.
_INT_MAX = 2**63 - 1

# A finite number as people and str(float) write it. float() would also take
# "inf", "nan", " 1", "1_000" and non-ASCII digits: none of them is a URL.
_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _parse_natural(text: str) -> int:
    """``int`` in a path: ASCII digits only (no sign, space or ``_``), at most
    SQLite's largest integer."""
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"not a whole number: {text[:40]!r}")
    value = int(text)
    if value > _INT_MAX:
        raise ValueError("number too large")
    return value


class SignedInt(int):
    """Annotate a wildcard parameter ``n: SignedInt`` to accept negative
    integers too: an optional ``-`` and ASCII digits, within SQLite's 64-bit
    range. The handler gets a plain ``int``."""

    def __new__(cls, text: str) -> int:  # type: ignore[misc]
        negative = text[:1] == "-"
        digits = text[1:] if negative else text
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError(f"not a whole number: {text[:40]!r}")
        value = -int(digits) if negative else int(digits)
        if not -_INT_MAX - 1 <= value <= _INT_MAX:
            raise ValueError("number out of range")
        return value


def _parse_finite(text: str) -> float:
    """``float`` in a path: a finite decimal number (optional ``-``)."""
    if _FLOAT.fullmatch(text) is None:
        raise ValueError(f"not a number: {text[:40]!r}")
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise ValueError("number too large")
    return value


def _uuid_parser(uuid_class: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_uuid(text: str) -> Any:
        # Only the canonical 8-4-4-4-12 form: uuid.UUID() also takes braces,
        # "urn:uuid:" and "_" between digits, which would give one record
        # several URLs.
        if (
            len(text) != 36
            or text[8] + text[13] + text[18] + text[23] != "----"
            or not _HEX_DIGITS.issuperset(text.replace("-", ""))
        ):
            raise ValueError(f"not a UUID: {text[:40]!r}")
        return uuid_class(text)

    return parse_uuid


class PathValue(NamedTuple):
    """How one wildcard's text becomes a handler's value, and back."""

    name: str  # the parameter it fills, for messages
    parse: Callable[[str], Any] | None  # None: the text itself (str)
    to_url: Callable[[Any], str]
    is_checked: bool  # url_for re-parses what a built-in converter wrote


def _text_value(name: str) -> PathValue:
    return PathValue(name, None, str, True)


def _enum_value(name: str, enum_class: Any) -> PathValue:
    members = {str(member.value): member for member in enum_class}

    def parse_member(text: str) -> Any:
        member = members.get(text)
        if member is None:
            raise ValueError(f"not a {enum_class.__name__}: {text[:40]!r}")
        return member

    def member_to_url(value: Any) -> str:
        return str(enum_class(value).value)

    return PathValue(name, parse_member, member_to_url, True)


def _resolve(owner: str, name: str, annotation: str, namespace: Any) -> Any:
    """The object a string annotation names (``from __future__ import
    annotations``), looked up in the handler's module; ValueError if none."""
    holder = types.SimpleNamespace(__annotations__={name: annotation})
    try:
        return typing.get_type_hints(holder, globalns=namespace)[name]
    except Exception as error:  # NameError, SyntaxError, TypeError...
        raise ValueError(
            f"{owner}: cannot resolve the annotation {annotation!r} of parameter "
            f"{name!r} ({error}). A converter named in a string annotation must "
            "be a module-level name of the handler's module, not a local one."
        ) from None


def _path_value(owner: str, name: str, annotation: Any, namespace: Any) -> PathValue:
    """The converter for a wildcard parameter, from its annotation."""
    if isinstance(annotation, str):
        annotation = _resolve(owner, name, annotation, namespace)
    while hasattr(annotation, "__supertype__"):  # typing.NewType
        annotation = annotation.__supertype__
    if any(annotation is plain for plain in (_PARAMETER.empty, str, Any, object)):
        return _text_value(name)
    if annotation is int:
        return PathValue(name, _parse_natural, str, True)
    if annotation is SignedInt:
        return PathValue(name, SignedInt, str, True)
    if annotation is float:
        return PathValue(name, _parse_finite, str, True)
    if isinstance(annotation, enum.EnumMeta):
        return _enum_value(name, annotation)
    if (
        getattr(annotation, "__module__", None) == "uuid"
        and getattr(annotation, "__qualname__", None) == "UUID"
    ):
        return PathValue(name, _uuid_parser(annotation), str, True)
    if (
        annotation is bool  # bool("0") is True
        or annotation is bytes
        or typing.get_origin(annotation) is not None  # Optional[int], list[int]...
        or not callable(annotation)
    ):
        raise ValueError(
            f"{owner}: the annotation {annotation!r} of parameter {name!r} is not "
            "a path converter. Use str, int, kali.routing.SignedInt, float, "
            "uuid.UUID, an Enum, or a callable that raises ValueError for bad text."
        )
    return PathValue(name, annotation, getattr(annotation, "to_url", str), False)


class Binding:
    """How a handler's parameters are filled from a mount's wildcards and the
    request, worked out at registration. ``values`` has one converter per
    wildcard; ``typed`` lists the positions to convert; ``request_slot`` is
    None (no request parameter), -1 (passed by keyword) or its position."""

    __slots__ = ("values", "typed", "request_slot")

    def __init__(self, values: Sequence[PathValue], request_slot: int | None) -> None:
        self.values = tuple(values)
        self.typed = tuple(
            (index, value.parse)
            for index, value in enumerate(values)
            if value.parse is not None
        )
        self.request_slot = request_slot

    @classmethod
    def untyped(cls, wildcards: int) -> Binding:
        """For a handler whose signature is unknown: wildcards as text."""
        return cls([_text_value(f"wildcard {i + 1}") for i in range(wildcards)], None)

    def convert(self, request: Request) -> list[Any]:
        """The handler's wildcard values; HTTPError 404 if one does not convert."""
        values = list(request.args)
        try:
            for index, parse in self.typed:
                values[index] = parse(values[index])  # type: ignore[misc]
        except (ValueError, ArithmeticError):  # decimal.Decimal raises the latter
            raise RoutingError(404) from None
        return values

    def call(
        self,
        target: Callable[..., Any],
        request: Request,
        values: Sequence[Any],
        query: Mapping[str, Any],
    ) -> Any:
        """``target(*values, **query)`` with the request put in its place."""
        slot = self.request_slot
        if slot is None:
            return target(*values, **query)
        if slot < 0:
            return target(*values, request=request, **query)
        return target(*values[:slot], request, *values[slot:], **query)


class _Parameters(NamedTuple):
    binding: Binding
    by_path: list[inspect.Parameter]  # filled by wildcards
    takes_request: bool
    remaining: list[inspect.Parameter]  # all the others, bar *args and request


def bind(
    owner: str, params: list[inspect.Parameter], wildcards: int, namespace: Any
) -> _Parameters:
    """Match ``wildcards`` path values and the request to ``params``;
    ValueError if they cannot be passed."""
    request = next(
        (
            p
            for p in params
            if p.name == REQUEST_PARAMETER and p.kind not in _PARAMETER_VARIADIC
        ),
        None,
    )
    positional = [p for p in params if p.kind in _POSITIONAL]
    others = [p for p in positional if p is not request]
    rest = next((p for p in params if p.kind is _PARAMETER.VAR_POSITIONAL), None)
    if wildcards > len(others) and rest is None:
        raise ValueError(
            f"{owner} takes {len(others)} positional arguments besides "
            f"{REQUEST_PARAMETER!r}, but the mount point has {wildcards} wildcards"
        )
    by_path = others[:wildcards]
    values = [_path_value(owner, p.name, p.annotation, namespace) for p in by_path]
    if rest is not None and wildcards > len(by_path):
        extra = _path_value(owner, "*" + rest.name, rest.annotation, namespace)
        values += [extra] * (wildcards - len(by_path))
    slot = None
    if request is not None:
        index = next((i for i, p in enumerate(positional) if p is request), -1)
        if 0 <= index <= len(by_path):  # only wildcards come before it
            slot = index
        elif request.kind is _PARAMETER.POSITIONAL_ONLY:
            raise ValueError(
                f"{owner}: the positional-only {REQUEST_PARAMETER!r} parameter "
                "comes after parameters that no wildcard fills"
            )
        else:
            slot = -1
    remaining = [
        p
        for p in params
        if p is not request
        and p.kind is not _PARAMETER.VAR_POSITIONAL
        and not any(p is q for q in by_path)
    ]
    return _Parameters(Binding(values, slot), by_path, request is not None, remaining)


def describe(target: object) -> str:
    return str(getattr(target, "__qualname__", None) or repr(target))


def namespace_of(target: object) -> Any:
    """The globals that string annotations of ``target`` refer to."""
    code: Any = target
    while isinstance(code, functools.partial):
        code = code.func
    if isinstance(code, type):
        code = code.__init__  # type: ignore[misc]
    elif not inspect.isroutine(code):  # an object with a __call__ method
        code = type(code).__call__
    try:
        code = inspect.unwrap(code)
    except ValueError:  # a __wrapped__ cycle
        pass
    namespace = getattr(code, "__globals__", None)
    if isinstance(namespace, dict):
        return namespace
    module = sys.modules.get(str(getattr(target, "__module__", "")))
    return vars(module) if module is not None else {}


def class_binding(cls: type, wildcards: int) -> Binding:
    """How ``cls`` is constructed from a mount's wildcards (and the request)."""
    owner = describe(cls)
    init: object = cls.__init__  # type: ignore[misc]
    new: object = cls.__new__
    if init is object.__init__ and new is object.__new__:
        params: list[inspect.Parameter] = []
    else:
        try:
            params = list(inspect.signature(cls).parameters.values())
        except (TypeError, ValueError):  # no signature: pass the text as 0.0.8
            return Binding.untyped(wildcards)
    bound = bind(owner, params, wildcards, namespace_of(cls))
    for p in bound.remaining:
        if p.default is p.empty and p.kind is not _PARAMETER.VAR_KEYWORD:
            raise ValueError(
                f"{owner}: the constructor needs {p.name!r}, which no wildcard gives"
            )
    return bound.binding
