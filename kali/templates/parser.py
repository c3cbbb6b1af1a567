"""The parser: tokens in, a :class:`~kali.templates.nodes.Root` tree out.

One ``parse_<construct>`` method per construct and one :meth:`Parser.fail`,
which raises :class:`TemplateSyntaxError` at a token's position.  The parser
decides what tokens mean in context:

* ``{name:fmt}`` with an unregistered ``:fmt`` is literal text (so minified CSS
  such as ``p{color:red}`` passes through), unless the caller asks for it to
  be an error (templates from a ``TemplateFolder``, or given ``formatters=``);
* ``{^name}``, ``{:else}`` and ``{/name}`` outside any section are literal
  text, as in kali 0.0.8; inside one they must belong to the innermost
  section: ``{^name}`` to a loop, ``{:else}`` to a ``{?name}``/``{!name}``.

It must not look values up, evaluate anything or generate code.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import NoReturn

from . import lexer, nodes
from .exceptions import TemplateSyntaxError
from .lexer import Token

#: Loops nest at most this deep.  The compiled code gives each loop a Python
#: block, and CPython refuses more than 20 nested blocks per function; twelve
#: levels is far beyond any table while leaving the compiler its margin.
MAX_LOOP_DEPTH = 12

#: Sections (loops and conditionals) nest at most this deep.  A conditional is
#: an ``if`` (not a block), but each section indents the generated code by up
#: to two levels and CPython allows 100.
MAX_SECTION_DEPTH = 32

# Tokens that end a section's branch; literal text outside any section.
_CLOSERS = (lexer.OTHERWISE, lexer.ELSE, lexer.END)

_IDENTIFIER = re.compile(r"[_a-zA-Z]\w*")


class Parser:
    """Parses one template's tokens; use :func:`parse` rather than this class."""

    def __init__(
        self,
        tokens: Sequence[Token],
        filename: str,
        formatters: Collection[str],
        unknown_formatter_is_error: bool = False,
    ) -> None:
        self.tokens = tokens
        self.filename = filename
        self.formatters = formatters
        self.unknown_formatter_is_error = unknown_formatter_is_error
        self.position = 0

    def fail(self, message: str, token: Token) -> NoReturn:
        """Raise TemplateSyntaxError(message) at ``token``'s position."""
        raise TemplateSyntaxError(message, self.filename, token.lineno, token.column)

    def parse(self) -> nodes.Root:
        body, _ = self.parse_body(None, 0, 0)
        return nodes.Root(self.filename, body)

    def parse_body(
        self, section: Token | None, loops: int, sections: int
    ) -> tuple[tuple[nodes.Node, ...], Token | None]:
        """Parse up to the end, or to the token that ends ``section``'s branch.

        That token (``{^name}``, ``{:else}`` or ``{/name}``) is returned.
        ``loops`` and ``sections`` count the loops and all sections around.
        """
        body: list[nodes.Node] = []
        while self.position < len(self.tokens):
            token = self.tokens[self.position]
            self.position += 1
            if token.kind in _CLOSERS:
                if section is None:  # literal outside sections, as in 0.0.8
                    body.append(nodes.Text(token.source))
                    continue
                self.check_closer(section, token)
                return _merge_text(body), token
            body.append(self.parse_token(token, loops, sections))
        if section is not None:
            self.fail(
                f"{section.source} is never closed: expected {{/{section.name}}} "
                "before the end of the template",
                section,
            )
        return _merge_text(body), None

    def check_closer(self, section: Token, token: Token) -> None:
        """Fail unless ``token`` may end a branch of ``section`` (the innermost)."""
        is_loop = section.kind == lexer.LOOP
        if token.kind == lexer.ELSE and is_loop:
            self.fail(
                f"{token.source} belongs to a {{?name}} or {{!name}} section; "
                f"the no-items branch of {section.source} is {{^{section.name}}}",
                token,
            )
        if token.kind == lexer.OTHERWISE and not is_loop:
            self.fail(
                f"{token.source} belongs to a loop; the else branch of "
                f"{section.source} is {{:else}}",
                token,
            )
        if token.kind != lexer.ELSE and token.name != section.name:
            branch = f"{{^{section.name}}}" if is_loop else "{:else}"
            self.fail(
                f"expected {branch} or {{/{section.name}}} to match "
                f"{section.source} (line {section.lineno}), found {token.source}",
                token,
            )

    def parse_token(self, token: Token, loops: int, sections: int) -> nodes.Node:
        if token.kind == lexer.TEXT:
            return nodes.Text(token.source)
        if token.kind == lexer.SUBSTITUTE:
            return self.parse_substitute(token)
        if token.kind == lexer.RAW:
            return self.parse_raw(token)
        if token.kind == lexer.FORMAT:
            return self.parse_format(token)
        if token.kind == lexer.LOOP:
            return self.parse_loop(token, loops, sections)
        assert token.kind in (lexer.IF, lexer.IF_NOT), token
        return self.parse_conditional(token, loops, sections)

    def parse_substitute(self, token: Token) -> nodes.Substitute:
        return nodes.Substitute(token.name, token.source, token.lineno, token.column)

    def parse_raw(self, token: Token) -> nodes.Raw:
        return nodes.Raw(token.name, token.source, token.lineno, token.column)

    def parse_format(self, token: Token) -> nodes.Format | nodes.Text:
        if token.argument not in self.formatters:
            if self.unknown_formatter_is_error:
                known = ", ".join(sorted(str(key) for key in self.formatters))
                self.fail(
                    f"unknown formatter {token.argument!r} in {token.source} "
                    f"(known: {known or 'none'}); if this is CSS or JavaScript "
                    'rather than a placeholder, put a space after the "{"',
                    token,
                )
            return nodes.Text(token.source)
        return nodes.Format(
            token.name, token.argument, token.source, token.lineno, token.column
        )

    def check_depth(self, token: Token, loops: int, sections: int) -> None:
        if loops >= MAX_LOOP_DEPTH and token.kind == lexer.LOOP:
            self.fail(f"loops nest more than {MAX_LOOP_DEPTH} deep", token)
        if sections >= MAX_SECTION_DEPTH:
            self.fail(f"sections nest more than {MAX_SECTION_DEPTH} deep", token)

    def parse_loop(self, token: Token, loops: int, sections: int) -> nodes.Loop:
        self.check_depth(token, loops, sections)
        item = token.argument or None
        if item is not None and not _IDENTIFIER.fullmatch(item):
            self.fail(
                f"expected a name after ':' in {token.source} "
                "(a letter or '_', then letters, digits or '_')",
                token,
            )
        body, otherwise = self.parse_branches(token, loops + 1, sections + 1)
        return nodes.Loop(
            token.name,
            item,
            body,
            otherwise,
            token.source,
            token.lineno,
            token.column,
        )

    def parse_conditional(
        self, token: Token, loops: int, sections: int
    ) -> nodes.Conditional:
        self.check_depth(token, loops, sections)
        body, otherwise = self.parse_branches(token, loops, sections + 1)
        return nodes.Conditional(
            token.name,
            token.kind == lexer.IF_NOT,
            body,
            otherwise,
            token.source,
            token.lineno,
            token.column,
        )

    def parse_branches(
        self, section: Token, loops: int, sections: int
    ) -> tuple[tuple[nodes.Node, ...], tuple[nodes.Node, ...] | None]:
        """The body of ``section`` and its else (or no-items) branch, if any."""
        body, stop = self.parse_body(section, loops, sections)
        assert stop is not None
        if stop.kind == lexer.END:
            return body, None
        otherwise, second = self.parse_body(section, loops, sections)
        assert second is not None
        if second.kind != lexer.END:
            self.fail(
                f"{second.source} appears twice in {section.source}; "
                f"expected {{/{section.name}}}",
                second,
            )
        return body, otherwise


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
    formatters: Collection[str] = (),
    lineno: int = 1,
    column: int = 1,
    *,
    unknown_formatter_is_error: bool = False,
) -> nodes.Root:
    """Parse template ``text``; ``formatters`` holds the registered ``':fmt'`` keys.

    ``lineno`` and ``column`` say where ``text`` starts within ``filename``.
    Raises :class:`TemplateSyntaxError` for a section that is not closed, a
    ``{^name}``/``{:else}``/``{/name}`` that does not match the innermost
    section, a second ``{^name}`` or ``{:else}``, a bad item name, sections
    nested too deep, and (if ``unknown_formatter_is_error``) a ``{name:fmt}``
    whose ``:fmt`` is not in ``formatters``.
    """
    tokens = lexer.tokenize(text, lineno, column)
    return Parser(tokens, filename, formatters, unknown_formatter_is_error).parse()
