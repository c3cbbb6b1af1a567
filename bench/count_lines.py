"""Count the lines of code of an app: Python and templates.

    python3 bench/count_lines.py PATH [PATH ...]

Counts as issue 12 does: blank lines, comment lines and docstring lines are
not counted; every other line of a ``.py`` file and every non-blank line of a
template (``.tpl``, ``.html``, ``.css`` are counted as templates/static) is.
Folders are walked (``__pycache__`` skipped). Prints a line per file and the
totals, raw and counted.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

TEMPLATE_SUFFIXES = {".tpl", ".html", ".jinja", ".j2"}


def docstring_lines(source: str) -> set[int]:
    lines: set[int] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(
            node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        ):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                end = body[0].end_lineno or body[0].lineno
                lines.update(range(body[0].lineno, end + 1))
    return lines


def count_python(source: str) -> int:
    skip = docstring_lines(source)
    code: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            continue
        for line in range(token.start[0], token.end[0] + 1):
            if line not in skip:
                code.add(line)
    return len(code)


def count_file(path: Path) -> tuple[int, int] | None:
    text = path.read_text(encoding="utf-8")
    raw = len(text.splitlines())
    if path.suffix == ".py":
        return raw, count_python(text)
    if path.suffix in TEMPLATE_SUFFIXES:
        return raw, sum(1 for line in text.splitlines() if line.strip())
    return None


def main(paths: list[str]) -> None:
    total_raw = total_code = 0
    for top in map(Path, paths):
        files = sorted(top.rglob("*")) if top.is_dir() else [top]
        for path in files:
            if "__pycache__" in path.parts or not path.is_file():
                continue
            counted = count_file(path)
            if counted is None:
                continue
            raw, code = counted
            total_raw += raw
            total_code += code
            print(f"{code:6} {raw:6}  {path}")
    print(f"{total_code:6} {total_raw:6}  total (counted, raw)")


if __name__ == "__main__":
    main(sys.argv[1:] or ["."])
