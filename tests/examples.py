"""Load an example app (``examples/NAME.py``, or the package
``examples/NAME/``) as a module, for tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` or ``examples/<name>/__init__.py`` (once
    per name, as ``example_<name>``) without running its main. A package's
    modules are ``example_<name>.<module>`` (e.g. its ``__main__``)."""
    module_name = f"example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    package = EXAMPLES / name
    if (package / "__init__.py").is_file():
        spec = importlib.util.spec_from_file_location(
            module_name,
            package / "__init__.py",
            submodule_search_locations=[str(package)],
        )
    else:
        spec = importlib.util.spec_from_file_location(
            module_name, EXAMPLES / f"{name}.py"
        )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look it up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module
