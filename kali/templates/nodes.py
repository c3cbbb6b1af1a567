"""The template tree: what the parser builds and the compiler reads.

Nodes are frozen dataclasses compared by value, so tests can write the tree
they expect.  Every node but :class:`Text` carries ``source`` (its exact text),
``lineno`` and ``column`` (1-based), which error messages quote.  Nodes must
hold names and text only, never values or callables (looking a formatter up
is the compiler's business), and must not know how they are rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Text:
    """Literal text, emitted unchanged (UTF-8-encoded once, at compile time)."""

    text: str


@dataclass(frozen=True)
class Substitute:
    """``{name}``: the value, escaped; a missing key leaves ``source`` as text."""

    name: str
    source: str
    lineno: int
    column: int


@dataclass(frozen=True)
class Raw:
    """``{.name}`` (or ``{.name:fmt}``, formatter ignored): the value unescaped."""

    name: str
    source: str
    lineno: int
    column: int


@dataclass(frozen=True)
class Format:
    """``{name:fmt}``: ``formatter(value)``, escaped; ``formatter`` is ``":fmt"``."""

    name: str
    formatter: str
    source: str
    lineno: int
    column: int


@dataclass(frozen=True)
class Loop:
    """``{@name:item} body {^name} otherwise {/name}``.

    ``item`` is the name each element is bound to, or ``None`` when the
    elements are mappings whose keys become names (``{@name}``).
    ``otherwise`` is ``None`` when there is no ``{^name}`` branch.
    """

    name: str
    item: str | None
    body: tuple[Node, ...]
    otherwise: tuple[Node, ...] | None
    source: str
    lineno: int
    column: int


@dataclass(frozen=True)
class Conditional:
    """``{?name} body {:else} otherwise {/name}``, or ``{!name}`` (``negated``).

    ``body`` is shown when the value is true (false when ``negated``), by
    Python's truth rule; ``otherwise`` is ``None`` when there is no
    ``{:else}`` branch.  The section does not bind any name.
    """

    name: str
    negated: bool
    body: tuple[Node, ...]
    otherwise: tuple[Node, ...] | None
    source: str
    lineno: int
    column: int


Node = Union[Text, Substitute, Raw, Format, Loop, Conditional]
Placeholder = Union[Substitute, Raw, Format, Loop, Conditional]


@dataclass(frozen=True)
class Root:
    """A whole template: its ``filename`` (for messages) and its top-level nodes."""

    filename: str
    body: tuple[Node, ...]
