"""The parser: tokens in, a :class:`~kali.templates.nodes.Root` tree out.

One ``parse_<construct>`` method per construct and one :meth:`Parser.fail`,
which raises :class:`TemplateSyntaxError` at a token's position.  The parser
decides what tokens mean in context:

* ``{name:fmt}`` with an unregistered ``:fmt`` is literal text (so minified CSS
  such as ``p{color:red}`` passes through);
* ``{^name}`` and ``{/name}`` outside any loop are literal text, as in kali
  0.0.8; inside a loop they must belong to the innermost loop.

It must not look values up, evaluate anything or generate code.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from typing import NoReturn

from . import lexer, nodes
from .exceptions import TemplateSyntaxError
from .lexer import Token

#: Loops nest at most this deep.  The compiled code gives each loop a Python
#: block, and CPython refuses more than 20 nested blocks per function; twelve
#: levels is far beyond any table while leaving the compiler its margin.
MAX_LOOP_DEPTH = 12

_IDENTIFIER = re.compile(r"[_a-zA-Z]\w*")


class Parser:
    """Parses one template's tokens; use :func:`parse` rather than this class."""

    def __init__(
        self, tokens: Sequence[Token], filename: str, formatters: Container[str]
    ) -> None:
        self.tokens = tokens
        self.filename = filename
        self.formatters = formatters
        self.position = 0

    def fail(self, message: str, token: Token) -> NoReturn:
        """Raise TemplateSyntaxError(message) at ``token``'s position."""
        raise TemplateSyntaxError(message, self.filename, token.lineno, token.column)

    def parse(self) -> nodes.Root:
        body, _ = self.parse_body(None, 0)
        return nodes.Root(self.filename, body)

    def parse_body(
        self, loop: Token | None, depth: int
    ) -> tuple[tuple[nodes.Node, ...], Token | None]:
        """Parse up to the end, or to ``loop``'s ``{^name}``/``{/name}`` (returned)."""
        body: list[nodes.Node] = []
        while self.position < len(self.tokens):
            token = self.tokens[self.position]
            self.position += 1
            if token.kind in (lexer.OTHERWISE, lexer.END):
                if loop is None:
                    body.append(nodes.Text(token.source))
                    continue
                if token.name != loop.name:
                    self.fail(
                        f"expected {{^{loop.name}}} or {{/{loop.name}}} to match "
                        f"{loop.source} (line {loop.lineno}), found {token.source}",
                        token,
                    )
                return _merge_text(body), token
            body.append(self.parse_token(token, depth))
        if loop is not None:
            self.fail(
                f"{loop.source} is never closed: expected {{/{loop.name}}} "
                "before the end of the template",
                loop,
            )
        return _merge_text(body), None

    def parse_token(self, token: Token, depth: int) -> nodes.Node:
        if token.kind == lexer.TEXT:
            return nodes.Text(token.source)
        if token.kind == lexer.SUBSTITUTE:
            return self.parse_substitute(token)
        if token.kind == lexer.RAW:
            return self.parse_raw(token)
        if token.kind == lexer.FORMAT:
            return self.parse_format(token)
        assert token.kind == lexer.LOOP, token
        return self.parse_loop(token, depth)

    def parse_substitute(self, token: Token) -> nodes.Substitute:
        return nodes.Substitute(token.name, token.source, token.lineno, token.column)

    def parse_raw(self, token: Token) -> nodes.Raw:
        return nodes.Raw(token.name, token.source, token.lineno, token.column)

    def parse_format(self, token: Token) -> nodes.Format | nodes.Text:
        if token.argument not in self.formatters:
            return nodes.Text(token.source)
        return nodes.Format(
            token.name, token.argument, token.source, token.lineno, token.column
        )

    def parse_loop(self, token: Token, depth: int) -> nodes.Loop:
        if depth >= MAX_LOOP_DEPTH:
            self.fail(f"loops nest more than {MAX_LOOP_DEPTH} deep", token)
        item = token.argument or None
        if item is not None and not _IDENTIFIER.fullmatch(item):
            self.fail(
                f"expected a name after ':' in {token.source} "
                "(a letter or '_', then letters, digits or '_')",
                token,
            )
        body, stop = self.parse_body(token, depth + 1)
        assert stop is not None
        otherwise = None
        if stop.kind == lexer.OTHERWISE:
            otherwise, stop = self.parse_body(token, depth + 1)
            assert stop is not None
            if stop.kind == lexer.OTHERWISE:
                self.fail(
                    f"{stop.source} appears twice in the loop; "
                    f"expected {{/{token.name}}}",
                    stop,
                )
        return nodes.Loop(
            token.name,
            item,
            body,
            otherwise,
            token.source,
            token.lineno,
            token.column,
        )


def _merge_text(body: list[nodes.Node]) -> tuple[nodes.Node, ...]:
    """Join adjacent Text nodes (in one pass), so the tree is canonical."""
    merged: list[nodes.Node] = []
    pending: list[str] = []
    for node in body:
        if isinstance(node, nodes.Text):
            pending.append(node.text)
            continue
        if pending:
            merged.append(nodes.Text("".join(pending)))
            pending = []
        merged.append(node)
    if pending:
        merged.append(nodes.Text("".join(pending)))
    return tuple(merged)


def parse(
    text: str,
    filename: str = "<template>",
    formatters: Container[str] = (),
    lineno: int = 1,
    column: int = 1,
) -> nodes.Root:
    """Parse template ``text``; ``formatters`` holds the registered ``':fmt'`` keys.

    ``lineno`` and ``column`` say where ``text`` starts within ``filename``.
    Raises :class:`TemplateSyntaxError` for a loop that is not closed, a
    ``{^name}``/``{/name}`` that does not match the innermost loop, a second
    ``{^name}``, a bad item name, or loops nested too deep.
    """
    tokens = lexer.tokenize(text, lineno, column)
    return Parser(tokens, filename, formatters).parse()
