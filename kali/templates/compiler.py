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
  placeholder, and is re-raised unchanged.

Only names and text reach the generated source, through :func:`repr`; values,
formatters and messages are passed in the function's globals.  This module must
not parse text or read files.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import CodeType
from typing import Any, NamedTuple

from kali.iolist import Fragment

from . import nodes, values
from .exceptions import attach_note

#: What a compiled template is: template parameters in, template output out.
RenderFunction = Callable[[Any], Fragment]

#: How many compiled code objects to remember.  Compiling the generated source
#: is most of the cost of making a Template (about 0.3 ms for a small one);
#: the code depends only on that source, so a template made again -- after
#: ``TemplateFolder.wrap`` clears its cache, or by ``assembly("...")`` in a
#: handler -- reuses it.  Parsing, formatter look-up and code generation still
#: run every time, so nothing stale is ever served.
COMPILED_CACHE_SIZE = 512


class _Scope(NamedTuple):
    """A loop the code being generated is inside of."""

    item: str | None  # the name the item is bound to, or None for {@name}
    variable: str  # the Python local holding the item


class CodeGenerator:
    """Writes the source of ``render(params)`` for one template tree."""

    def __init__(self, formatters: Mapping[str, Callable[[Any], Any]]) -> None:
        self.formatters = formatters
        self.lines: list[str] = []
        self.depth = 0
        self.scopes: list[_Scope] = []
        self.namespace: dict[str, Any] = {
            "Fragment": Fragment,
            "MISSING": values.MISSING,
            "escape_text": values.escape_text,
            "insert_value": values.insert_value,
            "insert_raw": values.insert_raw,
            "lookup": values.lookup,
            "iter_items": values.iter_items,
            "iter_mappings": values.iter_mappings,
        }
        #: placeholder index -> (source, lineno, column), for error notes
        self.locations: list[tuple[str, int, int]] = []

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
        self.locations.append((node.source, node.lineno, node.column))

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
        if self.lookup(node.name, missing=f"t({node.source.encode()!r})"):
            with self.indented("else:"):
                self.insert_escaped()
        else:
            self.insert_escaped()

    def visit_Format(self, node: nodes.Format) -> None:
        self.locate(node)
        formatter = f"format_{len(self.locations) - 1}"
        self.namespace[formatter] = self.formatters[node.formatter]
        self.lookup(node.name, missing=None)
        self.write(f"v = {formatter}(v)")
        self.insert_escaped()

    def visit_Raw(self, node: nodes.Raw) -> None:
        self.locate(node)
        self.lookup(node.name, missing=None)
        with self.indented("if v.__class__ is str:"):
            self.write('t(v.encode("utf-8", "replace"))')
        with self.indented("else:"):
            self.write("insert_raw(v, text, out)")

    def visit_Loop(self, node: nodes.Loop) -> None:
        self.locate(node)
        index = len(self.locations) - 1
        self.lookup(node.name, missing=None)
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

    # -- helpers -----------------------------------------------------------

    def lookup(self, name: str, missing: str | None) -> bool:
        """Write code that sets ``v`` to the value of ``name``.

        Names bound by enclosing loops are Python locals; the items of
        ``{@name}`` loops are searched at run time, innermost first (inline),
        then the others and ``params`` (through ``lookup``).  If ``missing``
        is None a missing name raises KeyError (also where a ``sqlite3.Row``
        raised IndexError); otherwise ``missing`` is the statement to run
        instead.  Returns True when the caller must put what it does with
        ``v`` under an ``else:`` (the name may be missing).
        """
        searched: list[str] = []
        fallback = "params"
        for scope in reversed(self.scopes):
            if scope.item is None:
                searched.append(scope.variable)
            elif scope.item == name:
                fallback = scope.variable
                break
        if not searched:
            if fallback != "params":
                self.write(f"v = {fallback}")
                return False
            with self.indented("try:"):
                self.write(f"v = params[{name!r}]")
            with self.indented("except LookupError:"):
                self.write(missing or f"raise KeyError({name!r}) from None")
            return missing is not None
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
            self.write(missing or f"raise KeyError({name!r})")
        return missing is not None

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


def compile_template(
    root: nodes.Root, formatters: Mapping[str, Callable[[Any], Any]]
) -> tuple[RenderFunction, str]:
    """Compile ``root``; return ``(render, source)``.

    ``formatters`` maps each ``':fmt'`` of the tree's Format nodes to its
    function.  ``source`` is the generated Python, kept for debugging.
    """
    generator = CodeGenerator(formatters)
    source = generator.generate(root)
    filename = root.filename
    locations = generator.locations

    def note(error: BaseException, index: int) -> None:
        text, lineno, column = locations[index]
        attach_note(
            error, f"in template {filename}, line {lineno}, column {column}: {text}"
        )

    namespace = generator.namespace
    namespace["note"] = note
    exec(_compile_source(source, filename), namespace)
    render: RenderFunction = namespace["render"]
    return render, source


@functools.lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compile_source(source: str, filename: str) -> CodeType:
    return compile(source, f"<template {filename}>", "exec")
