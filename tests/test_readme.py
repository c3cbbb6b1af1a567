"""The README's Python examples are valid Python, and its quick start is CI's."""

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_there_are_examples():
    assert len(BLOCKS) > 10


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_blocks_compile(index):
    # Some blocks are methods shown on their own: dedent them first.
    compile(textwrap.dedent(BLOCKS[index]), f"README.md block {index}", "exec")


def test_quick_start_is_the_ci_command():
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^(\./\S+)", quick, re.M)
    assert commands == ["./demo.sh", "./check.sh"]
    assert "./check.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
