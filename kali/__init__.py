"""kali: serve a local web application to the user's browser, single-threaded.

Import what you need from here; ``kali.implementation`` keeps the 0.0.8 names
for old apps. Importing kali does nothing else: no sockets, threads,
logging levels or handlers (``serve_http`` shows its INFO lines only when the
app configured no logging at all; see kali.launch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import version
from .version import __version__

if TYPE_CHECKING:  # the names below, for type checkers and editors
    from . import forms, implementation
    from .errors import HTTPError, ProtocolError
    from .formdata import FileUpload
    from .handling import AppOptions
    from .iolist import Fragment, Markup, escape, flatten
    from .launch import launch_arguments, run_app, serve_http
    from .multidict import Bag
    from .protocol import Limits
    from .request import Request
    from .response import Response
    from .routing import Router, Servlet
    from .server import Server
    from .static import StaticFolder
    from .templates import Template, TemplateFolder
    from .timeouts import Timeouts

# Each public name and the module it comes from, imported on first use: an
# app pays only for what it touches (``import kali`` alone costs almost
# nothing, and ``python -m kali`` never loads forms or templates).
_HOMES = {
    "forms": "",
    "implementation": "",
    "HTTPError": "errors",
    "ProtocolError": "errors",
    "FileUpload": "formdata",
    "AppOptions": "handling",
    "Fragment": "iolist",
    "Markup": "iolist",
    "escape": "iolist",
    "flatten": "iolist",
    "launch_arguments": "launch",
    "run_app": "launch",
    "serve_http": "launch",
    "Bag": "multidict",
    "Limits": "protocol",
    "Request": "request",
    "Response": "response",
    "Router": "routing",
    "Servlet": "routing",
    "Server": "server",
    "StaticFolder": "static",
    "Template": "templates",
    "TemplateFolder": "templates",
    "Timeouts": "timeouts",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'kali' has no attribute {name!r}")
    if home:
        value = getattr(importlib.import_module(f".{home}", __name__), name)
    else:  # a subpackage or module of its own
        value = importlib.import_module(f".{name}", __name__)
    globals()[name] = value  # the next use is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))


__all__ = [
    "launch_arguments",
    "run_app",
    "AppOptions",
    "Bag",
    "FileUpload",
    "Fragment",
    "HTTPError",
    "Limits",
    "Markup",
    "ProtocolError",
    "Request",
    "Response",
    "Router",
    "Server",
    "Servlet",
    "StaticFolder",
    "Template",
    "TemplateFolder",
    "Timeouts",
    "__version__",
    "escape",
    "flatten",
    "forms",
    "implementation",
    "serve_http",
    "version",
]
