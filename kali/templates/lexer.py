"""The lexer: template text in, a list of :class:`Token` out.

A template is literal text with placeholders in braces.  The forms are those
of kali 0.0.8 plus loops and conditional sections (see
``kali/templates/__init__.py``)::

    {name}   {.name}   {name:fmt}   {.name:fmt}        substitutions
    {@name}  {@name:item}   {^name}   {/name}          a loop, its "no items"
                                                      branch and its end
    {?name}  {!name}   {:else}   {/name}               a section shown when the
                                                      value is true (false),
                                                      its else branch, its end

Anything else, including every brace that does not match exactly (CSS rules,
JavaScript blocks, ``{ name }`` with spaces), is literal text.  The lexer only
finds tokens and their positions; it must not decide what they mean (whether a
formatter exists, whether ``{/name}`` closes anything): that is the parser's job.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: The placeholder pattern of kali 0.0.8, unchanged: ``{``, an optional ``.``,
#: an identifier starting with an ASCII letter or ``_``, an optional ``:word``
#: and ``}``, with no spaces.  ``Template.PATTERN`` is this object.
PLACEHOLDER_PATTERN = re.compile(r"{(\.?)([_a-zA-Z]\w*)(:\w+)?}")

# The lexer's own pattern: the 0.0.8 placeholder, or one of the section
# markers.  The marker characters are ones that neither CSS nor JavaScript put
# right before a name just after a "{" ("{!x}" would be a JavaScript block
# holding only a negation, which no one writes).
_TOKEN_PATTERN = re.compile(
    r"{(?:"
    r"(?P<dot>\.?)(?P<name>[_a-zA-Z]\w*)(?P<format>:\w+)?"
    r"|@(?P<loop>[_a-zA-Z]\w*)(?::(?P<item>\w+))?"
    r"|(?P<mark>[\^/])(?P<marked>[_a-zA-Z]\w*)"
    r"|(?P<test>[?!])(?P<tested>[_a-zA-Z]\w*)"
    r"|(?P<else>:else)"
    r")}"
)

# Token kinds.
TEXT = "text"  # literal text; ``name`` is empty
SUBSTITUTE = "substitute"  # {name}: escaped; missing -> literal
RAW = "raw"  # {.name} or {.name:fmt}: unescaped; missing -> KeyError
FORMAT = "format"  # {name:fmt}; ``argument`` is ":fmt"
LOOP = "loop"  # {@name} or {@name:item}; ``argument`` is the item name or ""
OTHERWISE = "otherwise"  # {^name}
IF = "if"  # {?name}
IF_NOT = "if_not"  # {!name}
ELSE = "else"  # {:else}; ``name`` is empty
END = "end"  # {/name}


class Token(NamedTuple):
    """One piece of template text, with where it starts (both 1-based)."""

    kind: str
    source: str  # the exact text of the token
    name: str  # the identifier inside the braces ("" for TEXT)
    argument: str  # ":fmt" for FORMAT and RAW, the item name for LOOP, or ""
    lineno: int
    column: int


def tokenize(text: str, lineno: int = 1, column: int = 1) -> list[Token]:
    """Split ``text`` into tokens; adjacent literal text is one TEXT token.

    ``lineno`` and ``column`` give the position of ``text[0]`` in its file, so
    that a template cut out of a bigger file reports positions in that file.
    Never raises: every text is a valid token sequence.
    """
    tokens: list[Token] = []
    line_start = -column + 1  # offset where the current line begins
    scanned = 0  # newlines are counted up to this offset

    def position(offset: int) -> tuple[int, int]:
        nonlocal lineno, line_start, scanned
        newlines = text.count("\n", scanned, offset)
        if newlines:
            lineno += newlines
            line_start = text.rindex("\n", scanned, offset) + 1
        scanned = offset
        return lineno, offset - line_start + 1

    left = 0
    for match in _TOKEN_PATTERN.finditer(text):
        start = match.start()
        if left < start:
            tokens.append(Token(TEXT, text[left:start], "", "", *position(left)))
        tokens.append(_make_token(match, *position(start)))
        left = match.end()
    if left < len(text):
        tokens.append(Token(TEXT, text[left:], "", "", *position(left)))
    return tokens


def _make_token(match: re.Match[str], lineno: int, column: int) -> Token:
    source = match.group()
    name = match.group("name")
    if name is not None:
        argument = match.group("format") or ""
        if match.group("dot"):
            return Token(RAW, source, name, argument, lineno, column)
        kind = FORMAT if argument else SUBSTITUTE
        return Token(kind, source, name, argument, lineno, column)
    loop = match.group("loop")
    if loop is not None:
        return Token(LOOP, source, loop, match.group("item") or "", lineno, column)
    tested = match.group("tested")
    if tested is not None:
        kind = IF if match.group("test") == "?" else IF_NOT
        return Token(kind, source, tested, "", lineno, column)
    if match.group("else") is not None:
        return Token(ELSE, source, "", "", lineno, column)
    kind = OTHERWISE if match.group("mark") == "^" else END
    return Token(kind, source, match.group("marked"), "", lineno, column)
