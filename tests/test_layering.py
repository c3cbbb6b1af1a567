"""Imports point down the layers only, with no circles (DESIGN.md, STYLE.md 2).

An allowlist: every module of kali/ is assigned a layer below, and may import
only from its own layer or a lower one. A module nobody assigned fails, so a
new module has to be placed on purpose. The cycle check counts every import
statement: at module level, inside functions (deferred) and under
``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kali"

# Lowest first. A module may import from its own layer and the ones before it.
LAYERS: list[tuple[str, set[str]]] = [
    ("leaves", {"errors", "iolist", "multidict", "version"}),
    (
        "parsing",
        {
            "protocol",
            "chunked",
            "formdata",
            "multipart",
            "disposition",
            "htmlforms",
            "timeouts",
            "accesslog",
        },
    ),
    (
        "features",
        {
            "templates",
            "templates.compiler",
            "templates.exceptions",
            "templates.formatters",
            "templates.lexer",
            "templates.loader",
            "templates.nodes",
            "templates.parser",
            "templates.template",
            "templates.values",
            "forms.aliases",
            "forms.choices",
            "forms.elements",
            "forms.form",
            "forms.guard",
            "forms.lenses",
            "forms.numbers",
            "forms.rendering",
            "forms.rows",
            "forms.uploads",
            "forms.widgets",
        },
    ),
    ("HTTP objects", {"request", "response"}),
    (
        "app",
        {
            "routing",
            "pathvalues",
            "static",
            "security",
            "cors",
            "handling",
            "sqlite",
            "outcome",
            "sessions",
            "middleware",
            "testing",
            "testing_forms",
            "pages",
            "listing",
            "listpage",
            "listhtml",
            "keyset",
            "fulltext",
            "downloads",
            "uploadfolder",
            "appsecret",
            "jobs",
            "jobs.pages",
            "jobs.scheduler",
            "jobs.state",
            "jobs.workers",
            "proxy",
            "forms",  # the package face re-exports Formlet, a servlet
            "forms.formlet",
        },
    ),
    ("loop", {"server", "connection", "sending"}),
    ("outside", {"wsgi.application", "wsgi.handler", "wsgi.answer"}),
    # kali.wsgi's face offers serve_wsgi, which is serve_http.
    (
        "launch",
        {
            "launch",
            "launchtoken",
            "desktop",
            "pagewatch",
            "console",
            "__main__",
            "wsgi",
        },
    ),
    ("package face", {"__init__", "implementation"}),
]

LAYER_OF = {
    module: rank for rank, (_, modules) in enumerate(LAYERS) for module in modules
}
LAYER_NAME = [name for name, _ in LAYERS]

#: The only modules that may import socket (the loop).
SOCKET_MODULES = {"server", "connection", "sending"}


def module_name(path: Path) -> str:
    """``kali/forms/lenses.py`` -> ``forms.lenses``; a package's
    ``__init__.py`` is the package (``forms``), kali's own is ``__init__``."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _package_of(module: str, path: Path) -> list[str]:
    """The package a relative import of ``module`` starts from."""
    parts = module.split(".") if module != "__init__" else []
    return parts if path.name == "__init__.py" else parts[:-1]


def kali_imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The kali modules ``module`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def add(name: str, names: list[str]) -> None:
        package = name or "__init__"
        if not names and package in known:
            found.add(package)
        for alias in names:  # ``from . import forms`` names a submodule
            sub = f"{name}.{alias}" if name else alias
            found.add(sub if sub in known else package)

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = _package_of(module, path)
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            name = ".".join(base + (node.module.split(".") if node.module else []))
            add(name, [alias.name for alias in node.names])
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and (node.module == "kali" or node.module.startswith("kali."))
        ):
            add(node.module[5:], [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kali."):
                    add(alias.name[5:], [])
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {
        module: kali_imports(module, path, known) for module, path in modules.items()
    }


def stdlib_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (``[a, b, a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


MODULES = all_modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_has_a_layer(module):
    assert module in LAYER_OF, (
        f"kali/{MODULES[module].relative_to(PACKAGE)} has no layer: add it to "
        "LAYERS in tests/test_layering.py (and to DESIGN.md's table)"
    )


def test_the_layer_list_names_only_real_modules():
    assert set(LAYER_OF) <= set(MODULES), set(LAYER_OF) - set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    rank = LAYER_OF.get(module)
    if rank is None:
        pytest.skip("no layer (see test_every_module_has_a_layer)")
    graph = import_graph()
    upward = {
        f"{target} ({LAYER_NAME[LAYER_OF[target]]})"
        for target in graph[module]
        if LAYER_OF.get(target, len(LAYERS)) > rank
    }
    assert not upward, f"{module} ({LAYER_NAME[rank]}) imports from above: {upward}"


def test_no_import_circles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_loop_knows_nothing_of_the_launch():
    graph = import_graph()
    launch = {"launch", "desktop", "pagewatch", "console", "__main__"}
    for module in ("server", "connection", "sending"):
        assert not graph[module] & launch, module


def test_the_pipeline_is_the_only_way_in():
    """The server, the WSGI adapter and the test client reach the app only
    through kali.handling.Pipeline: none builds a Request or checks security
    itself."""
    for module in ("connection", "wsgi.application", "testing"):
        source = MODULES[module].read_text(encoding="utf-8")
        assert "Pipeline" in source, module
        assert ".check(" not in source, module
        assert "Request(" not in source, module


# -- the checker checks: it finds what it must find ---------------------------


def test_the_cycle_finder_finds_circles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_deferred_and_type_checking_imports_count(tmp_path):
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .server import Server\n"
        "def later():\n"
        "    from .launch import serve_http\n"
        "    from kali.forms import lenses\n"
    )
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    known = {"server", "launch", "forms", "forms.lenses"}
    found = kali_imports("probe", path, known)
    assert found == {"server", "launch", "forms.lenses"}


def test_relative_imports_inside_packages_resolve(tmp_path):
    path = tmp_path / "application.py"
    path.write_text("from ..handling import Pipeline\nfrom .handler import x\n")
    known = {"handling", "wsgi.handler"}
    assert kali_imports("wsgi.application", path, known) == known


# -- sockets and the standard library ----------------------------------------


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_the_loop_touches_sockets(module):
    if module in SOCKET_MODULES:
        return
    assert "socket" not in stdlib_imports(MODULES[module]), module


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_deprecated_or_removed_stdlib_modules(module):
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
    assert not (stdlib_imports(MODULES[module]) & gone)
