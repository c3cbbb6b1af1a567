"""The compiler: a template tree in, a Python render function out.

Each template becomes the source of one function, ``render(params)``, which is
compiled once with :func:`compile` and run for every call.  Generated code was
chosen over a tree of closures by measurement: on the bigtable benchmark
(``bench/bench_templates.py``) the closures took about 12 ms, generated code
about 2.2 ms, Jinja2 about 9.5 ms (same machine, same run).  Loop items live in
Python locals, constant text is a ``bytes`` constant encoded at compile time,
and the common values (``str``, ``int``) are handled inline.

What the function does, in terms of :mod:`kali.templates.values`:

* it appends byte chunks to ``text`` and trusted inserted values to ``out``,
  and returns ``Fragment(out)`` with the pending text flushed;
* before each placeholder it records which one is active (``k``); an exception
  leaving the function gets a note naming the template, line, column and
  placeholder, and is re-raised unchanged;
* a name the template needs and was not given raises
  :class:`~kali.templates.exceptions.MissingNameError`, whose message says
  where.  For ``{name}`` (which then stays literal) and ``{?name}`` (false)
  that happens only in strict mode; with ``strict=None`` the mode is decided
  by :func:`is_strict_by_default` *when a name is missing*, so strictness
  costs nothing while every name is there.

Only names and text reach the generated source, through :func:`repr`; values,
formatters and messages are passed in the function's globals.  This module must
not parse text or read files.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import CodeType
from typing import Any, NamedTuple

from kali.iolist import Fragment

from . import nodes, values
from .exceptions import MissingNameError, attach_note

#: What a compiled template is: template parameters in, template output out.
RenderFunction = Callable[[Any], Fragment]

#: How many compiled code objects to remember.  Compiling the generated source
#: is most of the cost of making a Template (about 0.3 ms for a small one);
#: the code depends only on that source, so a template made again -- after
#: ``TemplateFolder.wrap`` clears its cache, or by ``assembly("...")`` in a
#: handler -- reuses it.  Parsing, formatter look-up and code generation still
#: run every time, so nothing stale is ever served.
COMPILED_CACHE_SIZE = 512

#: An environment variable that makes ``strict=None`` templates strict when
#: it is ``"1"``; ``serve_http(debug=True)`` sets it.
DEBUG_VARIABLE = "KALI_DEBUG"


def is_strict_by_default() -> bool:
    """What ``strict=None`` means now: True under pytest or with KALI_DEBUG=1.

    pytest sets ``PYTEST_CURRENT_TEST`` while a test runs.  Read at the
    moment a name turns out to be missing, never on the normal path.
    """
    environ = os.environ
    return environ.get(DEBUG_VARIABLE) == "1" or "PYTEST_CURRENT_TEST" in environ


class _Location(NamedTuple):
    """Where a placeholder is, and what it needs, for error messages."""

    source: str
    lineno: int
    column: int
    name: str
    bound: tuple[str, ...]  # names bound by the loops around it


class _Scope(NamedTuple):
    """A loop the code being generated is inside of."""

    item: str | None  # the name the item is bound to, or None for {@name}
    variable: str  # the Python local holding the item


class CodeGenerator:
    """Writes the source of ``render(params)`` for one template tree.

    ``strict`` is False when a missing ``{name}`` stays literal and a missing
    ``{?name}`` is false without asking (kali 0.0.8's behaviour); otherwise
    the generated code calls ``missing()``, which decides.
    """

    def __init__(
        self, formatters: Mapping[str, Callable[[Any], Any]], strict: bool | None
    ) -> None:
        self.formatters = formatters
        self.strict = strict
        self.lines: list[str] = []
        self.depth = 0
        self.scopes: list[_Scope] = []
        self.namespace: dict[str, Any] = {
            "Fragment": Fragment,
            "MISSING": values.MISSING,
            "MissingNameError": MissingNameError,
            "escape_text": values.escape_text,
            "insert_value": values.insert_value,
            "insert_raw": values.insert_raw,
            "lookup": values.lookup,
            "iter_items": values.iter_items,
            "iter_mappings": values.iter_mappings,
        }
        #: placeholder index -> where it is, for error notes and messages
        self.locations: list[_Location] = []

    # -- writing -----------------------------------------------------------

    def write(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    @contextmanager
    def indented(self, header: str) -> Iterator[None]:
        """Write ``header`` and indent what follows; an empty block gets ``pass``."""
        self.write(header)
        self.depth += 1
        mark = len(self.lines)
        yield
        if len(self.lines) == mark:
            self.write("pass")
        self.depth -= 1

    def locate(self, node: nodes.Placeholder) -> None:
        """Record ``node`` as the active placeholder for error notes."""
        self.write(f"k = {len(self.locations)}")
        bound = tuple(scope.item for scope in self.scopes if scope.item is not None)
        self.locations.append(
            _Location(node.source, node.lineno, node.column, node.name, bound)
        )

    # -- the function ------------------------------------------------------

    def generate(self, root: nodes.Root) -> str:
        """The Python source of ``render(params)`` for ``root``."""
        with self.indented("def render(params):"):
            texts = [node for node in root.body if isinstance(node, nodes.Text)]
            if len(texts) == len(root.body):  # no placeholders: a constant
                constant = b"".join(_encode(node) for node in texts)
                self.write(f"return Fragment(({constant!r},))")
                return "\n".join(self.lines) + "\n"
            self.write("text = []")
            self.write("out = []")
            self.write("t = text.append")
            self.write("k = 0")  # the active placeholder; see locate()
            with self.indented("try:"):
                self.visit_body(root.body)
            with self.indented("except MissingNameError:"):
                self.write("raise")  # its message already says where
            with self.indented("except Exception as error:"):
                self.write("note(error, k)")
                self.write("raise")
            with self.indented("if out:"):
                with self.indented("if text:"):
                    self.write('out.append(b"".join(text))')
                self.write("return Fragment(out)")
            self.write('return Fragment((b"".join(text),))')
        return "\n".join(self.lines) + "\n"

    def visit_body(self, body: tuple[nodes.Node, ...]) -> None:
        for node in body:
            getattr(self, "visit_" + type(node).__name__)(node)

    # -- nodes -------------------------------------------------------------

    def visit_Text(self, node: nodes.Text) -> None:
        self.write(f"t({_encode(node)!r})")

    def visit_Substitute(self, node: nodes.Substitute) -> None:
        self.locate(node)
        literal = node.source.encode()
        missing: Callable[[str], str]
        if self.strict is False:
            missing = _fixed(f"t({literal!r})")
        else:
            missing = lambda mappings: f"t(missing(k, {mappings}, {literal!r}))"  # noqa: E731
        if self.lookup(node.name, missing):
            with self.indented("else:"):
                self.insert_escaped()
        else:
            self.insert_escaped()

    def visit_Format(self, node: nodes.Format) -> None:
        self.locate(node)
        formatter = f"format_{len(self.locations) - 1}"
        self.namespace[formatter] = self.formatters[node.formatter]
        self.lookup(node.name, None)
        self.write(f"v = {formatter}(v)")
        self.insert_escaped()

    def visit_Raw(self, node: nodes.Raw) -> None:
        self.locate(node)
        self.lookup(node.name, None)
        with self.indented("if v.__class__ is str:"):
            self.write('t(v.encode("utf-8", "replace"))')
        with self.indented("else:"):
            self.write("insert_raw(v, text, out)")

    def visit_Loop(self, node: nodes.Loop) -> None:
        self.locate(node)
        index = len(self.locations) - 1
        self.lookup(node.name, None)
        if node.item is None:
            variable, iterate = f"mapping_{index}", "iter_mappings"
        else:
            variable, iterate = f"item_{index}", "iter_items"
        empty = f"empty_{index}"
        if node.otherwise is not None:
            self.write(f"{empty} = True")
        with self.indented(f"for {variable} in {iterate}(v, {node.source!r}):"):
            if node.otherwise is not None:
                self.write(f"{empty} = False")
            self.scopes.append(_Scope(node.item, variable))
            self.visit_body(node.body)
            self.scopes.pop()
            if len(self.locations) - 1 > index:  # the body moved k on
                self.write(f"k = {index}")
        if node.otherwise is not None:
            with self.indented(f"if {empty}:"):
                self.visit_body(node.otherwise)

    def visit_Conditional(self, node: nodes.Conditional) -> None:
        self.locate(node)
        missing: Callable[[str], str]
        if self.strict is False:
            missing = _fixed("v = None")
        else:
            missing = lambda mappings: f"v = missing(k, {mappings}, None)"  # noqa: E731
        self.lookup(node.name, missing)  # v is set either way: no else needed
        with self.indented("if not v:" if node.negated else "if v:"):
            self.visit_body(node.body)
        if node.otherwise is not None:
            with self.indented("else:"):
                self.visit_body(node.otherwise)

    # -- helpers -----------------------------------------------------------

    def lookup(self, name: str, missing: Callable[[str], str] | None) -> bool:
        """Write code that sets ``v`` to the value of ``name``.

        Names bound by enclosing loops are Python locals; the items of
        ``{@name}`` loops are searched at run time, innermost first (inline),
        then the others and ``params`` (through ``lookup``).  If ``missing``
        is None a missing name raises MissingNameError, a KeyError (also
        where a ``sqlite3.Row`` raised IndexError); otherwise
        ``missing(mappings)`` is the statement to run instead, given the
        source of the tuple of mappings searched.  Returns True when the
        caller must put what it does with ``v`` under an ``else:`` (the name
        may be missing).
        """
        searched: list[str] = []
        fallback = "params"
        for scope in reversed(self.scopes):
            if scope.item is None:
                searched.append(scope.variable)
            elif scope.item == name:
                fallback = scope.variable
                break
        mappings = f"({', '.join([*searched, 'params'])},)"
        if missing is None:
            missing = _fixed(f"raise missing_name(k, {mappings}) from None")
        if not searched:
            if fallback != "params":
                self.write(f"v = {fallback}")
                return False
            with self.indented("try:"):
                self.write(f"v = params[{name!r}]")
            with self.indented("except LookupError:"):
                self.write(missing(mappings))
            return True
        first, rest = searched[0], searched[1:]
        with self.indented("try:"):
            self.write(f"v = {first}[{name!r}]")
        with self.indented("except LookupError:"):
            if fallback == "params":
                rest.append("params")
            if not rest:
                self.write(f"v = {fallback}")
                return False
            self.write(f"v = lookup({name!r}, ({', '.join(rest)},))")
            if fallback != "params":
                with self.indented("if v is MISSING:"):
                    self.write(f"v = {fallback}")
                return False
        with self.indented("if v is MISSING:"):
            self.write(missing(mappings))
        return True

    def insert_escaped(self) -> None:
        """Write code inserting ``v`` by the value rule (str and int inline)."""
        with self.indented("if v.__class__ is str:"):
            self.write("t(escape_text(v))")
        with self.indented("elif v.__class__ is int:"):
            self.write('t(b"%d" % v)')
        with self.indented("elif v is not None:"):
            self.write("insert_value(v, text, out)")


def _encode(node: nodes.Text) -> bytes:
    return node.text.encode("utf-8", "replace")  # as kali.iolist does


def _fixed(statement: str) -> Callable[[str], str]:
    """A ``missing`` statement for :meth:`CodeGenerator.lookup` as it is."""
    return lambda mappings: statement


def _names(mappings: tuple[Any, ...], bound: tuple[str, ...]) -> list[str]:
    """The names a placeholder could have used, for a "did you mean"."""
    names = set(bound)
    for mapping in mappings:
        try:
            names.update(key for key in mapping.keys() if isinstance(key, str))
        except Exception:  # any mapping-like object: best effort only
            continue
    return sorted(names)


def describe_missing(
    location: _Location, mappings: tuple[Any, ...], strict: bool
) -> str:
    """The message of a MissingNameError: what is missing, and a way out."""
    name = location.name
    if len(mappings) > 1:
        where = "the loop's items nor the template's parameters have"
        message = f"{location.source}: neither {where} {name!r}"
    else:
        message = f"{location.source}: the template's parameters have no {name!r}"
    names = _names(mappings, location.bound)
    if names:
        import difflib  # only on this error path: it is slow to import

        close = difflib.get_close_matches(name, names, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
    if strict:
        message += f" (strict mode: to show nothing, pass {name}=None)"
    return message


def compile_template(
    root: nodes.Root,
    formatters: Mapping[str, Callable[[Any], Any]],
    strict: bool | None = False,
) -> tuple[RenderFunction, str]:
    """Compile ``root``; return ``(render, source)``.

    ``formatters`` maps each ``':fmt'`` of the tree's Format nodes to its
    function.  ``strict``: True raises MissingNameError for a missing
    ``{name}`` or ``{?name}``, False leaves ``{name}`` literal and makes
    ``{?name}`` false, None asks :func:`is_strict_by_default` each time a
    name is missing.  ``source`` is the generated Python, kept for debugging.
    """
    generator = CodeGenerator(formatters, strict)
    source = generator.generate(root)
    filename = root.filename
    locations = generator.locations

    def note(error: BaseException, index: int) -> None:
        where = locations[index]
        attach_note(
            error,
            f"in template {filename}, line {where.lineno}, "
            f"column {where.column}: {where.source}",
        )

    def missing_name(
        index: int, mappings: tuple[Any, ...], is_strict: bool = False
    ) -> MissingNameError:
        where = locations[index]
        message = describe_missing(where, mappings, is_strict)
        return MissingNameError(
            message, where.name, filename, where.lineno, where.column, where.source
        )

    def missing(index: int, mappings: tuple[Any, ...], default: Any) -> Any:
        """What a missing ``{name}``/``{?name}`` gives: ``default``, or raise."""
        if strict or is_strict_by_default():
            raise missing_name(index, mappings, True)
        return default

    namespace = generator.namespace
    namespace["note"] = note
    namespace["missing_name"] = missing_name
    namespace["missing"] = missing
    exec(_compile_source(source, filename), namespace)
    render: RenderFunction = namespace["render"]
    return render, source


@functools.lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compile_source(source: str, filename: str) -> CodeType:
    return compile(source, f"<template {filename}>", "exec")
