"""Imports point down the layers only (DESIGN.md), and only server.py sockets."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kali"

# module -> kali modules it must never import
FORBIDDEN = {
    "errors": {"*"},
    "iolist": {"*"},
    "multidict": {"*"},
    "protocol": {"request", "response", "routing", "server", "templates", "forms"},
    "formdata": {"request", "response", "routing", "server", "templates", "forms"},
    "templates": {"request", "response", "routing", "server", "forms", "static"},
    "forms": {"server", "static"},
    "request": {"server", "routing", "static"},
    "response": {"server", "routing", "static"},
    "connection": {"server", "routing", "static", "response"},
    "handling": {"server", "connection", "routing", "static"},
    "routing": {"server"},
    "sqlite": {"server"},
    "wsgi": {"static", "forms", "templates"},
    "console": {"routing", "static", "forms", "templates"},
    "desktop": {"routing", "static", "forms", "templates"},
    "pagewatch": {"routing", "static", "forms", "templates"},
    "sessions": {"server"},
    "static": {"server"},
    "testing": set(),
}


def kali_imports(path: Path) -> set:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "kali"
        ):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kali."):
                    found.add(alias.name.split(".")[1])
    return found


def stdlib_imports(path: Path) -> set:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else path.stem


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    layer = layer_of(path)
    forbidden = FORBIDDEN.get(layer, set())
    imported = kali_imports(path) - {layer}
    if "*" in forbidden:
        assert not imported, f"{layer} is a leaf but imports {imported}"
    else:
        assert not (imported & forbidden), f"{layer} imports {imported & forbidden}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_server_touches_sockets(path):
    if path.name in ("server.py", "connection.py"):
        return
    assert "socket" not in stdlib_imports(path), path


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_deprecated_or_removed_stdlib_modules(path):
    gone = {
        "cgi",
        "cgitb",
        "imghdr",
        "asynchat",
        "asyncore",
        "smtpd",
        "distutils",
        "pipes",
        "telnetlib",
        "nntplib",
        "crypt",
        "sndhdr",
        "uu",
        "xdrlib",
    }
    assert not (stdlib_imports(path) & gone)
