"""The README's app-layer tutorial, run as written.

Its code blocks are put together into files, in the order the chapter gives
them (Python blocks make ``inventory.py``, the HTML blocks its templates, the
last block is the chapter's own test), and that test runs against them. A
change to the text that breaks the app, or a change to kali that breaks the
text, fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "## The app layer"

#: Where each code block of the chapter goes, in order. "py" blocks are
#: joined into inventory.py; "summary" is the elided ``make_app`` block, of
#: which only the lines after its "..." line are code to keep.
PLAN = [
    "py",
    "templates/base.tpl",
    "templates/error.tpl",
    "py",
    "py",
    "templates/items.tpl",
    "py",
    "templates/item.tpl",
    "py",
    "templates/confirm.tpl",
    "py",
    "py",
    "summary",
    "test_inventory.py",
]


def chapter_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    chapter = text.split(CHAPTER, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", chapter, re.S)


def after_elision(code: str) -> str:
    lines = code.splitlines(keepends=True)
    start = next(n for n, line in enumerate(lines) if line.strip().startswith("..."))
    return "".join(lines[start + 1 :])


def test_the_app_layer_tutorial_runs_as_written(tmp_path):
    blocks = chapter_blocks()
    assert len(blocks) == len(PLAN), "the chapter's code blocks changed: update PLAN"
    (tmp_path / "templates").mkdir()
    python = []
    for (_, code), target in zip(blocks, PLAN):
        if target == "py":
            python.append(code)
        elif target == "summary":
            python.append(after_elision(code))
        else:
            (tmp_path / target).write_text(code, encoding="utf-8")
    (tmp_path / "inventory.py").write_text("\n".join(python), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
